package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/cache"
	rt "github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/table"
)

// Runner runs projects.
type Runner struct {
	Tables *table.Service
	Envs   *rt.EnvManager
	// Sandbox confines workers and the Parquet writer (nil: plain processes).
	Sandbox *rt.Sandbox
	// Limits are each worker's process and disk limits, and the memory
	// limit of a model that sets none.
	Limits rt.Limits
	// MaxMemory, when set, is the most memory a model may ask for.
	MaxMemory int64
	// Egress, when set, is the network of models with internet access
	// (else they share the host's).
	Egress   *rt.Egress
	SDKDir   string
	Events   func(tarn.RunEvent)
	Parallel int
	// Cache, when set, serves steps and scans whose key is stored, and
	// stores fresh results; CacheMaxBytes bounds it after each run
	// (least recently used entries go first; 0: no bound).
	Cache         *cache.Store
	CacheMaxBytes int64
	Pool          *rt.Pool // warm workers, if set (created and closed by the caller)
	// Secrets returns the lakehouse's keys, which open the values of
	// secret parameters; it is called when a step uses one (nil: such a
	// run is refused).
	Secrets func() (SecretKeys, error)
}

// SecretKeys open the values of a lakehouse's secret parameters and hash
// them for cache keys (secret.Keys).
type SecretKeys interface {
	// Open decrypts the sealed value of the secret parameter name
	// (EINVALID for a value sealed for another lakehouse or parameter, or
	// a corrupt one, saying to set it again).
	Open(name, sealed string) (string, error)
	// MAC is a keyed hash of a value: equal values hash equal, and only
	// the holder of the keys can test a guess.
	MAC(value string) string
}

// RunOptions configure one run.
type RunOptions struct {
	Ref     string
	Params  map[string]string
	DryRun  bool
	Strict  bool
	Preview int // rows of each output to show: the first N, the last -N (0: none)
	// Namespace overrides the project's default namespace for this run.
	Namespace string
	Author    string
	NoCache   bool // run every step and scan; neither read nor write the cache
}

func (r *Runner) emit(e tarn.RunEvent) {
	if r.Events != nil {
		r.Events(e)
	}
}

func newRunID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// Run plans and executes a project on a branch. On success the run
// branch's commit is merged into the target; on any failure the target is
// untouched, the run branch (if any) is kept and named in the error.
func (r *Runner) Run(ctx context.Context, p *Project, opts RunOptions) (*tarn.RunResult, error) {
	started := time.Now()
	defer r.Envs.Wait() // no background work on environments outlives the run
	cat := r.Tables.Catalog()
	res := &tarn.RunResult{RunID: newRunID(), Project: p.Name, Target: opts.Ref, DryRun: opts.DryRun, Isolation: string(r.isolation())}
	if opts.Namespace != "" {
		if err := tarn.ValidateNamespace(opts.Namespace); err != nil {
			return nil, err
		}
		p.Defaults.Namespace = opts.Namespace
	}
	head, err := cat.BranchHead(ctx, opts.Ref)
	if err != nil {
		return nil, err
	}
	res.Base = head.Hash
	params, err := p.ResolveParams(opts.Params)
	if err != nil {
		return nil, err
	}
	entries, _, err := cat.Entries(ctx, head)
	if err != nil {
		return nil, err
	}
	lake := Lake{Ref: opts.Ref, Tables: map[string]bool{}, Producer: func(id tarn.TableIdent) string { return r.producer(ctx, id, head.Hash) }}
	for k, e := range entries {
		if e.Kind == tarn.EntryTable {
			lake.Tables[k] = true
		}
	}
	plan, err := p.Plan(lake)
	if err != nil {
		return nil, err
	}
	if err := plan.BindParams(params); err != nil {
		return nil, err
	}
	if warnings := p.Lint(plan); len(warnings) > 0 {
		if opts.Strict {
			return nil, tarn.Errorf(tarn.EINVALID, "--strict: %d warning(s):\n  %s", len(warnings), strings.Join(warnings, "\n  "))
		}
		for _, w := range warnings {
			r.emit(tarn.RunEvent{Kind: tarn.EventInfo, Message: "warning: " + w})
		}
	}
	r.emit(tarn.RunEvent{Kind: tarn.EventPlan, Message: describePlan(plan), Plan: planSteps(plan)})
	secrets, err := r.openSecrets(p, plan)
	if err != nil {
		return nil, err
	}

	if err := r.checkMemory(p, plan); err != nil {
		return nil, err
	}
	// Environments first: a bad pin or a missing interpreter fails before
	// any step runs.
	envs, err := r.ensureEnvs(ctx, p, plan)
	if err != nil {
		return nil, err
	}
	if opts.DryRun {
		r.emit(tarn.RunEvent{Kind: tarn.EventInfo, Message: "run id " + res.RunID})
	} else {
		r.emit(tarn.RunEvent{Kind: tarn.EventInfo, Message: fmt.Sprintf("run id %s: outputs go to branch run/%s, merged into %s when everything passes", res.RunID, res.RunID, opts.Ref)})
	}
	shm, err := rt.NewShmDir(res.RunID)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(shm)

	var session *table.Session
	if !opts.DryRun {
		res.RunBranch = "run/" + res.RunID
		if _, err := cat.CreateRef(ctx, tarn.KindBranch, res.RunBranch, head.Hash); err != nil {
			return nil, fmt.Errorf("create run branch: %w", err)
		}
		if session, err = r.Tables.OpenSession(ctx, res.RunBranch); err != nil {
			return nil, err
		}
		defer session.Close(ctx) // what a failed run wrote and never committed goes
	}
	ex := &execution{r: r, p: p, plan: plan, opts: opts, params: params, secrets: secrets, envs: envs, shm: shm,
		head: head, session: session, res: res, outputs: map[string]string{}, exports: map[string]*exportOnce{}}
	// Step outputs go to the cache's disk (see execution.outDir), else to
	// a folder of the system's temporary directory: never /dev/shm, which
	// is memory. Only step specs (small) are written there.
	if r.Cache != nil {
		ex.outDir, err = r.Cache.RunDir()
	} else {
		ex.outDir, err = os.MkdirTemp("", "tarn-run-"+res.RunID+"-")
	}
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(ex.outDir)
	defer ex.releaseInputs()
	ex.workRoot = ex.outDir
	if ex.storeDir, err = newStoreDir(ex.workRoot, r.Sandbox); err != nil {
		return nil, err
	}
	runErr := ex.computeKeys(ctx)
	if runErr == nil {
		ex.prewarm(ctx)
		runErr = ex.execute(ctx)
	}
	res.Steps = ex.reports()
	if runErr == nil && !opts.DryRun {
		runErr = r.publish(ctx, ex)
	}
	res.Duration = time.Since(started)
	if r.Cache != nil && r.CacheMaxBytes > 0 {
		if removed, err := r.Cache.GC(r.CacheMaxBytes, 10*time.Minute); err == nil && len(removed) > 0 {
			r.emit(tarn.RunEvent{Kind: tarn.EventInfo, Message: fmt.Sprintf("cache over its limit of %s: evicted %d least recently used entries", table.FormatBytes(r.CacheMaxBytes), len(removed))})
		}
	}
	runErr = ex.hideSecrets(res, runErr)
	if runErr != nil {
		res.Error = runErr.Error()
		if res.RunBranch != "" && !res.Published {
			runErr = fmt.Errorf("%w\nnothing was published: %s is unchanged; the run branch %s is kept for inspection", runErr, opts.Ref, res.RunBranch)
		}
		return res, runErr
	}
	return res, nil
}

// runSecrets are the opened values of the secret parameters a run's
// steps use.
type runSecrets struct {
	values map[string]string // parameter -> clear value
	keys   SecretKeys
	mask   *rt.Masker
}

// openSecrets opens the secret parameters that the plan's steps use (the
// others stay sealed). Every value that does not open is reported.
func (r *Runner) openSecrets(p *Project, plan *Plan) (*runSecrets, error) {
	s := &runSecrets{values: map[string]string{}}
	var names []string
	for _, st := range slices.Concat(plan.Steps, plan.Expectations) {
		for _, pr := range st.Model.Parameters {
			if d := p.Parameters[pr.Name]; d.Secret() && d.Value != "" && !slices.Contains(names, pr.Name) {
				names = append(names, pr.Name)
			}
		}
	}
	if len(names) == 0 {
		return s, nil
	}
	if r.Secrets == nil {
		return nil, tarn.Errorf(tarn.EINVALID, "this runner holds no lakehouse key, so it cannot open secret %s", names[0])
	}
	keys, err := r.Secrets()
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var errs ProjectErrors
	for _, name := range names {
		v, err := keys.Open(name, p.Parameters[name].Value)
		if err != nil {
			errs = append(errs, ProjectError{File: ProjectFile, Msg: err.Error()})
			continue
		}
		s.values[name] = v
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	s.keys = keys
	s.mask = rt.NewMasker(slices.Collect(maps.Values(s.values))...)
	return s, nil
}

// checkMemory refuses models that ask for more memory than MaxMemory.
func (r *Runner) checkMemory(p *Project, plan *Plan) error {
	if r.MaxMemory <= 0 {
		return nil
	}
	var over []string
	for _, st := range append(append([]*Step{}, plan.Steps...), plan.Expectations...) {
		if n := p.MemoryLimit(st.Model); n > r.MaxMemory {
			over = append(over, fmt.Sprintf("%s (%s:%d) asks for %s", st.Model.Name, st.Model.File, st.Model.Line, table.FormatBytes(n)))
		}
	}
	if len(over) > 0 {
		return tarn.Errorf(tarn.EINVALID, "this server gives a step at most %s of memory: %s; lower @tarn.resources(memory=...)", table.FormatBytes(r.MaxMemory), strings.Join(over, ", "))
	}
	return nil
}

// newStoreDir creates the run's key-value store folder (tarn.store), which
// every worker of the run writes; it goes with the run's other folders.
func newStoreDir(workRoot string, sb *rt.Sandbox) (string, error) {
	dir := filepath.Join(workRoot, "store")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create the run's store: %w", err)
	}
	os.Chmod(workRoot, 0o755)
	return dir, sb.Own(dir)
}

func (r *Runner) isolation() rt.Isolation {
	if r.Sandbox == nil {
		return rt.IsolationNone
	}
	return r.Sandbox.Isolation
}

// producer reads who materialized a table (its tarn.project/tarn.model
// properties).
func (r *Runner) producer(ctx context.Context, id tarn.TableIdent, ref string) string {
	props, err := r.Tables.Properties(ctx, id, ref)
	if err != nil || props["tarn.model"] == "" {
		return ""
	}
	return props["tarn.project"] + "/" + props["tarn.model"]
}

// planSteps is the plan as the run's plan event carries it: the DAG a
// client draws.
func planSteps(plan *Plan) []tarn.PlanStep {
	var out []tarn.PlanStep
	for _, st := range append(append([]*Step{}, plan.Steps...), plan.Expectations...) {
		ps := tarn.PlanStep{Name: st.Model.Name, Kind: st.Model.Kind, Deps: st.Deps}
		for _, in := range st.Lake {
			ps.Inputs = append(ps.Inputs, in.Table.String())
		}
		if st.Materialized() {
			ps.Table = st.Output.String()
		}
		out = append(out, ps)
	}
	return out
}

func describePlan(plan *Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d model(s), %d expectation(s)", len(plan.Steps), len(plan.Expectations))
	for i, level := range plan.Levels {
		fmt.Fprintf(&b, "\n  %d. %s", i+1, strings.Join(level, ", "))
	}
	if len(plan.Expectations) > 0 {
		var names []string
		for _, e := range plan.Expectations {
			names = append(names, e.Model.Name)
		}
		fmt.Fprintf(&b, "\n  expectations: %s", strings.Join(names, ", "))
	}
	return b.String()
}

func (r *Runner) ensureEnvs(ctx context.Context, p *Project, plan *Plan) (map[string]*rt.Env, error) {
	specs := map[string]rt.EnvSpec{}
	for _, st := range append(append([]*Step{}, plan.Steps...), plan.Expectations...) {
		spec := p.EnvSpec(st.Model)
		specs[r.Envs.Key(spec)] = spec
	}
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	envs := map[string]*rt.Env{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(keys))
	sem := make(chan struct{}, 2)
	for i, k := range keys {
		wg.Add(1)
		go func(i int, k string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			env, err := r.Envs.Ensure(ctx, specs[k], func(msg string) { r.emit(tarn.RunEvent{Kind: tarn.EventEnv, Message: msg}) })
			if err != nil {
				errs[i] = err
				return
			}
			state := "cached"
			if !env.Cached {
				state = fmt.Sprintf("built in %.1fs", env.BuildTime.Seconds())
			}
			r.emit(tarn.RunEvent{Kind: tarn.EventEnv, Message: fmt.Sprintf("environment %s (Python %s; %s): %s", k[:12], env.Version, strings.Join(specs[k].Requirements(), " "), state)})
			mu.Lock()
			envs[k] = env
			mu.Unlock()
		}(i, k)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return envs, nil
}

// publish commits the run branch and merges it into the target.
func (r *Runner) publish(ctx context.Context, ex *execution) error {
	cat := r.Tables.Catalog()
	res := ex.res
	paramsJSON, _ := json.Marshal(ex.params)
	props := map[string]string{"tarn.run_id": res.RunID, "tarn.project": ex.p.Name, "tarn.params": string(paramsJSON)}
	info := tarn.CommitInfo{Author: ex.opts.Author, Properties: props,
		Message: fmt.Sprintf("tarn run %s: %d model(s) materialized", ex.p.Name, ex.materialized)}
	if !ex.session.Pending() {
		// Every output is already in the target (all served from the
		// cache, their tables unchanged): there is nothing to publish.
		head, err := cat.BranchHead(ctx, res.Target)
		if err != nil {
			return err
		}
		r.emit(tarn.RunEvent{Kind: tarn.EventPublish, Message: fmt.Sprintf("nothing changed: %s stays at %s", res.Target, head.ShortHash())})
		res.Published, res.Commit = true, head
		if err := cat.DeleteRef(ctx, tarn.KindBranch, res.RunBranch); err == nil {
			res.RunBranch = ""
		}
		return nil
	}
	if _, err := ex.session.Flush(ctx, info); err != nil {
		return fmt.Errorf("commit outputs on %s: %w", res.RunBranch, err)
	}
	r.emit(tarn.RunEvent{Kind: tarn.EventPublish, Message: fmt.Sprintf("merging %s into %s", res.RunBranch, res.Target)})
	mergeInfo := tarn.CommitInfo{Author: ex.opts.Author, Properties: props,
		Message: fmt.Sprintf("publish tarn run %s of %s", res.RunID, ex.p.Name)}
	merged, err := cat.Merge(ctx, tarn.MergeRequest{Source: res.RunBranch, Into: res.Target, Info: mergeInfo})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", res.Target, err)
	}
	res.Published = true
	res.Commit = merged.Commit
	if err := cat.DeleteRef(ctx, tarn.KindBranch, res.RunBranch); err == nil {
		res.RunBranch = ""
	}
	return nil
}

// hashKey names a lake export in shared memory.
func hashKey(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:6])
}

func parallelism(n int) int {
	if n > 0 {
		return n
	}
	return runtime.NumCPU()
}
