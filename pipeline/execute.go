package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tarnhq/tarn"
	rt "github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/table"
)

// execution is the state of one run while its steps execute.
type execution struct {
	r      *Runner
	p      *Project
	plan   *Plan
	opts   RunOptions
	params map[string]any // resolved values; secrets are not among them
	// secrets are the opened secret parameters the steps use: only a step
	// that uses one gets its value, and every message shows it as ***.
	secrets *runSecrets
	envs    map[string]*rt.Env
	shm     string
	// outDir holds step outputs when the run has a cache: on its file
	// system, so storing them is a hard link, and in the page cache, which
	// is zero-copy to map like /dev/shm, several times faster to write on
	// hosts without huge pages for tmpfs, and reclaimable (bench/loop).
	outDir string
	// workRoot holds the directories of the run's workers (outputs,
	// results): outDir, or a folder of shm without a cache.
	workRoot string
	// storeDir is the run's key-value store (tarn.store), in workRoot.
	storeDir string
	head     *tarn.Commit
	session  *table.Session
	res      *tarn.RunResult

	keys     map[string]string // step -> cache key
	lakeMeta map[string]string // table@ref -> metadata location

	mu           sync.Mutex
	outputs      map[string]string // model -> Arrow file
	exports      map[string]*exportOnce
	planned      map[string]*plannedInput
	steps        []*tarn.StepReport
	byName       map[string]*tarn.StepReport
	materialized int

	// Materializations run beside the DAG: a downstream step reads its
	// input's Arrow file, not the table, so it need not wait for the
	// Parquet writes. fail records the first error and cancels the run.
	writes sync.WaitGroup
	fail   func(error)
}

type exportOnce struct {
	once sync.Once
	path string
	rows int64
	err  error
}

func (ex *execution) reports() []*tarn.StepReport { return ex.steps }

// emit sends a run event with the run's secrets masked.
func (ex *execution) emit(e tarn.RunEvent) {
	e.Message = ex.secrets.mask.Mask(e.Message)
	ex.r.emit(e)
}

// hideSecrets masks the run's secrets in its result and error.
func (ex *execution) hideSecrets(res *tarn.RunResult, err error) error {
	m := ex.secrets.mask
	if m == nil {
		return err
	}
	for _, st := range res.Steps {
		st.Error = m.Mask(st.Error)
	}
	if err != nil {
		if msg := m.Mask(err.Error()); msg != err.Error() {
			return &tarn.Error{Code: tarn.ErrorCode(err), Message: msg}
		}
	}
	return err
}

// execute runs models (in parallel, dependencies first) then expectations.
// A failed model (or materialization) cancels every step still running
// or waiting (cancelled); a step whose input failed never starts
// (skipped). A failed expectation cancels nothing: every expectation that
// can run does, so one run reports every broken rule. The error lists
// every failure.
func (ex *execution) execute(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ex.byName = map[string]*tarn.StepReport{}
	all := append(append([]*Step{}, ex.plan.Steps...), ex.plan.Expectations...)
	for _, st := range all {
		rep := &tarn.StepReport{Name: st.Model.Name, Kind: st.Model.Kind, State: tarn.StepQueued}
		if st.Materialized() {
			rep.Table = st.Output.String()
		}
		ex.steps = append(ex.steps, rep)
		ex.byName[stepKey(st)] = rep
		ex.emit(tarn.RunEvent{Kind: tarn.EventStep, Step: st.Model.Name, State: tarn.StepQueued})
	}
	done := map[string]chan struct{}{}
	for _, st := range all {
		done[stepKey(st)] = make(chan struct{})
	}
	sem := make(chan struct{}, parallelism(ex.r.Parallel))
	var wg sync.WaitGroup
	failures := &failureList{cancel: cancel}
	ex.fail = func(err error) { failures.add(err, true) }
	for _, st := range all {
		wg.Add(1)
		go func(st *Step) {
			defer wg.Done()
			defer close(done[stepKey(st)])
			rep := ex.byName[stepKey(st)]
			deps := st.Deps
			for _, d := range deps {
				select {
				case <-done[d]:
				case <-ctx.Done():
				}
			}
			if ex.depFailed(deps) {
				ex.setState(rep, tarn.StepSkipped, "")
				return
			}
			if ctx.Err() != nil {
				ex.setState(rep, tarn.StepCancelled, "")
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				ex.setState(rep, tarn.StepCancelled, "")
				return
			}
			defer func() { <-sem }()
			if err := ex.runStep(ctx, st, rep); err != nil {
				if ctx.Err() != nil && errors.Is(err, context.Canceled) {
					ex.setState(rep, tarn.StepCancelled, "")
					return
				}
				ex.setState(rep, tarn.StepFailed, err.Error())
				failures.add(err, st.Model.Kind != "expectation")
			}
		}(st)
	}
	wg.Wait()
	ex.writes.Wait()
	if err := failures.err(); err != nil {
		return err
	}
	return ctx.Err()
}

// failureList collects the failures of a run's steps.
type failureList struct {
	mu     sync.Mutex
	errs   []error
	cancel func()
}

// add records a failure; stop cancels the steps still running.
func (f *failureList) add(err error, stop bool) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
	if stop {
		f.cancel()
	}
}

// err is the run's error: its one failure, or all of them.
func (f *failureList) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch len(f.errs) {
	case 0:
		return nil
	case 1:
		return f.errs[0]
	}
	lines := make([]string, len(f.errs))
	for i, err := range f.errs {
		lines[i] = "  - " + strings.ReplaceAll(err.Error(), "\n", "\n    ")
	}
	code := tarn.ErrorCode(f.errs[0])
	return tarn.Errorf(code, "%d steps failed:\n%s", len(f.errs), strings.Join(lines, "\n"))
}

func stepKey(st *Step) string {
	if st.Model.Kind == "expectation" {
		return "expectation:" + st.Model.Name
	}
	return st.Model.Name
}

// depFailed says whether a dependency failed, or was skipped for a
// failure of its own inputs: the step is then skipped, never started.
func (ex *execution) depFailed(deps []string) bool {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, d := range deps {
		if st := ex.byName[d].State; st == tarn.StepFailed || st == tarn.StepSkipped {
			return true
		}
	}
	return false
}

func (ex *execution) setState(rep *tarn.StepReport, state, msg string) {
	ex.mu.Lock()
	rep.State = state
	if msg != "" {
		rep.Error = msg
	}
	ex.mu.Unlock()
	ex.emit(tarn.RunEvent{Kind: tarn.EventStep, Step: rep.Name, StepKind: rep.Kind, State: state, Rows: rep.Rows, Duration: rep.Duration, Saved: rep.Saved, Message: msg})
}

// runStep prepares the inputs of a step, runs its worker and materializes
// its output.
func (ex *execution) runStep(ctx context.Context, st *Step, rep *tarn.StepReport) error {
	m := st.Model
	if ex.serveCached(ctx, st, rep) {
		return nil
	}
	start := time.Now()
	inputs := map[string]rt.InputSpec{}
	var profile []tarn.StepPhase
	var files []string
	for _, li := range st.Lake {
		in, phase, err := ex.lakeInput(ctx, li)
		if err != nil {
			return err
		}
		inputs[li.Param] = in // for SQL models, the name the SQL uses
		files = append(files, in.Files...)
		profile = append(profile, phase)
	}
	for _, up := range st.Upstream {
		ex.mu.Lock()
		path := ex.outputs[up.Model]
		ex.mu.Unlock()
		in := rt.InputSpec{Path: path, Columns: up.Columns}
		if up.Filter != "" {
			f := up.Filter
			in.Filter = &f
		}
		inputs[up.Param] = in
	}
	params, secrets := map[string]any{}, map[string]string{}
	for _, pr := range m.Parameters {
		if pr.Param == "" {
			continue // a filter's: bound into the filter's text (Plan.BindParams)
		}
		if v, ok := ex.params[pr.Name]; ok {
			params[pr.Param] = v
		} else if v, ok := ex.secrets.values[pr.Name]; ok {
			secrets[pr.Param] = v // to this step's worker only, never in a file
		} // else the code's own tarn.Parameter(default=...) applies
	}
	kind := "model"
	switch m.Kind {
	case "sql":
		kind = "sql"
	case "expectation":
		kind = "expectation"
	}
	prefix := stepKey(st)
	spec := &rt.StepSpec{Kind: kind, ProjectDir: ex.p.Dir, File: m.File, Function: m.Function, Name: strings.ReplaceAll(prefix, ":", "-"),
		Inputs: inputs, Parameters: params, Secrets: secrets, SQL: m.SQL, MemoryLimit: ex.memoryLimit(m)}
	if kind != "expectation" {
		spec.Output = m.Name + ".arrow" // in the worker's own directory (RunWorker)
	}
	envSpec := ex.p.EnvSpec(m)
	env := ex.envs[ex.r.Envs.Key(envSpec)]
	ex.mu.Lock()
	rep.Env = env.Key[:12]
	ex.mu.Unlock()
	ex.setState(rep, tarn.StepRunning, "")
	wo := ex.workerOptions(m, files)
	wo.Timeout = ex.p.Timeout(m)
	wo.Output = func(line string) { ex.emit(tarn.RunEvent{Kind: tarn.EventLog, Step: m.Name, Message: line}) }
	called := time.Now()
	res, err := rt.RunWorker(ctx, spec, wo)
	rep.Duration = time.Since(start)
	if res != nil {
		ex.mu.Lock()
		rep.Profile = append(profile, workerPhases(res, called)...)
		rep.PeakAnonBytes, rep.MemoryLimit = res.PeakAnonBytes, wo.Limits.Memory
		ex.mu.Unlock()
	}
	if err != nil {
		var se *rt.StepError
		if errors.As(err, &se) {
			rep.Reason = se.Reason
			if se.Result != nil && se.Result.Traceback != "" {
				return tarn.Errorf(tarn.EINVALID, "%s\n%s", se.Msg, indent(se.Result.Traceback))
			}
			return tarn.Errorf(tarn.EINVALID, "%s", se.Msg)
		}
		return err
	}
	if kind == "expectation" {
		if res.Passed == nil || !*res.Passed {
			rep.Reason = "expectation"
			msg := res.Message
			if msg == "" {
				msg = "returned False"
			}
			return tarn.Errorf(tarn.EINVALID, "expectation %s failed (%s:%d): %s", m.Name, m.File, m.Line, msg)
		}
		ex.setState(rep, tarn.StepDone, "")
		ex.store(ctx, st, rep, "", "", nil)
		return nil
	}
	rep.Rows = res.Rows
	output := res.Output
	ex.mu.Lock()
	ex.outputs[m.Name] = output
	ex.mu.Unlock()
	if ex.opts.Preview > 0 {
		text, err := previewArrow(output, ex.opts.Preview, ex.secrets.mask)
		if err != nil {
			text = "no preview: " + ex.secrets.mask.Mask(err.Error())
		}
		ex.emit(tarn.RunEvent{Kind: tarn.EventPreview, Step: m.Name, Message: text})
	}
	rep.Duration = time.Since(start)
	ex.setState(rep, tarn.StepDone, "")
	var materialized chan *table.MaterializeResult
	if st.Materialized() && ex.session != nil {
		ch, deliver := materializeDone()
		materialized = ch
		ex.writes.Add(1)
		go func() {
			defer ex.writes.Done()
			res, err := ex.materialize(ctx, st, rep, output, ex.parquetWriter(m), nil)
			deliver(res)
			if err != nil {
				ex.setState(rep, tarn.StepFailed, err.Error())
				ex.fail(err)
			}
		}()
	}
	ex.store(ctx, st, rep, output, res.OutputChecksum, materialized)
	return nil
}

// WholeInputHintBytes is the size of lake inputs read whole into a
// step's memory from which its read phase suggests the batches form:
// memory a step touches costs time (about 2 s/GiB for memory fresh to a
// virtual machine, bench/scale/README.md), and a table held whole needs
// all of it at once.
const WholeInputHintBytes = 4 << 30

// workerPhases are the phases of a step that its worker ran, called at
// called: the hand-off (until the worker began the step), importing the
// model's file, reading the inputs, the user's code, writing the output.
func workerPhases(res *rt.StepResult, called time.Time) []tarn.StepPhase {
	pr := res.Profile
	var phases []tarn.StepPhase
	if res.WorkerStartedAtNs > 0 {
		phases = append(phases, tarn.StepPhase{Name: tarn.PhaseHandoff, Seconds: max(0, time.Unix(0, res.WorkerStartedAtNs).Sub(called).Seconds())})
	}
	read := tarn.StepPhase{Name: tarn.PhaseRead, Seconds: pr.Read.Seconds, Rows: pr.Read.Rows, Bytes: pr.Read.Bytes, Files: pr.Read.Files}
	switch {
	case pr.Read.SpooledBytes > 0:
		read.Detail = fmt.Sprintf("larger than half the memory: %s spooled to disk and mapped", table.FormatBytes(pr.Read.SpooledBytes))
	case pr.Read.WholeBytes >= WholeInputHintBytes:
		read.Detail = fmt.Sprintf("%s held whole in memory; an input taken as batches (tarn.Model(..., batches=True)) streams in bounded memory", table.FormatBytes(pr.Read.WholeBytes))
	}
	phases = append(phases,
		tarn.StepPhase{Name: tarn.PhaseImport, Seconds: pr.Import.Seconds},
		read,
		tarn.StepPhase{Name: tarn.PhaseCode, Seconds: pr.Code.Seconds})
	if pr.Write.Rows > 0 || pr.Write.Bytes > 0 {
		phases = append(phases, tarn.StepPhase{Name: tarn.PhaseWrite, Seconds: pr.Write.Seconds, Rows: pr.Write.Rows, Bytes: pr.Write.Bytes})
	}
	return phases
}

// addPhase adds a phase to a step's profile (materialization and the
// cache add theirs beside the DAG).
func (ex *execution) addPhase(rep *tarn.StepReport, phase tarn.StepPhase) {
	ex.mu.Lock()
	rep.Profile = append(rep.Profile, phase)
	ex.mu.Unlock()
}

// workerOptions are the options of a model's worker that are fixed before
// it runs: a warm worker started with them serves the step. files are the
// data files of its lake inputs, bound read-only for it.
func (ex *execution) workerOptions(m *Model, files []string) rt.WorkerOptions {
	o := rt.WorkerOptions{Env: ex.envs[ex.r.Envs.Key(ex.p.EnvSpec(m))], SDKDir: ex.r.SDKDir, Sandbox: ex.r.Sandbox,
		ProjectDir: ex.p.Dir, SpecDir: ex.shm, WorkRoot: ex.workRoot, StoreDir: ex.storeDir, Network: m.InternetAccess, Egress: ex.r.Egress, Pool: ex.r.Pool,
		InputFiles: files,
		Limits:     rt.Limits{Memory: ex.memoryLimit(m), Processes: ex.r.Limits.Processes, Disk: ex.r.Limits.Disk}}
	if ex.r.Cache != nil {
		o.ReadOnly = append(o.ReadOnly, ex.r.Cache.EntriesDir()) // inputs served from the cache
	}
	return o
}

// memoryLimit is a model's memory limit: its own, or the runner's default.
func (ex *execution) memoryLimit(m *Model) int64 {
	if n := ex.p.MemoryLimit(m); n > 0 {
		return n
	}
	return ex.r.Limits.Memory
}

// prewarm starts a warm worker per kind of worker the run will need, first
// needed first, leaving out steps the cache will serve. A step's lake
// inputs are planned first: their files are bound into its worker.
func (ex *execution) prewarm(ctx context.Context) {
	if ex.r.Pool == nil {
		return
	}
	for _, st := range slices.Concat(ex.plan.Steps, ex.plan.Expectations) {
		if ex.cacheOn(st) && ex.r.Cache.Has(ex.keys[stepKey(st)]) {
			continue
		}
		var files []string
		for _, li := range st.Lake {
			if pi := ex.planInput(ctx, li); pi.err == nil && pi.direct() {
				files = append(files, pi.plan.Files...)
			}
		}
		if err := ex.r.Pool.Prewarm(ex.workerOptions(st.Model, files)); err != nil {
			ex.emit(tarn.RunEvent{Kind: tarn.EventInfo, Message: "warning: " + err.Error()})
		}
	}
}

// parquetWriter writes a model's output files with pyarrow in its
// environment, in the model's sandbox.
func (ex *execution) parquetWriter(m *Model) table.ParquetWriter {
	o := ex.workerOptions(m, nil)
	return pyParquet{env: o.Env, sdkDir: ex.r.SDKDir, sandbox: ex.r.Sandbox, workRoot: ex.workRoot, limits: o.Limits}
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

func (ex *execution) materialize(ctx context.Context, st *Step, rep *tarn.StepReport, path string, w table.ParquetWriter, reuse *table.DataFiles) (*table.MaterializeResult, error) {
	m := st.Model
	started := time.Now()
	res, err := ex.r.Tables.Materialize(ctx, ex.session, table.MaterializeRequest{
		Ident: st.Output, Path: path, Strategy: table.Strategy(m.Strategy), PartitionBy: strings.Join(m.PartitionedBy, ", "),
		OverwriteFilter: st.OverwriteFilter, Properties: map[string]string{"tarn.project": ex.p.Name, "tarn.model": m.Name, "tarn.run_id": ex.res.RunID},
		Writer: w, Reuse: reuse, InProcessBytes: table.SmallOutputBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("materialize %s into %s: %w", m.Name, st.Output, err)
	}
	phase := tarn.StepPhase{Name: tarn.PhaseMaterialize, Seconds: time.Since(started).Seconds()}
	if res.Entry != nil {
		phase.Rows = res.Entry.Rows
	}
	if res.Files != nil {
		phase.Files = len(res.Files.Paths)
		phase.Bytes = res.Bytes
	}
	switch {
	case res.Unchanged:
		phase.Detail = "the table already held these files"
	case res.Reused:
		phase.Detail = "files of an earlier run published again"
	case res.Writer == table.WriterPyArrow:
		phase.Detail = "written by the pyarrow writer"
	case res.Writer == table.WriterArrowGo:
		phase.Detail = "written in tarn's process (a small output)"
	case res.Writer == table.WriterIcebergGo && res.Fallback != "":
		phase.Detail = "written by iceberg-go's writer: " + res.Fallback
	case res.Writer == table.WriterIcebergGo:
		phase.Detail = "written by iceberg-go's writer"
	}
	ex.addPhase(rep, phase)
	ex.mu.Lock()
	ex.materialized++
	ex.mu.Unlock()
	return res, nil
}

// export writes a lake input as an Arrow file once per (table, ref,
// columns, filter), reading the commit the run started from (or its own
// ref): into the scan cache, else into the run's directory on disk.
func (ex *execution) export(ctx context.Context, li LakeInput) (path string, rows int64, err error) {
	ref := ex.lakeRef(li)
	key := hashKey(li.Table.Key(), ref, strings.Join(li.Columns, ","), li.Filter)
	ex.mu.Lock()
	eo := ex.exports[key]
	if eo == nil {
		eo = &exportOnce{path: filepath.Join(ex.workRoot, "lake-"+li.Table.Key()+"-"+key+".arrow")} // on disk: never /dev/shm
		ex.exports[key] = eo
	}
	ex.mu.Unlock()
	eo.once.Do(func() {
		if path, rows, ok, err := ex.cachedExport(ctx, li, ref); ok {
			eo.path, eo.rows, eo.err = path, rows, err
			return
		}
		var res *table.ExportResult
		if res, eo.err = ex.r.Tables.ExportArrow(ctx, table.ExportRequest{Ident: li.Table, Ref: ref, Columns: li.Columns, Filter: li.Filter}, eo.path); eo.err == nil {
			eo.rows = res.Rows
		}
	})
	if eo.err != nil {
		return "", 0, fmt.Errorf("read input %s: %w", li.Table, eo.err)
	}
	return eo.path, eo.rows, nil
}

func fileSize(path string) int64 {
	if fi, err := os.Stat(path); err == nil {
		return fi.Size()
	}
	return 0
}
