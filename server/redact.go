package server

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tarnhq/tarn"
)

// A remote user never sees the server's paths: every message the server
// sends (errors, job records, run events) passes through redact, which
// names uploaded files as the client named them, drops export folders,
// and shows the home and the run scratch folders by role.
const (
	homeMark    = "<server home>"
	scratchMark = "<run scratch>"
)

// redactor rewrites server paths in messages; it is built once.
type redactor struct {
	uploads *regexp.Regexp // an upload's folder: UPLOADS/up-X/ and its project/ or N/ subfolder
	exports *regexp.Regexp // an export's folder: EXPORTS/JOB/
	home    *strings.Replacer
}

// runScratch matches the scratch folders of runs (/dev/shm/tarn-PID-RUN).
var runScratch = regexp.MustCompile(`/dev/shm/tarn-[^/\s"':]+`)

func newRedactor(home, uploads, exports string) *redactor {
	r := &redactor{
		uploads: regexp.MustCompile(regexp.QuoteMeta(filepath.Clean(uploads)) + `/up-[^/\s"']+/(?:project/|\d+/)?`),
		exports: regexp.MustCompile(regexp.QuoteMeta(filepath.Clean(exports)) + `/[^/\s"']+/`),
	}
	var pairs []string
	for _, h := range homeForms(home) {
		pairs = append(pairs, h, homeMark)
	}
	r.home = strings.NewReplacer(pairs...)
	return r
}

// homeForms is the home as given and with its links resolved, longest
// first (a message may name either).
func homeForms(home string) []string {
	if home == "" {
		return nil
	}
	forms := []string{filepath.Clean(home)}
	if real, err := filepath.EvalSymlinks(home); err == nil && real != forms[0] {
		forms = append(forms, real)
	}
	if len(forms) == 2 && len(forms[1]) > len(forms[0]) {
		forms[0], forms[1] = forms[1], forms[0]
	}
	return forms
}

// redact rewrites a message for a remote user.
func (r *redactor) redact(msg string) string {
	msg = r.uploads.ReplaceAllString(msg, "")
	msg = r.exports.ReplaceAllString(msg, "")
	msg = runScratch.ReplaceAllString(msg, scratchMark)
	return r.home.Replace(msg)
}

// redactErr returns err with its message redacted and capped, keeping
// its code (and its status, for a statusError).
func (r *redactor) redactErr(err error) error {
	msg := tarn.CapMessage(r.redact(err.Error()))
	if msg == err.Error() {
		return err
	}
	out := error(&tarn.Error{Code: tarn.ErrorCode(err), Message: msg, Err: err})
	var se *statusError
	if errors.As(err, &se) {
		out = &statusError{status: se.status, err: out}
	}
	return out
}

// redactJob returns a copy of j whose messages are redacted.
func (r *redactor) redactJob(j *tarn.Job) *tarn.Job {
	if j == nil {
		return nil
	}
	c := *j
	c.Summary = r.redact(c.Summary)
	if c.Error != nil {
		e := *c.Error
		e.Message = tarn.CapMessage(r.redact(e.Message))
		c.Error = &e
	}
	if c.Result != nil {
		res := *c.Result
		res.Error = r.redact(res.Error)
		if res.Steps != nil {
			res.Steps = make([]*tarn.StepReport, len(c.Result.Steps))
		}
		for i, s := range c.Result.Steps {
			step := *s
			step.Error, step.Reason = r.redact(step.Error), r.redact(step.Reason)
			res.Steps[i] = &step
		}
		c.Result = &res
	}
	return &c
}

// redactEvent returns e with its message redacted.
func (r *redactor) redactEvent(e tarn.RunEvent) tarn.RunEvent {
	e.Message = r.redact(e.Message)
	return e
}
