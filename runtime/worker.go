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
	Env       *Env
	SDKDir    string // directory holding the tarn package
	Isolation Isolation
	Scratch   string // the step's own scratch directory (created)
	// ScratchRoot holds the scratch directories of steps (default: the
	// parent of Scratch). A warm worker is started with the root bound
	// read-write and moves into the step's directory when handed the step.
	ScratchRoot    string
	ShmDir         string   // the run's shared-memory directory
	HideDir        string   // hidden from the worker (the lakehouse home)
	ProjectDir     string   // readable by the worker
	ReadOnly       []string // more directories the worker reads (e.g. the cache's entries)
	Writable       []string // more directories the worker writes (e.g. the run's output directory)
	Timeout        time.Duration
	InternetAccess bool
	// Output receives each line the user code prints (stdout and stderr).
	Output func(line string)
	// Pool, when set, provides a warm worker for the step if it holds one
	// started with the same options (see Pool); otherwise the step starts
	// cold, as without a pool.
	Pool *Pool
}

// StepError is a failed step: why, in words a user can act on.
type StepError struct {
	Step   string
	Reason string // failed, crashed, timeout, memory
	Msg    string
	Result *StepResult
}

func (e *StepError) Error() string { return e.Msg }

// defaultTimeout applies to a step that sets none.
const defaultTimeout = 10 * time.Minute

// RunWorker runs one step in its own process and waits for it. It returns
// a *StepError when the user code fails, crashes, times out or exhausts
// its memory; the process and its children are gone when it returns.
//
// With o.Pool set, a warm worker of the pool that matches o runs the step
// (the result and the errors are the same as from a cold worker); without
// one the step starts cold.
func RunWorker(ctx context.Context, spec *StepSpec, o WorkerOptions) (*StepResult, error) {
	if err := os.MkdirAll(o.Scratch, 0o755); err != nil {
		return nil, err
	}
	specPath := filepath.Join(o.ShmDir, spec.Name+"."+spec.Kind+".spec.json")
	data, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Pool != nil {
		if res, served, err := o.Pool.serve(ctx, spec, specPath, o); served {
			return res, err
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	argv, env := workerCommand(o, o.Scratch, specPath)
	p, err := startProcess(procConfig{argv: argv, env: env, dir: o.Scratch})
	if err != nil {
		return nil, fmt.Errorf("start worker for %s: %w", spec.Name, err)
	}
	p.handOver(o.Output)
	return p.finish(ctx, runCtx, spec, o.Timeout)
}

// workerCommand is the command line and environment of a worker whose
// scratch directory (bound read-write, the working directory) is scratch;
// workerArgs follow `python -m tarn._worker`. Everything fixed when a
// worker starts (a directory bound into the sandbox, say) must be set
// here: the warm pool's key is this command line and environment.
func workerCommand(o WorkerOptions, scratch string, workerArgs ...string) (argv, env []string) {
	argv = append([]string{o.Env.Python, "-m", "tarn._worker"}, workerArgs...)
	argv = sandboxArgs(o.Isolation, sandboxOptions{
		network:  o.InternetAccess,
		hide:     o.HideDir,
		readOnly: append([]string{o.Env.Dir, o.SDKDir, o.ProjectDir}, o.ReadOnly...),
		writable: append([]string{scratch, o.ShmDir}, o.Writable...),
		workdir:  scratch,
	}, argv)
	return argv, workerEnv(o, scratch)
}

// workerProcess is a started worker: its process group and the pumps of
// its output. Lines printed before handOver are kept and passed on then.
type workerProcess struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the output is drained and the process reaped
	waitErr error         // cmd.Wait's error, set before exited is closed

	mu      sync.Mutex
	tail    []string
	output  func(line string)
	handed  bool
	pending []string
}

// procConfig says how to start a worker process.
type procConfig struct {
	argv, env []string
	dir       string
	stdin     *os.File   // nil: /dev/null
	extra     []*os.File // descriptors 3, 4, ...
	waitFor   []func()   // run beside the process; done before it counts as exited
}

// startProcess starts a worker in its own process group, killed if tarn
// dies. The caller's copies of c.stdin and c.extra are closed once the
// process has them.
func startProcess(c procConfig) (*workerProcess, error) {
	argv := c.argv
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	if c.stdin != nil {
		cmd.Stdin = c.stdin
	}
	cmd.ExtraFiles = c.extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	defer func() { // the process holds its own copies
		for _, f := range append([]*os.File{c.stdin}, c.extra...) {
			if f != nil {
				f.Close()
			}
		}
	}()
	p := &workerProcess{cmd: cmd, exited: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(2 + len(c.waitFor))
	go p.pump(&wg, stdout)
	go p.pump(&wg, stderr)
	for _, f := range c.waitFor {
		go func() { defer wg.Done(); f() }()
	}
	go func() {
		wg.Wait()
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *workerProcess) pump(wg *sync.WaitGroup, r io.Reader) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > 40 {
			p.tail = p.tail[1:]
		}
		switch {
		case !p.handed:
			p.pending = append(p.pending, line)
		case p.output != nil:
			p.output(line)
		}
		p.mu.Unlock()
	}
}

// handOver sends the lines printed so far, and every later one, to output.
func (p *workerProcess) handOver(output func(line string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handed, p.output = true, output
	if output != nil {
		for _, line := range p.pending {
			output(line)
		}
	}
	p.pending = nil
}

// kill kills the process group (the worker and anything it started) and
// waits until the worker is reaped.
func (p *workerProcess) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// finish waits for a worker that runs spec until it exits or runCtx ends,
// kills what is left of it and reads its result.
func (p *workerProcess) finish(ctx, runCtx context.Context, spec *StepSpec, timeout time.Duration) (*StepResult, error) {
	select {
	case <-p.exited:
	case <-runCtx.Done():
	}
	p.kill() // no worker child left behind
	waitErr := p.waitErr
	p.mu.Lock()
	tail := append([]string(nil), p.tail...)
	p.mu.Unlock()
	var res StepResult
	resData, rerr := os.ReadFile(spec.Result)
	if rerr == nil {
		rerr = json.Unmarshal(resData, &res)
	}
	switch {
	case errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return nil, &StepError{Step: spec.Name, Reason: "timeout", Msg: fmt.Sprintf("step %s timed out after %s and was killed (raise @tarn.resources(timeout=...))", spec.Name, timeout)}
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case rerr == nil && !res.OK:
		reason, msg := "failed", fmt.Sprintf("step %s failed: %s: %s", spec.Name, res.ErrorType, res.Message)
		if res.UserFile != "" {
			where := res.UserFile
			if res.UserLine > 0 {
				where = fmt.Sprintf("%s:%d", res.UserFile, res.UserLine)
			}
			msg = fmt.Sprintf("step %s failed at %s: %s: %s", spec.Name, where, res.ErrorType, res.Message)
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
// TARN_* variables, only what Python needs; HOME and TMPDIR are scratch.
func workerEnv(o WorkerOptions, scratch string) []string {
	env := []string{
		"PATH=" + filepath.Join(o.Env.Dir, "bin") + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + scratch,
		"TMPDIR=" + scratch,
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
