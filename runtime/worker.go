package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tarnhq/tarn"
)

// StepSpec is what a worker is asked to do (written as JSON for it).
type StepSpec struct {
	Kind        string               `json:"kind"` // model, expectation, sql
	ProjectDir  string               `json:"project_dir"`
	File        string               `json:"file,omitempty"`
	Function    string               `json:"function,omitempty"`
	Name        string               `json:"name"`
	Inputs      map[string]InputSpec `json:"inputs"`
	Parameters  map[string]any       `json:"parameters"`
	SQL         string               `json:"sql,omitempty"`
	Output      string               `json:"output,omitempty"`
	Result      string               `json:"result"`
	MemoryLimit int64                `json:"memory_limit_bytes"`
}

// InputSpec is one input of a step: an Arrow IPC file, with the columns and
// filter still to apply (for upstream outputs; lake inputs arrive filtered).
type InputSpec struct {
	Path    string   `json:"path"`
	Columns []string `json:"columns"`
	Filter  *string  `json:"filter"`
}

// StepResult is what the worker reports.
type StepResult struct {
	OK          bool     `json:"ok"`
	Rows        int64    `json:"rows"`
	Columns     []Column `json:"columns"`
	Seconds     float64  `json:"seconds"`
	StartedAtNs int64    `json:"started_at_ns"`
	Passed      *bool    `json:"passed,omitempty"`
	Message     string   `json:"message,omitempty"`
	ErrorType   string   `json:"error_type,omitempty"`
	Traceback   string   `json:"traceback,omitempty"`
	UserFile    string   `json:"user_file,omitempty"`
	UserLine    int      `json:"user_line,omitempty"`
}

// Column is an output column as the worker saw it.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// WorkerOptions configure one worker process.
type WorkerOptions struct {
	Env            *Env
	SDKDir         string // directory holding the tarn package
	Isolation      Isolation
	Scratch        string   // the step's own scratch directory (created)
	ShmDir         string   // the run's shared-memory directory
	HideDir        string   // hidden from the worker (the lakehouse home)
	ProjectDir     string   // readable by the worker
	ReadOnly       []string // more directories the worker reads (e.g. the cache's entries)
	Writable       []string // more directories the worker writes (e.g. the run's output directory)
	Timeout        time.Duration
	InternetAccess bool
	// Output receives each line the user code prints (stdout and stderr).
	Output func(line string)
}

// StepError is a failed step: why, in words a user can act on.
type StepError struct {
	Step   string
	Reason string // failed, crashed, timeout, memory
	Msg    string
	Result *StepResult
}

func (e *StepError) Error() string { return e.Msg }

// RunWorker runs one step in its own process and waits for it. It returns
// a *StepError when the user code fails, crashes, times out or exhausts
// its memory; the process and its children are gone when it returns.
func RunWorker(ctx context.Context, spec *StepSpec, o WorkerOptions) (*StepResult, error) {
	if err := os.MkdirAll(o.Scratch, 0o755); err != nil {
		return nil, err
	}
	specPath := filepath.Join(o.ShmDir, spec.Name+"."+spec.Kind+".spec.json")
	data, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		return nil, err
	}
	argv := []string{o.Env.Python, "-m", "tarn._worker", specPath}
	argv = sandboxArgs(o.Isolation, sandboxOptions{
		network:  o.InternetAccess,
		hide:     o.HideDir,
		readOnly: append([]string{o.Env.Dir, o.SDKDir, o.ProjectDir}, o.ReadOnly...),
		writable: append([]string{o.Scratch, o.ShmDir}, o.Writable...),
		workdir:  o.Scratch,
	}, argv)
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = o.Scratch
	cmd.Env = workerEnv(o)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker for %s: %w", spec.Name, err)
	}
	var wg sync.WaitGroup
	var outMu sync.Mutex
	var tail []string
	pump := func(r io.Reader) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			line := sc.Text()
			outMu.Lock()
			tail = append(tail, line)
			if len(tail) > 40 {
				tail = tail[1:]
			}
			if o.Output != nil {
				o.Output(line)
			}
			outMu.Unlock()
		}
	}
	wg.Add(2)
	go pump(stdout)
	go pump(stderr)
	done := make(chan error, 1)
	go func() {
		wg.Wait()
		done <- cmd.Wait()
	}()
	var waitErr error
	select {
	case waitErr = <-done:
	case <-runCtx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		waitErr = <-done
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // no worker child left behind
	var res StepResult
	resData, rerr := os.ReadFile(spec.Result)
	if rerr == nil {
		rerr = json.Unmarshal(resData, &res)
	}
	switch {
	case errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return nil, &StepError{Step: spec.Name, Reason: "timeout", Msg: fmt.Sprintf("step %s timed out after %s and was killed (raise @tarn.resources(timeout=...))", spec.Name, o.Timeout)}
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case rerr == nil && !res.OK:
		reason, msg := "failed", fmt.Sprintf("step %s failed: %s: %s", spec.Name, res.ErrorType, res.Message)
		if res.UserFile != "" {
			msg = fmt.Sprintf("step %s failed at %s:%d: %s: %s", spec.Name, res.UserFile, res.UserLine, res.ErrorType, res.Message)
		}
		if res.ErrorType == "MemoryError" {
			reason = "memory"
			msg = fmt.Sprintf("step %s ran out of memory: %s (raise @tarn.resources(memory=...))", spec.Name, res.Message)
		}
		return &res, &StepError{Step: spec.Name, Reason: reason, Msg: msg, Result: &res}
	case rerr == nil:
		return &res, nil // ok; for an expectation, Passed says whether it held (the worker exits 3 when not)
	}
	// No usable result: the process died.
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		var sig syscall.Signal
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = ws.Signal()
		} else if code := ee.ExitCode(); code > 128 && code < 160 {
			sig = syscall.Signal(code - 128) // a sandbox (bwrap, unshare) reports its child's fatal signal as 128+N
		}
		if sig != 0 {
			reason, hint := "crashed", ""
			if sig == syscall.SIGKILL {
				reason, hint = "memory", " (most likely the kernel's out-of-memory killer; raise @tarn.resources(memory=...))"
			}
			return nil, &StepError{Step: spec.Name, Reason: reason, Msg: fmt.Sprintf("step %s crashed: killed by signal %s%s%s", spec.Name, sigName(sig), hint, lastLines(tail))}
		}
		return nil, &StepError{Step: spec.Name, Reason: "crashed", Msg: fmt.Sprintf("step %s exited with code %d without a result%s", spec.Name, ee.ExitCode(), lastLines(tail))}
	}
	if waitErr != nil {
		return nil, fmt.Errorf("worker for %s: %w", spec.Name, waitErr)
	}
	return nil, tarn.Errorf(tarn.EINTERNAL, "worker for %s wrote no result: %v%s", spec.Name, rerr, lastLines(tail))
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGSEGV:
		return "SIGSEGV (segmentation fault)"
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGABRT:
		return "SIGABRT (abort)"
	case syscall.SIGBUS:
		return "SIGBUS"
	}
	return s.String()
}

func lastLines(tail []string) string {
	if len(tail) == 0 {
		return ""
	}
	if len(tail) > 10 {
		tail = tail[len(tail)-10:]
	}
	return "\n  last output:\n    " + strings.Join(tail, "\n    ")
}

// workerEnv is the scrubbed environment of a worker: no credentials, no
// TARN_* variables, only what Python needs.
func workerEnv(o WorkerOptions) []string {
	env := []string{
		"PATH=" + filepath.Join(o.Env.Dir, "bin") + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + o.Scratch,
		"TMPDIR=" + o.Scratch,
		"PYTHONPATH=" + o.SDKDir,
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"VIRTUAL_ENV=" + o.Env.Dir,
		"LANG=C.UTF-8",
	}
	for _, k := range []string{"TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
