package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StepSpec is what a worker is asked to do (written as JSON for it).
type StepSpec struct {
	Kind       string               `json:"kind"` // model, expectation, sql
	ProjectDir string               `json:"project_dir"`
	File       string               `json:"file,omitempty"`
	Function   string               `json:"function,omitempty"`
	Name       string               `json:"name"`
	Inputs     map[string]InputSpec `json:"inputs"`
	Parameters map[string]any       `json:"parameters"`
	// Secrets are the values of the step's secret parameters, keyed like
	// Parameters. They are never written to a file: the worker reads them
	// on its standard input (or in a warm worker's hand-off), and they are
	// masked in everything it prints and reports. The spec names them.
	Secrets     map[string]string `json:"-"`
	SecretNames []string          `json:"secrets,omitempty"`
	SQL         string            `json:"sql,omitempty"`
	Output      string            `json:"output,omitempty"`
	Result      string            `json:"result"`
	// Store is the run's key-value store folder as the worker sees it
	// (tarn.store; set by RunWorker from WorkerOptions.StoreDir).
	Store       string `json:"store,omitempty"`
	MemoryLimit int64  `json:"memory_limit_bytes"`
	// AddressSpace, when set, is the RLIMIT_AS the worker sets before the
	// user code runs (where no cgroup bounds memory).
	AddressSpace int64 `json:"address_space_bytes,omitempty"`
}

// InputSpec is one input of a step: an Arrow IPC file, with the columns and
// filter still to apply (upstream outputs; exported lake inputs arrive
// filtered), or the Parquet data files of a lake input that the worker
// reads itself (Files, Schema), with the columns and filter to apply.
type InputSpec struct {
	Path    string   `json:"path,omitempty"`
	Columns []string `json:"columns"`
	Filter  *string  `json:"filter"`
	// Files are host paths of Parquet data files; the worker sees them
	// bound read-only where the spec it reads says (see
	// WorkerOptions.InputFiles, which must list them).
	Files []string `json:"files,omitempty"`
	// Schema is the table's Arrow schema (an IPC stream holding only the
	// schema) the files are read with.
	Schema []byte `json:"schema,omitempty"`
	// EstimatedBytes is the input's estimated size as Arrow: a worker
	// reads a whole table that may not fit its memory into a file on
	// disk, which it maps.
	EstimatedBytes int64 `json:"estimated_bytes,omitempty"`
}

// StepResult is what the worker reports.
type StepResult struct {
	OK          bool     `json:"ok"`
	Rows        int64    `json:"rows"`
	Columns     []Column `json:"columns"`
	Seconds     float64  `json:"seconds"`
	StartedAtNs int64    `json:"started_at_ns"`
	// WorkerStartedAtNs is when the worker began the step (after reading
	// its spec): from RunWorker's call to then is the hand-off.
	WorkerStartedAtNs int64 `json:"worker_started_at_ns"`
	// OutputBytes is the output file's size, OutputChecksum its checksum
	// computed as it was written ("sum64:HEX", see cache.Sum64).
	OutputBytes    int64  `json:"output_bytes"`
	OutputChecksum string `json:"output_checksum,omitempty"`
	// Profile is the worker's account of its phases.
	Profile WorkerProfile `json:"profile"`
	// PeakAnonBytes is the most anonymous memory the worker's processes
	// held together, sampled (set by RunWorker).
	PeakAnonBytes int64  `json:"-"`
	Passed        *bool  `json:"passed,omitempty"`
	Message       string `json:"message,omitempty"`
	ErrorType     string `json:"error_type,omitempty"`
	Traceback     string `json:"traceback,omitempty"`
	UserFile      string `json:"user_file,omitempty"`
	UserLine      int    `json:"user_line,omitempty"`
	// Status is the worker's /proc/self/status as it ran the step
	// (capabilities, uid, no_new_privs, seccomp), checked against the
	// sandbox's promise.
	Status string `json:"proc_status,omitempty"`
	// Output is the path of the output file on the host (set by RunWorker).
	Output string `json:"-"`
}

// WorkerProfile is what a worker measured of a step: reading its inputs,
// importing the model's file, the user's code and writing the output.
type WorkerProfile struct {
	Read struct {
		Seconds      float64 `json:"seconds"`
		Rows         int64   `json:"rows"`
		Bytes        int64   `json:"bytes"`
		Files        int     `json:"files"`
		SpooledBytes int64   `json:"spooled_bytes"`
		WholeBytes   int64   `json:"whole_bytes"` // lake inputs decoded whole into memory
	} `json:"read"`
	Import struct {
		Seconds float64 `json:"seconds"`
	} `json:"import"`
	Code struct {
		Seconds float64 `json:"seconds"`
	} `json:"code"`
	Write struct {
		Seconds float64 `json:"seconds"`
		Rows    int64   `json:"rows"`
		Bytes   int64   `json:"bytes"`
	} `json:"write"`
}

// Column is an output column as the worker saw it.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// WorkerOptions configure one worker process. Everything but Timeout,
// Output and Pool is fixed when a worker starts: a warm worker of the pool
// serves a step only if it was started with the same options.
type WorkerOptions struct {
	Env        *Env
	SDKDir     string   // directory holding the tarn package
	Sandbox    *Sandbox // how the worker is confined (nil: a plain process)
	ProjectDir string   // readable by the worker
	// SpecDir is where step specs are written (readable by the worker).
	SpecDir string
	// WorkRoot is where each worker gets a directory of its own, the only
	// place it may write (besides a private /tmp in bubblewrap): its
	// output, its result, and outside bubblewrap its scratch files. Other
	// workers' directories under it are readable (upstream outputs).
	WorkRoot string
	ReadOnly []string // more directories the worker reads (e.g. the cache's entries)
	// InputFiles are files the worker reads (a lake input's data files):
	// in bubblewrap each is bound read-only at a path of its own under
	// /tarn/lake (see InputFilePath), nothing else of its folder.
	InputFiles []string
	// StoreDir, when set, is the run's key-value store (tarn.store): every
	// worker of the run may write it.
	StoreDir string
	Limits   Limits // memory, processes, disk (Inputs is set per step)
	// Network gives the worker the network: through Egress when set (a
	// server's policy), else the host's own.
	Network bool
	Egress  *Egress
	Timeout time.Duration
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
	Reason string // failed, crashed, timeout, memory, disk, isolation
	Msg    string
	Result *StepResult
}

func (e *StepError) Error() string { return e.Msg }

// defaultTimeout applies to a step that sets none.
const defaultTimeout = 10 * time.Minute

// sandboxWorkDir is where a worker's own directory appears in bubblewrap.
const sandboxWorkDir = "/tarn/work"

// sandboxStore is where the run's store appears in bubblewrap.
const sandboxStore = "/tarn/store"

// RunWorker runs one step in its own process and waits for it. It returns
// a *StepError when the user code fails, crashes, times out or exhausts
// its memory or disk; the process and its children are gone when it
// returns. The result's Output is the output file's path.
//
// With o.Pool set, a warm worker of the pool that matches o runs the step
// (the result and the errors are the same as from a cold worker); without
// one the step starts cold.
func RunWorker(ctx context.Context, spec *StepSpec, o WorkerOptions) (*StepResult, error) {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	o.Limits.Inputs = inputBytes(spec)
	if o.Sandbox != nil && !o.Sandbox.limits.cgrouped() {
		spec.AddressSpace = addressSpace(o.Limits)
	}
	if o.Pool != nil {
		if res, served, err := o.Pool.serve(ctx, spec, o); served {
			return res, err
		}
	}
	wd, err := newWorkDir(o)
	if err != nil {
		return nil, err
	}
	defer wd.removeScratch()
	specPath, err := writeSpec(spec, o, wd)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	argv, env, files, err := workerCommand(o, wd, specPath)
	if err != nil {
		return nil, err
	}
	stdin, err := secretsInput(spec.Secrets)
	if err != nil {
		closeAll(files)
		return nil, err
	}
	p, err := startProcess(procConfig{argv: argv, env: env, dir: wd.scratch, stdin: stdin, extra: files, sandbox: o.Sandbox, limits: o.Limits,
		mask: NewMasker(secretValues(spec.Secrets)...)})
	if err != nil {
		return nil, fmt.Errorf("start worker for %s: %w", spec.Name, err)
	}
	p.handOver(o.Output)
	p.watchDisk(wd.host, o.Limits.Disk)
	p.watchMemory(o.Limits.Memory)
	return p.finish(ctx, runCtx, spec, o, wd)
}

// secretsLine is the line a cold worker reads on standard input when its
// spec names secrets (python/tarn/_worker.py).
type secretsLine struct {
	Secrets map[string]string `json:"secrets"`
}

// secretsInput is the standard input of a cold worker: a pipe holding the
// step's secrets, nil (/dev/null) when it has none.
func secretsInput(secrets map[string]string) (*os.File, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	line, _ := json.Marshal(secretsLine{Secrets: secrets})
	go func() { // a worker that dies first breaks the pipe: the write ends
		w.Write(append(line, '\n'))
		w.Close()
	}()
	return r, nil
}

// workDir is a worker's own directory: host is its path on the host,
// inside the path the worker sees it at. Its scratch directory (tmp/, on
// the host's disk) is the worker's /tmp in bubblewrap.
type workDir struct {
	host, inside string
	scratch      string // host path of the scratch directory
	sandboxed    bool   // in bubblewrap: scratch is /tmp inside
}

func bubblewrapped(o WorkerOptions) bool {
	return o.Sandbox != nil && o.Sandbox.Isolation == IsolationBubblewrap
}

// newWorkDir creates the directory of one worker, owned by the sandbox uid.
func newWorkDir(o WorkerOptions) (*workDir, error) {
	if o.WorkRoot == "" {
		return nil, errors.New("worker options lack WorkRoot")
	}
	if err := os.MkdirAll(o.WorkRoot, 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.WorkRoot, "w-")
	if err != nil {
		return nil, err
	}
	os.Chmod(dir, 0o755)
	wd := &workDir{host: dir, inside: dir, scratch: filepath.Join(dir, "tmp")}
	if bubblewrapped(o) {
		wd.inside, wd.sandboxed = sandboxWorkDir, true
	}
	if err := os.Mkdir(wd.scratch, 0o700); err != nil {
		return nil, err
	}
	if err := o.Sandbox.Own(dir, wd.scratch); err != nil {
		return nil, err
	}
	return wd, nil
}

// scratchInside is the worker's scratch directory as it sees it.
func (wd *workDir) scratchInside() string {
	if wd.sandboxed {
		return "/tmp"
	}
	return wd.scratch
}

// removeScratch deletes the scratch files of a finished worker (its
// output stays for the steps downstream).
func (wd *workDir) removeScratch() {
	if wd != nil {
		os.RemoveAll(wd.scratch)
	}
}

// toHost maps a path the worker wrote to the host's.
func (wd *workDir) toHost(p string) string {
	if rel, ok := strings.CutPrefix(p, wd.inside+"/"); ok {
		return filepath.Join(wd.host, rel)
	}
	return p
}

// writeSpec points the spec's output and result into the worker's
// directory and writes it where the worker reads it.
func writeSpec(spec *StepSpec, o WorkerOptions, wd *workDir) (string, error) {
	s := *spec
	if s.Output != "" {
		s.Output = filepath.Join(wd.inside, filepath.Base(s.Output))
	}
	if len(o.InputFiles) > 0 {
		s.Inputs = make(map[string]InputSpec, len(spec.Inputs))
		inside := inputFileBinds(o)
		for k, in := range spec.Inputs {
			if len(in.Files) > 0 {
				files := make([]string, len(in.Files))
				for i, f := range in.Files {
					p, ok := inside[f]
					if !ok {
						return "", fmt.Errorf("input %s: file %s is not among the worker's input files", k, f)
					}
					files[i] = p
				}
				in.Files = files
			}
			s.Inputs[k] = in
		}
	}
	s.Result = filepath.Join(wd.inside, "result.json")
	if o.StoreDir != "" {
		s.Store = o.StoreDir
		if wd.sandboxed {
			s.Store = sandboxStore
		}
	}
	s.SecretNames = nil
	for k := range spec.Secrets {
		s.SecretNames = append(s.SecretNames, k)
	}
	sort.Strings(s.SecretNames)
	spec.Result = filepath.Join(wd.host, "result.json")
	if s.Output != "" {
		spec.Output = wd.toHost(s.Output)
	}
	if o.SpecDir == "" {
		return "", errors.New("worker options lack SpecDir")
	}
	data, _ := json.Marshal(s)
	p := filepath.Join(o.SpecDir, filepath.Base(wd.host)+"-"+spec.Name+".spec.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return "", err
	}
	return p, nil
}

// inputBytes is the size of the files a step maps.
func inputBytes(spec *StepSpec) int64 {
	var n int64
	for _, in := range spec.Inputs {
		if fi, err := os.Stat(in.Path); err == nil && in.Path != "" {
			n += fi.Size()
		}
		n += in.EstimatedBytes // a lake input the worker may map from a file it writes
	}
	return n
}

// sandboxLake is where a worker's input files appear in bubblewrap.
const sandboxLake = "/tarn/lake"

// InputFilePath is where the i-th of a worker's input files appears in
// bubblewrap: a name of its own, so that no host path is shown.
func InputFilePath(i int, host string) string {
	return fmt.Sprintf("%s/%05d-%s", sandboxLake, i, filepath.Base(host))
}

// inputFileBinds maps each input file to the path the worker reads it at
// (its own path without bubblewrap, where nothing is bound).
func inputFileBinds(o WorkerOptions) map[string]string {
	m := make(map[string]string, len(o.InputFiles))
	for i, f := range o.InputFiles {
		if bubblewrapped(o) {
			m[f] = InputFilePath(i, f)
		} else {
			m[f] = f
		}
	}
	return m
}

// workDirToken stands for a worker's own directory in the command line
// that keys the pool: every worker gets a directory of its own.
const workDirToken = "\x00work-dir\x00"

// workerCommand is the command line and environment of a worker in wd
// (workDirToken for the pool's key) and the descriptors it needs from 3
// on; workerArgs follow `python -m tarn._worker`. Everything fixed when a
// worker starts (a directory bound into the sandbox, say) must be set
// here: the warm pool's key is this command line and environment.
func workerCommand(o WorkerOptions, wd *workDir, workerArgs ...string) (argv, env []string, files []*os.File, err error) {
	argv = append([]string{o.Env.Python, "-m", "tarn._worker"}, workerArgs...)
	readOnly := append([]string{o.Env.Prefix, o.Env.Dir, o.SDKDir, o.ProjectDir, o.SpecDir, o.WorkRoot}, o.ReadOnly...)
	if !wd.sandboxed {
		readOnly = append(readOnly, o.InputFiles...) // nothing to bind, but listed as read
	}
	c := Confinement{
		ReadOnly: readOnly,
		Network:  o.Network,
		Limits:   o.Limits,
		Workdir:  wd.scratchInside(),
	}
	if wd.sandboxed {
		if len(o.InputFiles) > 0 {
			c.Files = map[string]string{}
			for host, inside := range inputFileBinds(o) {
				c.Files[inside] = host
			}
		}
		c.Binds = map[string]string{sandboxWorkDir: wd.host}
		if o.StoreDir != "" {
			c.Binds[sandboxStore] = o.StoreDir
		}
		c.Tmp = wd.scratch
	} else if o.StoreDir != "" {
		c.Writable = append(c.Writable, o.StoreDir)
	}
	env = workerEnv(o, wd.scratchInside())
	if o.Network && o.Egress != nil && bubblewrapped(o) {
		argv, env = o.Egress.confine(&c, argv, env, o.Env.Python, o.SDKDir)
	}
	argv, files, err = o.Sandbox.Wrap(c, argv, 3+len(workerArgsFDs(workerArgs)))
	return argv, env, files, err
}

// workerArgsFDs are the descriptors a worker's arguments name (a warm
// worker's status pipe), which come before the sandbox's own.
func workerArgsFDs(args []string) []string {
	if len(args) == 2 && args[0] == "--warm" {
		return args[1:]
	}
	return nil
}

// workerProcess is a started worker: its process group, its limits and
// the pumps of its output. Lines printed before handOver are kept and
// passed on then.
type workerProcess struct {
	cmd     *exec.Cmd
	group   *limitGroup
	exited  chan struct{} // closed once the output is drained and the process reaped
	waitErr error         // cmd.Wait's error, set before exited is closed

	mu       sync.Mutex
	mask     *Masker // hides the step's secrets in every line it prints
	tail     []string
	output   func(line string)
	handed   bool
	pending  []string
	overDisk int64 // bytes written when the disk watch killed it (0: it did not)
	// peakAnon is the most anonymous memory seen (watchMemory);
	// overMemory what it held when the watch killed it (0: it did not).
	peakAnon, overMemory int64
}

// procConfig says how to start a worker process.
type procConfig struct {
	argv, env []string
	dir       string
	stdin     *os.File   // nil: /dev/null
	extra     []*os.File // descriptors 3, 4, ...
	waitFor   []func()   // run beside the process; done before it counts as exited
	sandbox   *Sandbox   // whose limits apply (nil: none)
	limits    Limits
	mask      *Masker // hides secrets in the output (see setMask)
}

// startProcess starts a worker in its own process group (and cgroup,
// where the sandbox has them), killed if tarn dies. The caller's copies
// of c.stdin and c.extra are closed once the process has them.
func startProcess(c procConfig) (*workerProcess, error) {
	defer closeAll(append([]*os.File{c.stdin}, c.extra...)) // the process holds its own copies
	argv := c.argv
	p := &workerProcess{exited: make(chan struct{}), mask: c.mask}
	if c.sandbox != nil {
		group, prefix, err := c.sandbox.limits.prepare(c.limits, c.sandbox.UID)
		if err != nil {
			return nil, fmt.Errorf("set the limits of a worker: %w", err)
		}
		p.group, argv = group, append(prefix, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	p.cmd = cmd
	cmd.Dir = c.dir
	cmd.Env = c.env
	if c.stdin != nil {
		cmd.Stdin = c.stdin
	}
	cmd.ExtraFiles = c.extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		p.group.remove()
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		p.group.remove()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		p.group.remove()
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

// watchDisk kills the worker once the files under dir hold more than
// limit bytes (0: no limit), checking every quarter second until it exits.
// RLIMIT_FSIZE already caps each file; this caps them all together.
func (p *workerProcess) watchDisk(dir string, limit int64) {
	if limit <= 0 {
		return
	}
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.exited:
				return
			case <-tick.C:
			}
			if n := dirBytes(dir, limit); n > limit {
				p.mu.Lock()
				p.overDisk = n
				p.mu.Unlock()
				p.killAll()
				return
			}
		}
	}()
}

// dirBytes sums the sizes of the files under dir, stopping once past limit.
func dirBytes(dir string, limit int64) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			n += fi.Size()
		}
		if n > limit {
			return filepath.SkipAll
		}
		return nil
	})
	return n
}

func (p *workerProcess) pump(wg *sync.WaitGroup, r io.Reader) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		p.mu.Lock()
		line := p.mask.Mask(sc.Text()) // a line whole: a value split across writes is masked too
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

// setMask hides m's values in the lines the worker prints from now on (a
// warm worker gets its step's secrets at the hand-off).
func (p *workerProcess) setMask(m *Masker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mask = m
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

// killAll kills the process group and the cgroup (the worker and
// anything it started, also what left its process group).
func (p *workerProcess) killAll() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.group.kill()
}

// kill kills the worker and everything it started, waits until the
// worker is reaped and removes its cgroup.
func (p *workerProcess) kill() {
	p.killAll()
	<-p.exited
	p.group.remove()
}

// finish waits for a worker in wd that runs spec until it exits or runCtx
// ends, kills what is left of it and reads its result.
func (p *workerProcess) finish(ctx, runCtx context.Context, spec *StepSpec, o WorkerOptions, wd *workDir) (*StepResult, error) {
	select {
	case <-p.exited:
	case <-runCtx.Done():
	}
	oom := p.group.oomKilled()
	p.kill() // no worker child left behind
	waitErr := p.waitErr
	p.mu.Lock()
	tail := append([]string(nil), p.tail...)
	overDisk, overMemory, peakAnon := p.overDisk, p.overMemory, p.peakAnon
	p.mu.Unlock()
	res, rerr := readResult(spec.Result)
	if rerr == nil {
		res.PeakAnonBytes = peakAnon
		m := NewMasker(secretValues(spec.Secrets)...)
		res.Message, res.Traceback, res.ErrorType = m.Mask(res.Message), m.Mask(res.Traceback), m.Mask(res.ErrorType)
		if spec.Output != "" {
			res.Output = spec.Output
			if err := o.Sandbox.Disown(spec.Output); errors.Is(err, ErrNotWritten) {
				rerr = err
			}
		}
	}
	switch {
	case errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return nil, &StepError{Step: spec.Name, Reason: "timeout", Msg: fmt.Sprintf("step %s timed out after %s and was killed (raise @tarn.resources(timeout=...))", spec.Name, o.Timeout)}
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(rerr, ErrNotWritten):
		return nil, &StepError{Step: spec.Name, Reason: "isolation", Msg: fmt.Sprintf("step %s left something else than the files it writes: %v; nothing of the step is used", spec.Name, rerr)}
	case overDisk > 0:
		return nil, &StepError{Step: spec.Name, Reason: "disk", Msg: fmt.Sprintf("step %s wrote more than its disk limit of %s (%s) and was killed", spec.Name, formatBytes(o.Limits.Disk), formatBytes(overDisk))}
	case overMemory > 0:
		return nil, &StepError{Step: spec.Name, Reason: "memory", Msg: fmt.Sprintf("step %s ran out of memory: its processes held %s of their own (anonymous) memory, over its limit of %s, and were killed (raise @tarn.resources(memory=...))%s", spec.Name, formatBytes(overMemory), formatBytes(o.Limits.Memory), lastLines(tail))}
	case oom:
		return nil, &StepError{Step: spec.Name, Reason: "memory", Msg: fmt.Sprintf("step %s ran out of memory: it reached its limit of %s (shared memory and /tmp files count) and was killed (raise @tarn.resources(memory=...))%s", spec.Name, formatBytes(o.Limits.Memory), lastLines(tail))}
	case rerr == nil && !res.OK:
		reason, msg := "failed", fmt.Sprintf("step %s failed: %s: %s", spec.Name, res.ErrorType, res.Message)
		if res.UserFile != "" {
			where := res.UserFile
			if res.UserLine > 0 {
				where = fmt.Sprintf("%s:%d", res.UserFile, res.UserLine)
			}
			msg = fmt.Sprintf("step %s failed at %s: %s: %s", spec.Name, where, res.ErrorType, res.Message)
		}
		switch errno := errnoOf(res.Message); {
		case res.ErrorType == "MemoryError" || errno == syscall.ENOMEM:
			reason = "memory"
			msg = fmt.Sprintf("step %s ran out of memory: %s (raise @tarn.resources(memory=...))", spec.Name, res.Message)
		case errno == syscall.ENOSPC:
			reason = "disk"
			msg += fmt.Sprintf(" (the step's /dev/shm holds at most %s; or the disk under its /tmp is full)", formatBytes(shmSize(o.Limits)))
		case errno == syscall.EFBIG:
			reason = "disk"
			msg += fmt.Sprintf(" (a file a step writes may hold at most %s)", formatBytes(o.Limits.Disk))
		case errno == syscall.EAGAIN && o.Limits.Processes > 0:
			msg += fmt.Sprintf(" (if it came from starting a process or thread: a step may run at most %d)", o.Limits.Processes)
		}
		return res, &StepError{Step: spec.Name, Reason: reason, Msg: msg, Result: res}
	case rerr == nil:
		if err := o.Sandbox.checkWorker(res); err != nil {
			return nil, &StepError{Step: spec.Name, Reason: "isolation", Msg: fmt.Sprintf("step %s ran with weaker isolation than this server requires: %v; its result is discarded", spec.Name, err)}
		}
		return res, nil // ok; for an expectation, Passed says whether it held (the worker exits 3 when not)
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
	// Exit status 0 without a result: user code ended the process itself
	// (os._exit(0), or a C library calling exit).
	return nil, &StepError{Step: spec.Name, Reason: "crashed", Msg: fmt.Sprintf("step %s exited without a result: the process ended (exit status 0) before the model returned, e.g. by os._exit() or a library calling exit()%s", spec.Name, lastLines(tail))}
}

// errnoOf finds the error number of a Python OSError message ("[Errno 28] No space left on device").
func errnoOf(msg string) syscall.Errno {
	_, rest, ok := strings.Cut(msg, "[Errno ")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "]")
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0
	}
	return syscall.Errno(n)
}

// maxResult bounds a worker's result document (messages, tracebacks and
// figures: far smaller).
const maxResult = 16 << 20

// readResult reads a worker's result file: a regular file the worker
// wrote (never through a link it left there), of at most maxResult.
func readResult(path string) (*StepResult, error) {
	f, err := OpenWritten(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxResult+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxResult {
		return nil, fmt.Errorf("%w: %s is larger than %s", ErrNotWritten, filepath.Base(path), formatBytes(maxResult))
	}
	var res StepResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// formatBytes renders a size for messages: 1.5 GiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
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
		"USER=tarn",
	}
	for _, k := range []string{"TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
