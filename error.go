package tarn

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Error codes. Every error a service returns to a user carries one of them;
// the CLI maps them to exit codes and the server to HTTP statuses in one
// table each.
const (
	ECONFLICT     = "conflict"     // a concurrent or merge conflict; retrying may help
	EEXISTS       = "exists"       // the thing to create already exists
	EINTERNAL     = "internal"     // a bug or an environment failure
	EINVALID      = "invalid"      // bad input: names, refs, files, flags
	ENOTFOUND     = "not_found"    // unknown ref, table, namespace, commit
	EUNAUTHORIZED = "unauthorized" // missing or bad credentials
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed
	ECANCELLED    = "cancelled"    // stopped by `tarn job cancel`, a client that went away or a server stopping
)

// Resources: the kinds of thing an error can be about (Error.Resource).
// A client tells a missing branch from a missing table by them, without
// reading messages.
const (
	ResourceBranch    = "branch"
	ResourceTag       = "tag"
	ResourceRef       = "ref" // a name that is no branch, tag or commit
	ResourceCommit    = "commit"
	ResourceNamespace = "namespace"
	ResourceTable     = "table"
	ResourceJob       = "job"
	ResourceUser      = "user"
)

// Reasons say more precisely than a code what went wrong (Error.Reason).
const (
	ReasonMergeConflict = "merge_conflict" // ECONFLICT: the same table changed on both sides of a merge
	ReasonNotEmpty      = "not_empty"      // EINVALID: a namespace to drop still has tables
)

// Error is an application error with a code and a user-facing message.
// Wrapped errors keep their chain so errors.Is keeps working.
type Error struct {
	Code string
	// Resource, when set, is the kind of thing the error is about (one of
	// the Resource* names): with ENOTFOUND the kind that was not found,
	// with EEXISTS the kind that exists already.
	Resource string
	// Reason, when set, is one of the Reason* names.
	Reason  string
	Message string
	Err     error
}

// About sets the kind of thing the error is about and returns e.
func (e *Error) About(resource string) *Error {
	e.Resource = resource
	return e
}

// Because sets the reason of the error and returns e.
func (e *Error) Because(reason string) *Error {
	e.Reason = reason
	return e
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the wrapped error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code; a %w verb in format wraps
// its argument.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorResource returns the resource err is about: that of the first
// *Error in its chain naming one, among those carrying err's code (so an
// error wrapping another under a different code is not about the other's
// resource); "" when none does.
func ErrorResource(err error) string {
	return errorDetail(err, func(e *Error) string { return e.Resource })
}

// ErrorReason returns the reason of err, found as ErrorResource finds
// the resource.
func ErrorReason(err error) string {
	return errorDetail(err, func(e *Error) string { return e.Reason })
}

func errorDetail(err error, field func(*Error) string) string {
	code := ErrorCode(err)
	for err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Code != code {
			return ""
		}
		if v := field(e); v != "" {
			return v
		}
		err = e.Err
	}
	return ""
}

// ErrorMessage returns the full message of err (context phrases included).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }

// quotedMax is how many bytes of an input Quote keeps.
const quotedMax = 64

// Quote returns s quoted for a message (as %q does), cut to its first 64
// bytes (whole characters) with its length when it is longer: a message
// names the input it refuses without echoing a long one whole.
func Quote(s string) string {
	if len(s) <= quotedMax {
		return strconv.Quote(s)
	}
	cut := quotedMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// MaxMessage caps the error messages a server sends (see CapMessage).
const MaxMessage = 8 << 10

// CapMessage cuts a message to MaxMessage bytes (whole characters), saying
// how much was left out: a last resort for messages that quote what they
// were given.
func CapMessage(msg string) string {
	if len(msg) <= MaxMessage {
		return msg
	}
	cut := MaxMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (message cut: %d more bytes)", msg[:cut], len(msg)-cut)
}
