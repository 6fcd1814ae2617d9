package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PoolOptions size a Pool. Zero values take the defaults.
type PoolOptions struct {
	// PerKey is how many idle workers are kept for one set of start
	// options (default 1).
	PerKey int
	// MaxIdle bounds the idle workers of all keys together (default: twice
	// the number of cores, at least 4). An idle worker costs memory, not
	// CPU; MinFreeMemory guards the memory.
	MaxIdle int
	// IdleTimeout is how long a worker waits for a step before it is
	// killed (default 60 s).
	IdleTimeout time.Duration
	// MinFreeMemory: no worker is started ahead of need while the
	// machine's available memory is below it (default 1 GiB). A warm
	// worker with pyarrow imported holds about 60 MB.
	MinFreeMemory int64
}

// Pool keeps warm workers: worker processes started ahead of need in
// their sandbox, with the interpreter up and pyarrow and tarn imported,
// waiting for a step on stdin. A warm worker runs one step exactly as a
// cold one would and exits. Each Prewarm announces one step to come: the
// pool starts a worker in the background for a step announced and not yet
// served, and none beyond (on 2 cores, a worker nobody will use starting
// beside a step slows that step). Workers are keyed by everything fixed
// when the process starts (its command line and environment: interpreter, environment,
// isolation, network, every directory bound into the sandbox, its limits);
// each has a directory of its own for its output. The step's spec and
// timeout are applied when it is handed over.
//
// Idle workers are killed after IdleTimeout, when the pool is closed, and
// when tarn dies (as every worker: parent-death signal, bubblewrap's
// --die-with-parent). A Pool is safe for concurrent use; create one with
// NewPool. A nil *Pool holds no workers: Prewarm and Close do nothing.
type Pool struct {
	opts PoolOptions

	mu       sync.Mutex
	idle     map[string][]*warmWorker
	starting map[string]int
	wanted   map[string]int // steps announced by Prewarm and not yet served, per key
	count    int            // idle and starting, all keys
	closed   bool
	starts   sync.WaitGroup // reserved starts not yet done: Close waits for them
}

// warmWorker is a started worker waiting for its step.
type warmWorker struct {
	wd     *workDir // its own directory (output, result, scratch)
	proc   *workerProcess
	stdin  *os.File      // the hand-off is written here
	ready  chan struct{} // closed when its imports are done
	took   chan struct{} // closed when it has read the hand-off
	expiry *time.Timer
}

// handoff is the line a warm worker reads on stdin (python/tarn/_worker.py).
type handoff struct {
	Spec    string            `json:"spec"`
	Scratch string            `json:"scratch"`
	Secrets map[string]string `json:"secrets,omitempty"` // the values of the spec's secrets
}

// NewPool returns an empty pool.
func NewPool(opts PoolOptions) *Pool {
	if opts.PerKey <= 0 {
		opts.PerKey = 1
	}
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = max(4, 2*goruntime.NumCPU())
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = time.Minute
	}
	if opts.MinFreeMemory == 0 {
		opts.MinFreeMemory = 1 << 30
	}
	return &Pool{opts: opts, idle: map[string][]*warmWorker{}, starting: map[string]int{}, wanted: map[string]int{}}
}

// warmCommand is the command line and environment of a warm worker for
// o in wd, and the pool key: two option sets share workers exactly when
// they start the same process (up to the worker's own directory) with the
// same limits.
func warmCommand(o WorkerOptions, wd *workDir) (argv, env []string, files []*os.File, key string, err error) {
	argv, env, files, err = workerCommand(o, wd, "--warm", "3") // descriptor 3: the status pipe
	if err != nil {
		return nil, nil, nil, "", err
	}
	keyArgv, keyEnv, keyFiles, _ := workerCommand(o, keyWorkDir(o), "--warm", "3")
	closeAll(keyFiles)
	key = strings.Join(keyArgv, "\x00") + "\x00\x00" + strings.Join(keyEnv, "\x00") + "\x00\x00" + fmt.Sprint(o.Limits.Memory, o.Limits.Processes, o.Limits.Disk)
	return argv, env, files, key, nil
}

// poolKey is the key of the warm workers that can serve o.
func poolKey(o WorkerOptions) string {
	_, _, files, key, _ := warmCommand(o, keyWorkDir(o))
	closeAll(files)
	return key
}

// keyWorkDir is the stand-in for a worker's own directory in its key.
func keyWorkDir(o WorkerOptions) *workDir {
	wd := &workDir{host: workDirToken, inside: workDirToken, scratch: workDirToken + "/tmp"}
	if bubblewrapped(o) {
		wd.inside, wd.sandboxed = sandboxWorkDir, true
	}
	return wd
}

// Prewarm announces a step that will run with o and starts a warm worker
// for it, unless the pool already holds one for every step of o announced
// and not yet served, holds PerKey of them, holds MaxIdle in all, is
// closed, or the machine is short of memory. It returns once the process
// is started, not when its imports are done (see Ready). A step that
// takes a worker while more steps of o are announced has one started in
// its place (see refill).
func (p *Pool) Prewarm(o WorkerOptions) error {
	if p == nil {
		return nil
	}
	key := poolKey(o)
	p.mu.Lock()
	p.wanted[key]++
	p.mu.Unlock()
	if !p.reserve(key) {
		return nil
	}
	return p.start(o, key)
}

// served counts one announced step of key as served (warm or cold).
func (p *Pool) served(key string) {
	p.mu.Lock()
	if p.wanted[key] > 0 {
		p.wanted[key]--
	}
	p.mu.Unlock()
}

// refill starts a worker for o in the background if a step of o is still
// to come; best effort: if it fails, that step starts cold. The worker
// counts as starting (see Ready) when refill returns.
func (p *Pool) refill(o WorkerOptions) {
	key := poolKey(o)
	if p.reserve(key) {
		go p.start(o, key)
	}
}

// reserve counts a worker for key as starting, if a step announced for key
// has no worker yet and there is room for it; the caller then calls start.
func (p *Pool) reserve(key string) bool {
	if !p.affordable() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pending := len(p.idle[key]) + p.starting[key]
	if p.closed || pending >= p.wanted[key] || pending >= p.opts.PerKey || p.count >= p.opts.MaxIdle {
		return false
	}
	p.starting[key]++
	p.count++
	p.starts.Add(1) // Close waits for this start
	return true
}

// start starts the worker reserved for key and adds it to the idle ones.
func (p *Pool) start(o WorkerOptions, key string) error {
	defer p.starts.Done()
	w, err := startWarm(o)
	p.mu.Lock()
	p.starting[key]--
	if err != nil || p.closed {
		p.count--
		p.mu.Unlock()
		if err != nil {
			return fmt.Errorf("start a warm worker for environment %s: %w", o.Env.Dir, err)
		}
		w.release() // the pool was closed meanwhile
		return nil
	}
	p.idle[key] = append(p.idle[key], w)
	w.expiry = time.AfterFunc(p.opts.IdleTimeout, func() {
		if p.remove(key, w) {
			w.release()
		}
	})
	p.mu.Unlock()
	go func() { // a worker that dies while idle leaves the pool
		<-w.proc.exited
		if p.remove(key, w) {
			w.release() // its group, if anything of it is left
		}
	}()
	return nil
}

// startWarm starts a worker for o that imports what every step needs and
// waits for a hand-off on stdin; it reports on descriptor 3 ('R' ready,
// 'S' took the step).
func startWarm(o WorkerOptions) (*warmWorker, error) {
	wd, err := newWorkDir(o)
	if err != nil {
		return nil, fmt.Errorf("create a worker directory: %w", err)
	}
	argv, env, files, _, err := warmCommand(o, wd)
	if err != nil {
		os.RemoveAll(wd.host)
		return nil, err
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		closeAll(files)
		os.RemoveAll(wd.host)
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		closeAll(append(files, stdinR, stdinW))
		os.RemoveAll(wd.host)
		return nil, err
	}
	w := &warmWorker{wd: wd, stdin: stdinW, ready: make(chan struct{}), took: make(chan struct{})}
	readStatus := func() {
		defer statusR.Close()
		br := bufio.NewReader(statusR)
		for {
			b, err := br.ReadByte()
			if err != nil {
				return
			}
			switch b {
			case 'R':
				close(w.ready)
			case 'S':
				close(w.took)
				return
			}
		}
	}
	w.proc, err = startProcess(procConfig{argv: argv, env: env, dir: wd.scratch, stdin: stdinR, extra: append([]*os.File{statusW}, files...),
		waitFor: []func(){readStatus}, sandbox: o.Sandbox, limits: o.Limits})
	if err != nil {
		statusR.Close()
		stdinW.Close()
		os.RemoveAll(wd.host)
		return nil, err
	}
	return w, nil
}

// release kills an idle worker that will serve no step and removes its
// directory.
func (w *warmWorker) release() {
	w.proc.kill()
	os.RemoveAll(w.wd.host)
}

// take removes an idle, living worker for key from the pool.
func (p *Pool) take(key string) *warmWorker {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle[key]) > 0 {
		w := p.idle[key][0]
		p.idle[key] = p.idle[key][1:]
		p.count--
		w.expiry.Stop()
		select {
		case <-w.proc.exited: // died idle: its watcher has nothing left to do
			continue
		default:
			return w
		}
	}
	return nil
}

// remove takes w out of the idle list of key; false if it was not there
// (handed to a step, or already removed).
func (p *Pool) remove(key string, w *warmWorker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.idle[key] {
		if x == w {
			p.idle[key] = append(p.idle[key][:i:i], p.idle[key][i+1:]...)
			p.count--
			return true
		}
	}
	return false
}

// serve runs spec on a warm worker for o. served is false when the pool
// had none, or the worker died before it took the step: the caller then
// starts the step cold.
func (p *Pool) serve(ctx context.Context, spec *StepSpec, o WorkerOptions) (res *StepResult, served bool, err error) {
	key := poolKey(o)
	p.served(key)
	w := p.take(key)
	if w == nil {
		p.refill(o) // the key is in use: the next step of it finds a worker
		return nil, false, nil
	}
	specPath, err := writeSpec(spec, o, w.wd)
	if err != nil {
		w.release()
		return nil, true, err
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	w.proc.setMask(NewMasker(secretValues(spec.Secrets)...)) // before the worker has them
	line, _ := json.Marshal(handoff{Spec: specPath, Scratch: w.wd.scratchInside(), Secrets: spec.Secrets})
	_, werr := w.stdin.Write(append(line, '\n'))
	w.stdin.Close()
	if werr != nil {
		w.release()
		p.refill(o)
		return nil, false, nil
	}
	select {
	case <-w.took:
	case <-w.proc.exited:
		select {
		case <-w.took: // took it and ended at once; the status pipe is drained before exited
		default:
			w.release()
			p.refill(o)
			return nil, false, nil // died before it read the step: nothing of the step ran
		}
	case <-runCtx.Done(): // finish reports the timeout or cancellation
	}
	p.refill(o) // once the step has its worker: no competition with the hand-off
	w.proc.handOver(o.Output)
	w.proc.watchDisk(w.wd.host, o.Limits.Disk)
	w.proc.watchMemory(o.Limits.Memory)
	defer w.wd.removeScratch()
	res, err = w.proc.finish(ctx, runCtx, spec, o, w.wd)
	return res, true, err
}

// Ready waits until an idle worker for o has finished its imports. It is
// for benchmarks and tests; a step does not need to wait for it.
func (p *Pool) Ready(ctx context.Context, o WorkerOptions) error {
	key := poolKey(o)
	for {
		p.mu.Lock()
		pending := len(p.idle[key]) + p.starting[key]
		ready := false
		for _, w := range p.idle[key] {
			select {
			case <-w.ready:
				ready = true
			default:
			}
		}
		p.mu.Unlock()
		if ready {
			return nil
		}
		if pending == 0 {
			return errors.New("no warm worker is starting for these options (call Prewarm first)")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Idle returns the number of workers waiting for a step (those still
// starting included), over all keys.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// Close kills every idle worker and waits until they are gone; later
// steps start cold. Workers already running a step finish it. Close is
// idempotent.
func (p *Pool) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.starts.Wait() // a worker started meanwhile sees closed and is killed
	p.mu.Lock()
	var all []*warmWorker
	for _, ws := range p.idle {
		all = append(all, ws...)
	}
	p.idle, p.count = map[string][]*warmWorker{}, 0
	p.mu.Unlock()
	for _, w := range all {
		w.expiry.Stop()
		w.release()
	}
	return nil
}

// affordable says whether the machine has the memory for one more idle
// worker (true when it cannot tell).
func (p *Pool) affordable() bool {
	if p.opts.MinFreeMemory < 0 {
		return true
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return true
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return err != nil || kb*1024 >= p.opts.MinFreeMemory
		}
	}
	return true
}
