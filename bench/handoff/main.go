// Command handoff measures how a table travels from one Python step to the
// next in a tarn run: step A (a real tarn worker) produces N GiB of
// int64/float64 columns, the worker writes them as an Arrow IPC file in the
// run's shared-memory directory, and step B (another worker) memory-maps
// that file. Against two baselines on the same bytes in the same run: a
// plain memcpy of every buffer (numpy), and a Parquet write + read.
//
//	go run ./bench/handoff [-sizes 1,4,8] [-reps 3] [-json]
//
// See README.md for how to read the figures.
package main

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/python"
	rt "github.com/tarnhq/tarn/runtime"
)

//go:embed py/*.py
var pyFiles embed.FS

const gib = int64(1) << 30

type config struct {
	sizes    []float64
	reps     int
	ncols    int
	sandbox  string
	pyVer    string
	numpy    string
	home     string
	pqDir    string
	headroom float64
}

var kit = benchkit.New("handoff")

func main() {
	var cfg config
	var sizes string
	fs := kit.Flags
	fs.StringVar(&sizes, "sizes", "1,4,8", "table sizes in GiB, comma-separated")
	fs.IntVar(&cfg.reps, "reps", 3, "repetitions per size (medians are reported)")
	fs.IntVar(&cfg.ncols, "cols", 8, "columns (alternately int64 and float64)")
	fs.StringVar(&cfg.sandbox, "sandbox", "auto", "auto: the strongest isolation the host offers (as tarn run); off: plain processes")
	fs.StringVar(&cfg.pyVer, "python", "3.11", "Python version of the environment")
	fs.StringVar(&cfg.numpy, "numpy", "2.4.6", "numpy pin of the environment (the producer builds its columns with numpy)")
	fs.StringVar(&cfg.home, "home", "", "lakehouse home for environments and the SDK (default: a temporary directory)")
	fs.StringVar(&cfg.pqDir, "parquet-dir", "", "where the Parquet baseline writes its file (default: the temporary directory, on disk)")
	fs.Float64Var(&cfg.headroom, "headroom", 1.5, "GiB of MemAvailable to keep free beyond the estimated peak; a size that does not fit is skipped")
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg, sizes) })
}

func run(ctx context.Context, cfg config, sizes string) error {
	for _, s := range strings.Split(sizes, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || v <= 0 {
			return benchkit.Usagef("-sizes: bad size %q", s)
		}
		cfg.sizes = append(cfg.sizes, v)
	}
	tmp, err := kit.WorkDir("")
	if err != nil {
		return err
	}
	if cfg.home == "" {
		cfg.home = filepath.Join(tmp, "home")
	}
	if cfg.pqDir == "" {
		cfg.pqDir = filepath.Join(tmp, "parquet")
	}
	b, err := setup(ctx, &cfg, tmp)
	if err != nil {
		return err
	}
	defer os.RemoveAll(b.shm)

	mem := startSampler()
	defer mem.stop()

	rep := &report{Machine: machine(), Isolation: string(b.iso.Isolation), Env: b.env.Dir, Python: b.env.Version,
		Columns: cfg.ncols, Reps: cfg.reps, ParquetDir: cfg.pqDir}
	for _, size := range cfg.sizes {
		sr := &sizeReport{GiB: size, TableBytes: int64(size*float64(gib)) / int64(8*cfg.ncols) * int64(8*cfg.ncols)}
		need := 2*size + cfg.headroom
		if avail := memAvailableGiB(); avail < need {
			sr.Skipped = fmt.Sprintf("needs about %.1f GiB free (producer: table + its IPC copy; copy baseline: file + copy) + %.1f GiB headroom, MemAvailable is %.1f GiB", 2*size, cfg.headroom, avail)
			kit.Logf("%g GiB: SKIPPED: %s", size, sr.Skipped)
			rep.Sizes = append(rep.Sizes, sr)
			continue
		}
		for r := 0; r < cfg.reps; r++ {
			kit.Logf("%g GiB, rep %d/%d", size, r+1, cfg.reps)
			s, err := b.oneRound(ctx, size, mem, r)
			if err != nil {
				return fmt.Errorf("%g GiB rep %d: %w", size, r+1, err)
			}
			sr.Samples = append(sr.Samples, s)
		}
		sr.summarize()
		rep.Sizes = append(rep.Sizes, sr)
	}
	rep.finish()
	return kit.Report(rep, rep.print)
}

// bench holds what every round reuses.
type bench struct {
	cfg     *config
	env     *rt.Env
	sdk     string
	iso     *rt.Sandbox
	project string
	shm     string
	scratch string
}

func setup(ctx context.Context, cfg *config, tmp string) (*bench, error) {
	b := &bench{cfg: cfg, project: filepath.Join(tmp, "project"), scratch: filepath.Join(tmp, "scratch")}
	for _, d := range []string{b.project, cfg.pqDir, b.scratch} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, n := range []string{"models.py", "baseline.py"} {
		data, _ := pyFiles.ReadFile("py/" + n)
		if err := os.WriteFile(filepath.Join(b.project, n), data, 0o644); err != nil {
			return nil, err
		}
	}
	var err error
	if b.sdk, err = python.Extract(filepath.Join(cfg.home, "sdk")); err != nil {
		return nil, err
	}
	uv, err := rt.FindUV(os.Getenv("TARN_UV"))
	if err != nil {
		return nil, err
	}
	em := &rt.EnvManager{Dir: filepath.Join(cfg.home, "envs"), UV: uv, SDKVersion: python.Version(), SDKDir: b.sdk} // as cmd/tarn does
	kit.Logf("environment: Python %s, numpy==%s (runtime.EnvManager.Ensure)", cfg.pyVer, cfg.numpy)
	if b.env, err = em.Ensure(ctx, rt.EnvSpec{Python: cfg.pyVer, Packages: map[string]string{"numpy": cfg.numpy}}, func(s string) { kit.Logf("%s", s) }); err != nil {
		return nil, err
	}
	iso := rt.IsolationNone
	if cfg.sandbox == "auto" {
		iso = ""
	}
	if b.iso, err = rt.NewSandbox(ctx, rt.SandboxConfig{StateDir: filepath.Join(cfg.home, "sandbox"), Isolation: iso}); err != nil {
		return nil, err
	}
	kit.Logf("isolation: %s", b.iso.Describe())
	if b.shm, err = rt.NewShmDir("bench-handoff"); err != nil {
		return nil, err
	}
	return b, nil
}

// sample is one round of one size.
type sample struct {
	TableBytes int64 `json:"table_bytes"`
	FileBytes  int64 `json:"ipc_file_bytes"`

	// tarn: A produces, B consumes
	ProduceGenS     float64 `json:"produce_gen_s"`        // A's user code building the table
	ProduceWriteS   float64 `json:"produce_write_s"`      // A's worker writing the IPC file (output_seconds)
	ProducerExitS   float64 `json:"producer_exit_s"`      // A's file complete -> RunWorker(A) returned (result JSON, interpreter teardown, freeing, exit)
	ConsumerStartS  float64 `json:"consumer_start_s"`     // RunWorker(B) called -> B's worker ready to read inputs (spawn, sandbox, interpreter, imports)
	ConsumerInputS  float64 `json:"consumer_input_s"`     // B: mmap + open_file + read_all (worker input_seconds)
	ConsumerImportS float64 `json:"consumer_import_s"`    // B: loading the user's module
	HandoffS        float64 `json:"handoff_s"`            // A's file complete -> B's first line of user code
	ConsumerTouchS  float64 `json:"consumer_touch_s"`     // B reading every byte once (page faults on the mapping)
	ConsumerHWM     int64   `json:"consumer_peak_rss"`    // B VmHWM (counts the mapped file)
	ConsumerPSS     int64   `json:"consumer_pss"`         // B Pss after reading everything
	ConsumerAnon    int64   `json:"consumer_anon"`        // B RssAnon (private memory)
	ShmFileBytes    int64   `json:"shm_file_bytes"`       // memory the IPC file takes in /dev/shm (st_blocks)
	Handoff         int64   `json:"handoff_memory"`       // shm file + B's private memory: the hand-off's footprint, shared pages once
	MachineHandoff  int64   `json:"machine_peak_handoff"` // shm file + rise of MemTotal-MemAvailable while B runs (noisy: the whole machine)
	Producer        int64   `json:"producer_memory"`      // A's private memory + the IPC file it wrote
	MachineProducer int64   `json:"machine_peak_producer"`

	// baseline (a): copy of every buffer
	CopyS       float64 `json:"copy_s"`
	CopyHWM     int64   `json:"copy_peak_rss"`
	CopyAnon    int64   `json:"copy_anon"`
	Copy        int64   `json:"copy_memory"` // source file + the copy process's private memory
	MachineCopy int64   `json:"machine_peak_copy"`

	// baseline (b): Parquet write + read
	PqWriteS    float64 `json:"parquet_write_s"`
	PqReadS     float64 `json:"parquet_read_s"`
	PqTouchS    float64 `json:"parquet_touch_s"`
	PqBytes     int64   `json:"parquet_bytes"`
	PqReadHWM   int64   `json:"parquet_reader_peak_rss"`
	PqRead      int64   `json:"parquet_read_memory"` // the reader's private memory (its page cache is reclaimable)
	MachinePqRd int64   `json:"machine_peak_parquet_read"`
	MachinePqWr int64   `json:"machine_peak_parquet_write"`
}

type benchLine map[string]any

func (l benchLine) f(k string) float64 {
	v, _ := l[k].(float64)
	return v
}

func (l benchLine) mem(k string) int64 {
	m, _ := l["mem"].(map[string]any)
	if m == nil {
		return 0
	}
	v, _ := m[k].(float64)
	return int64(v)
}

// runTarnStep runs one step with runtime.RunWorker, exactly as a tarn run
// does, and returns its result JSON and the BENCH line it printed.
func (b *bench) runTarnStep(ctx context.Context, spec *rt.StepSpec) (map[string]any, benchLine, error) {
	var line benchLine
	var mu sync.Mutex
	var tail []string
	_, err := rt.RunWorker(ctx, spec, rt.WorkerOptions{
		Env: b.env, SDKDir: b.sdk, Sandbox: b.iso, SpecDir: b.shm, WorkRoot: filepath.Join(b.shm, "work"),
		ProjectDir: b.project, Timeout: 30 * time.Minute,
		Output: func(s string) {
			mu.Lock()
			defer mu.Unlock()
			if benchkit.BenchLine(s, &line) {
				return
			}
			tail = append(tail, s)
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w\n%s", err, strings.Join(tail, "\n"))
	}
	var res map[string]any
	data, err := os.ReadFile(spec.Result)
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, nil, err
	}
	if line == nil {
		return nil, nil, fmt.Errorf("step %s printed no BENCH line", spec.Name)
	}
	return res, line, nil
}

func (b *bench) runBaseline(ctx context.Context, args ...string) (benchLine, error) {
	cmd := exec.CommandContext(ctx, b.env.Python, append([]string{filepath.Join(b.project, "baseline.py")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var line benchLine
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		benchkit.BenchLine(sc.Text(), &line)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("baseline %s: %v: %s", args[0], err, stderr.String())
	}
	if line == nil {
		return nil, fmt.Errorf("baseline %s printed no BENCH line: %s", args[0], stderr.String())
	}
	return line, nil
}

func num(m map[string]any, k string) float64 {
	v, _ := m[k].(float64)
	return v
}

func (b *bench) oneRound(ctx context.Context, size float64, mem *sampler, r int) (*sample, error) {
	s := &sample{}
	pq := filepath.Join(b.cfg.pqDir, "handoff.parquet")
	defer os.Remove(pq)

	// ---- tarn: A then B, the way a run hands over an upstream output ----
	settle()
	base := mem.level()
	mem.reset()
	specA := &rt.StepSpec{Kind: "model", ProjectDir: b.project, File: "models.py", Function: "produce", Name: "produce",
		Inputs: map[string]rt.InputSpec{}, Parameters: map[string]any{"gib": size, "ncols": b.cfg.ncols},
		Output: "produce.arrow"}
	resA, lineA, err := b.runTarnStep(ctx, specA)
	if err != nil {
		return nil, err
	}
	out := specA.Output // in A's worker directory, on /dev/shm
	defer os.RemoveAll(filepath.Dir(out))
	aReturned := time.Now()
	s.MachineProducer = mem.peak() - base
	s.TableBytes = int64(lineA.f("nbytes"))
	if st, err := os.Stat(out); err == nil {
		s.FileBytes = st.Size()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			s.ShmFileBytes = sys.Blocks * 512
		}
	}
	s.Producer = lineA.mem("RssAnon") + s.ShmFileBytes
	s.ProduceGenS = lineA.f("gen_seconds")
	s.ProduceWriteS = num(resA, "output_seconds")
	fileComplete := int64(num(resA, "started_at_ns")) + int64((num(resA, "seconds")+num(resA, "output_seconds"))*1e9)
	s.ProducerExitS = float64(aReturned.UnixNano()-fileComplete) / 1e9

	specB := &rt.StepSpec{Kind: "model", ProjectDir: b.project, File: "models.py", Function: "consume", Name: "consume",
		Inputs: map[string]rt.InputSpec{"data": {Path: out}}, Parameters: map[string]any{},
		Output: "consume.arrow"}
	lvlB := mem.level() // holds the shm file; A is gone
	mem.reset()
	bCalled := time.Now()
	resB, lineB, err := b.runTarnStep(ctx, specB)
	if err != nil {
		return nil, err
	}
	s.MachineHandoff = s.ShmFileBytes + mem.peak() - lvlB
	os.RemoveAll(filepath.Dir(specB.Output))
	s.ConsumerInputS = num(resB, "input_seconds")
	s.ConsumerImportS = num(resB, "import_seconds")
	firstLine := int64(lineB.f("first_line_ns"))
	s.HandoffS = float64(firstLine-fileComplete) / 1e9
	s.ConsumerStartS = float64(int64(num(resB, "started_at_ns"))-bCalled.UnixNano())/1e9 - s.ConsumerInputS - s.ConsumerImportS
	s.ConsumerTouchS = lineB.f("touch_seconds")
	s.ConsumerHWM = lineB.mem("VmHWM")
	s.ConsumerPSS = lineB.mem("Pss")
	s.ConsumerAnon = max(lineB.mem("RssAnon"), int64(lineB["mem_received"].(map[string]any)["RssAnon"].(float64)))
	s.Handoff = s.ShmFileBytes + s.ConsumerAnon
	if int64(lineB.f("nbytes")) != s.TableBytes {
		return nil, fmt.Errorf("consumer saw %v bytes, producer made %d", lineB["nbytes"], s.TableBytes)
	}

	// ---- baselines, on the same IPC file while it is still in /dev/shm ----
	// (a) copy every buffer; (b) Parquet write, then drop the shm file, then read.
	order := []string{"copy", "pqwrite"}
	if r%2 == 1 {
		order = []string{"pqwrite", "copy"}
	}
	for _, mode := range order {
		settle()
		lvl := mem.level() // includes the shm file: the copy's source
		mem.reset()
		switch mode {
		case "copy":
			l, err := b.runBaseline(ctx, "copy", out)
			if err != nil {
				return nil, err
			}
			s.MachineCopy = mem.peak() - lvl + s.ShmFileBytes // the source file counts: it is the handed-over data
			s.CopyS = l.f("copy_seconds")
			s.CopyHWM = l.mem("VmHWM")
			s.CopyAnon = l.mem("RssAnon")
			s.Copy = s.ShmFileBytes + s.CopyAnon
		case "pqwrite":
			l, err := b.runBaseline(ctx, "pqwrite", out, pq)
			if err != nil {
				return nil, err
			}
			s.MachinePqWr = mem.peak() - lvl
			s.PqWriteS = l.f("write_seconds")
		}
	}
	os.Remove(out) // a Parquet hand-off has no Arrow file in shared memory
	settle()
	lvl := mem.level()
	mem.reset()
	l, err := b.runBaseline(ctx, "pqread", pq)
	if err != nil {
		return nil, err
	}
	s.MachinePqRd = mem.peak() - lvl
	s.PqReadS = l.f("read_seconds")
	s.PqTouchS = l.f("touch_seconds")
	s.PqBytes = int64(l.f("parquet_bytes"))
	s.PqReadHWM = l.mem("VmHWM")
	s.PqRead = l.mem("RssAnon")
	kit.Logf("  handoff %.3fs (consumer read %.4fs), copy %.2fs, parquet %.2f+%.2fs; memory: tarn %.2f GiB (machine %.2f), copy %.2f (%.2f), parquet read %.2f (%.2f)",
		s.HandoffS, s.ConsumerInputS, s.CopyS, s.PqWriteS, s.PqReadS, gb(s.Handoff), gb(s.MachineHandoff), gb(s.Copy), gb(s.MachineCopy), gb(s.PqRead), gb(s.MachinePqRd))
	return s, nil
}

// settle lets the previous process's memory be returned before a level is taken.
func settle() { time.Sleep(300 * time.Millisecond) }

func gb(n int64) float64 { return float64(n) / float64(gib) }

// ---- machine memory sampler: MemTotal - MemAvailable every 2 ms ----

type sampler struct {
	max  atomic.Int64
	cur  atomic.Int64
	done chan struct{}
}

func startSampler() *sampler {
	s := &sampler{done: make(chan struct{})}
	s.cur.Store(memUsed())
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				u := memUsed()
				s.cur.Store(u)
				for {
					m := s.max.Load()
					if u <= m || s.max.CompareAndSwap(m, u) {
						break
					}
				}
			}
		}
	}()
	return s
}

func (s *sampler) stop()        { close(s.done) }
func (s *sampler) level() int64 { return memUsed() }
func (s *sampler) reset()       { s.max.Store(memUsed()) }
func (s *sampler) peak() int64  { return max(s.max.Load(), memUsed()) }

func meminfo() map[string]int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		out[k] = n * 1024
	}
	return out
}

func memUsed() int64 {
	m := meminfo()
	return m["MemTotal"] - m["MemAvailable"]
}

func memAvailableGiB() float64 { return gb(meminfo()["MemAvailable"]) }

func machine() string {
	m := meminfo()
	shm := ""
	if out, err := exec.Command("df", "-h", "--output=size", "/dev/shm").Output(); err == nil {
		f := strings.Fields(string(out))
		shm = f[len(f)-1]
	}
	return fmt.Sprintf("%d CPUs, %.1f GiB RAM (%.1f GiB available at start), /dev/shm %s", benchkit.CPUs(), gb(m["MemTotal"]), gb(m["MemAvailable"]), shm)
}

// ---- report ----

type sizeReport struct {
	GiB        float64   `json:"gib"`
	TableBytes int64     `json:"table_bytes"`
	Skipped    string    `json:"skipped,omitempty"`
	Samples    []*sample `json:"samples,omitempty"`
	Median     *sample   `json:"median,omitempty"`
	// ratios of medians
	CopyVsRead       float64 `json:"copy_s_over_consumer_read_s"`
	ParquetVsRead    float64 `json:"parquet_s_over_consumer_read_s"`
	CopyVsHandoff    float64 `json:"copy_s_over_handoff_s"`
	ParquetVsHandoff float64 `json:"parquet_s_over_handoff_s"`
	HandoffXTable    float64 `json:"handoff_memory_over_table"`
	MachineXTable    float64 `json:"machine_peak_handoff_over_table"`
	ConsumerXTable   float64 `json:"consumer_peak_rss_over_table"`
	CopyXTable       float64 `json:"copy_memory_over_table"`
	ParquetXTable    float64 `json:"parquet_read_memory_over_table"`
}

type report struct {
	Machine    string        `json:"machine"`
	Isolation  string        `json:"isolation"`
	Env        string        `json:"env"`
	Python     string        `json:"python"`
	Columns    int           `json:"columns"`
	Reps       int           `json:"reps"`
	ParquetDir string        `json:"parquet_dir"`
	Sizes      []*sizeReport `json:"sizes"`
	// flatness: largest size vs smallest size, for the consumer read and the whole hand-off
	ReadGrowth    float64 `json:"consumer_read_largest_over_smallest"`
	HandoffGrowth float64 `json:"handoff_largest_over_smallest"`
	SizeGrowth    float64 `json:"size_largest_over_smallest"`
	ReadMsPerGiB  float64 `json:"consumer_read_ms_per_gib"`
	CopyMsPerGiB  float64 `json:"copy_ms_per_gib"`
	TargetFlat    bool    `json:"target_flat_met"`
	TargetMemory  bool    `json:"target_memory_met"`
}

// medianField sets one field of m to its median over the samples; field
// returns the address of that field in a sample.
func medianField[T benchkit.Number](m *sample, samples []*sample, field func(*sample) *T) {
	var xs []T
	for _, s := range samples {
		xs = append(xs, *field(s))
	}
	*field(m) = benchkit.Median(xs)
}

func (sr *sizeReport) summarize() {
	m := &sample{}
	for _, g := range []func(*sample) *float64{
		func(s *sample) *float64 { return &s.ProduceGenS }, func(s *sample) *float64 { return &s.ProduceWriteS },
		func(s *sample) *float64 { return &s.ProducerExitS }, func(s *sample) *float64 { return &s.ConsumerStartS },
		func(s *sample) *float64 { return &s.ConsumerInputS }, func(s *sample) *float64 { return &s.ConsumerImportS },
		func(s *sample) *float64 { return &s.HandoffS }, func(s *sample) *float64 { return &s.ConsumerTouchS },
		func(s *sample) *float64 { return &s.CopyS }, func(s *sample) *float64 { return &s.PqWriteS },
		func(s *sample) *float64 { return &s.PqReadS }, func(s *sample) *float64 { return &s.PqTouchS },
	} {
		medianField(m, sr.Samples, g)
	}
	for _, g := range []func(*sample) *int64{
		func(s *sample) *int64 { return &s.TableBytes }, func(s *sample) *int64 { return &s.FileBytes },
		func(s *sample) *int64 { return &s.ConsumerHWM }, func(s *sample) *int64 { return &s.ConsumerPSS },
		func(s *sample) *int64 { return &s.ConsumerAnon }, func(s *sample) *int64 { return &s.MachineHandoff },
		func(s *sample) *int64 { return &s.MachineProducer }, func(s *sample) *int64 { return &s.CopyHWM },
		func(s *sample) *int64 { return &s.CopyAnon }, func(s *sample) *int64 { return &s.MachineCopy },
		func(s *sample) *int64 { return &s.PqBytes }, func(s *sample) *int64 { return &s.PqReadHWM },
		func(s *sample) *int64 { return &s.MachinePqRd }, func(s *sample) *int64 { return &s.MachinePqWr },
		func(s *sample) *int64 { return &s.ShmFileBytes }, func(s *sample) *int64 { return &s.Handoff },
		func(s *sample) *int64 { return &s.Producer }, func(s *sample) *int64 { return &s.Copy },
		func(s *sample) *int64 { return &s.PqRead },
	} {
		medianField(m, sr.Samples, g)
	}
	sr.Median = m
	sr.TableBytes = m.TableBytes
	t := float64(m.TableBytes)
	sr.CopyVsRead = m.CopyS / m.ConsumerInputS
	sr.ParquetVsRead = (m.PqWriteS + m.PqReadS) / m.ConsumerInputS
	sr.CopyVsHandoff = m.CopyS / m.HandoffS
	sr.ParquetVsHandoff = (m.PqWriteS + m.PqReadS) / m.HandoffS
	sr.HandoffXTable = float64(m.Handoff) / t
	sr.MachineXTable = float64(m.MachineHandoff) / t
	sr.ConsumerXTable = float64(m.ConsumerHWM) / t
	sr.CopyXTable = float64(m.Copy) / t
	sr.ParquetXTable = float64(m.PqRead) / t
}

func (r *report) finish() {
	var done []*sizeReport
	for _, s := range r.Sizes {
		if s.Median != nil {
			done = append(done, s)
		}
	}
	if len(done) < 1 {
		return
	}
	lo, hi := done[0], done[len(done)-1]
	r.SizeGrowth = hi.GiB / lo.GiB
	r.ReadGrowth = hi.Median.ConsumerInputS / lo.Median.ConsumerInputS
	r.HandoffGrowth = hi.Median.HandoffS / lo.Median.HandoffS
	// "flat": growing the table 8x may not grow the hand-off by more than 1.5x
	r.TargetFlat = len(done) > 1 && r.HandoffGrowth <= 1.5
	if hi.GiB > lo.GiB {
		r.ReadMsPerGiB = (hi.Median.ConsumerInputS - lo.Median.ConsumerInputS) * 1000 / (hi.GiB - lo.GiB)
		r.CopyMsPerGiB = (hi.Median.CopyS - lo.Median.CopyS) * 1000 / (hi.GiB - lo.GiB)
	}
	r.TargetMemory = true
	for _, s := range done {
		if s.HandoffXTable > 1.2 {
			r.TargetMemory = false
		}
	}
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "Hand-off of a table between two Python steps (tarn workers, isolation: %s)\n", r.Isolation)
	fmt.Fprintf(w, "machine: %s\nenvironment: %s (Python %s); %d columns int64/float64; %d reps per size, medians; Parquet file in %s\n\n",
		r.Machine, r.Env, r.Python, r.Columns, r.Reps, r.ParquetDir)
	for _, s := range r.Sizes {
		if s.Median == nil {
			fmt.Fprintf(w, "%g GiB: skipped: %s\n\n", s.GiB, s.Skipped)
			continue
		}
		m := s.Median
		fmt.Fprintf(w, "%g GiB table (%.2f GiB in Arrow, IPC file %.2f GiB)\n", s.GiB, gb(m.TableBytes), gb(m.FileBytes))
		fmt.Fprintf(w, "  time                                          median\n")
		fmt.Fprintf(w, "  tarn hand-off: A's file complete -> B's first line  %8.3fs\n", m.HandoffS)
		fmt.Fprintf(w, "    A: result JSON, interpreter exit, memory freed    %8.3fs\n", m.ProducerExitS)
		fmt.Fprintf(w, "    B: spawn, sandbox, interpreter, imports           %8.3fs\n", m.ConsumerStartS)
		fmt.Fprintf(w, "    B: input mmap + read_all (zero-copy)              %8.4fs\n", m.ConsumerInputS)
		fmt.Fprintf(w, "    B: user module import                             %8.4fs\n", m.ConsumerImportS)
		fmt.Fprintf(w, "  (a) memcpy of every buffer (numpy copy)             %8.3fs   = %6.1fx B's read, %5.2fx the whole hand-off\n", m.CopyS, s.CopyVsRead, s.CopyVsHandoff)
		fmt.Fprintf(w, "  (b) Parquet write + read (snappy, %.2f GiB file)     %8.3fs   = %6.1fx B's read, %5.2fx the whole hand-off  (write %.2fs, read %.2fs)\n",
			gb(m.PqBytes), m.PqWriteS+m.PqReadS, s.ParquetVsRead, s.ParquetVsHandoff, m.PqWriteS, m.PqReadS)
		fmt.Fprintf(w, "  not in the hand-off: A builds the table %.2fs, A's worker writes the IPC file %.2fs; B reads every byte once %.2fs (Parquet reader: %.2fs)\n",
			m.ProduceGenS, m.ProduceWriteS, m.ConsumerTouchS, m.PqTouchS)
		fmt.Fprintf(w, "  memory, GiB (x table): shared pages counted once\n")
		fmt.Fprintf(w, "    tarn hand-off: shm file %.2f + B private %.2f       = %6.2f (%4.2fx)   machine: %.2f (%4.2fx)   B peak RSS %.2f, PSS %.2f\n",
			gb(m.ShmFileBytes), gb(m.ConsumerAnon), gb(m.Handoff), s.HandoffXTable, gb(m.MachineHandoff), s.MachineXTable, gb(m.ConsumerHWM), gb(m.ConsumerPSS))
		fmt.Fprintf(w, "    (a) copy: source file %.2f + copy process private %.2f = %6.2f (%4.2fx)   machine: %.2f\n",
			gb(m.ShmFileBytes), gb(m.CopyAnon), gb(m.Copy), s.CopyXTable, gb(m.MachineCopy))
		fmt.Fprintf(w, "    (b) Parquet reader private (file gone from shm)      = %6.2f (%4.2fx)   machine: %.2f   (writer: machine +%.2f)\n",
			gb(m.PqRead), s.ParquetXTable, gb(m.MachinePqRd), gb(m.MachinePqWr))
		fmt.Fprintf(w, "    not in the hand-off: A while producing: private + IPC file = %.2f (%4.2fx)   machine: %.2f\n\n",
			gb(m.Producer), float64(m.Producer)/float64(m.TableBytes), gb(m.MachineProducer))
	}
	if r.SizeGrowth > 1 {
		fmt.Fprintf(w, "flatness, largest / smallest size (%.0fx the data): whole hand-off %.2fx -> target flat (<=1.5x): %s\n",
			r.SizeGrowth, r.HandoffGrowth, benchkit.Met(r.TargetFlat))
		fmt.Fprintf(w, "  B's read alone grows %.2fx: %+.2f ms per GiB (the memcpy baseline: %+.0f ms per GiB)\n", r.ReadGrowth, r.ReadMsPerGiB, r.CopyMsPerGiB)
	}
	fmt.Fprintf(w, "memory target (hand-off footprint: shm file + B private <= 1.2x table): %s\n", benchkit.Met(r.TargetMemory))
}
