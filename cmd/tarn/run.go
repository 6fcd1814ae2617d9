package main

import (
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
)

//go:embed example
var exampleProject embed.FS

// projectFile marks a project folder.
const projectFile = "tarn_project.yml"

func (a *app) initCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Create a working example project (Python and SQL models, an expectation)",
		Long: `Create an example project in DIR (default: ./taxi): tarn_project.yml, Python
models that load and clean sample trips (pandas in its own environment), a
SQL model aggregating them, and an expectation. Run it with ` + "`tarn run -p DIR`" + `.`,
		Example: "  tarn init taxi && tarn run -p taxi\n  tarn init . --force",
		Args:    rangeArgs(0, 1, "[DIR]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "taxi"
			if len(args) == 1 {
				dir = args[0]
			}
			if _, err := os.Stat(filepath.Join(dir, projectFile)); err == nil && !force {
				return tarn.Errorf(tarn.EEXISTS, "%s already has a %s: use --force to overwrite the example files", dir, projectFile)
			}
			var written []string
			err := fs.WalkDir(exampleProject, "example", func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel := strings.TrimPrefix(path, "example/")
				data, err := exampleProject.ReadFile(path)
				if err != nil {
					return err
				}
				target := filepath.Join(dir, rel)
				if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
					return err
				}
				written = append(written, rel)
				return os.WriteFile(target, data, 0o644)
			})
			if err != nil {
				return tarn.Errorf(tarn.EINVALID, "create project in %s: %v", dir, err)
			}
			return a.emit(map[string]any{"dir": dir, "files": written}, func(w io.Writer) {
				fmt.Fprintf(w, "created project %s:\n", dir)
				for _, f := range written {
					fmt.Fprintf(w, "  %s\n", f)
				}
				fmt.Fprintf(w, "\nrun it:  tarn run -p %s\npreview: tarn run -p %s --dry-run --preview\n", dir, dir)
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite the example files in an existing project")
	return cmd
}

func (a *app) runCommand() *cobra.Command {
	var pf projectFlags
	var ref, namespace, preview string
	var params []string
	var dryRun, strict, noStrict, detach, noCache, profile bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a project's models on a branch and publish the results all or nothing",
		Long: `Plan the project's DAG, fork a run branch from the target branch, run every
step (each Python model in its own cached environment and isolated process,
SQL models in DuckDB; lake tables read by the step's worker from the Parquet
files Iceberg plans, outputs handed to the next step as memory-mapped Arrow
files), write the materialized outputs as Iceberg tables on the run branch, check the
expectations, then merge the run branch into the target.

On any failure the target branch is untouched and the run branch is kept for
inspection. --dry-run runs the steps but materializes nothing.

A step whose code, environment, parameters and inputs are unchanged since a
run on this lakehouse is served from the cache ("cached", with the time it
saves); so are scans of unchanged tables. --no-cache runs everything;
@tarn.model(cache_strategy="NONE") opts one step out. See tarn cache --help.

--profile prints where each step's time went (plan or export of its lake
inputs, hand-off, import, read, code, write, materialize, cache: seconds,
rows, bytes, files) and its peak anonymous memory, to which
@tarn.resources(memory=...) applies; -o json always has them.

A secret parameter (` + "`tarn parameter set NAME --type secret`" + `) is opened by
the lakehouse only for the steps that use it, shows as *** in their output,
and is never taken from --param.`,
		Example: `  tarn run -p taxi
  tarn run -p taxi --ref dev --param min_miles=2
  tarn run -p taxi --dry-run --preview
  tarn run -p taxi --no-cache --profile
  tarn run -p taxi -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			given := map[string]string{}
			for _, kv := range params {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return &usageError{fmt.Sprintf("--param %q: use --param NAME=VALUE", kv)}
				}
				given[k] = v
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			previewRows := 0
			switch preview {
			case "":
			case "head":
				previewRows = 5
			case "tail":
				previewRows = -5
			default:
				return &usageError{fmt.Sprintf("--preview %q: use --preview (the first rows), --preview head or --preview tail", preview)}
			}
			if noStrict {
				strict = false
			}
			req := tarn.RunRequest{ProjectDir: pf.dir(), Ref: a.ref(ref), Params: given, DryRun: dryRun, Strict: strict,
				Preview: previewRows, Author: a.commitInfo("").Author, NoCache: noCache, Namespace: namespace}
			if detach {
				job, err := a.svc.Jobs.SubmitRun(ctx, req)
				if err != nil {
					return err
				}
				return a.emit(job, func(w io.Writer) {
					fmt.Fprintf(w, "%s\n", job.ID)
					a.progress("started job %s: follow it with `tarn job logs %s --follow`", job.ID, job.ID)
				})
			}
			p := newRunPrinter(a.stderr)
			res, runErr := a.svc.Runs.Run(ctx, req, p.event)
			p.close()
			if res != nil {
				if err := a.emit(res, func(w io.Writer) {
					printRunSummary(w, res)
					if profile {
						printRunProfile(w, res)
					}
				}); err != nil {
					return err
				}
			}
			return runErr
		},
	}
	f := cmd.Flags()
	pf.add(f)
	f.StringVarP(&ref, "ref", "r", "", "branch to run on and publish to (default: the active branch)")
	f.StringVar(&namespace, "namespace", "", "namespace the models write to and unqualified inputs resolve in (default: the project's defaults.namespace, else tarn)")
	f.StringArrayVar(&params, "param", nil, "parameter value NAME=VALUE (repeatable)")
	f.BoolVar(&dryRun, "dry-run", false, "run the steps but materialize and publish nothing")
	f.BoolVar(&strict, "strict", false, "treat warnings (unpinned packages, discarded outputs) as errors")
	f.BoolVar(&noStrict, "no-strict", false, "warnings stay warnings (the default; overrides --strict)")
	f.StringVar(&preview, "preview", "", "show 5 rows of each output: head (the first; also --preview alone) or tail (the last)")
	f.Lookup("preview").NoOptDefVal = "head"
	f.BoolVar(&detach, "detach", false, "with a server: start the run as a job, print its id and return at once")
	f.BoolVar(&noCache, "no-cache", false, "run every step and scan; neither read nor write the cache")
	f.BoolVar(&profile, "profile", false, "also print where each step's time went, phase by phase (plan, export, handoff, import, read, code, write, materialize, cache), and its peak memory (in -o json: always, as each step's profile)")
	return cmd
}

// runPrinter prints run events as lines on stderr. On a terminal it also
// keeps a status line at the bottom (steps done, what is running and for
// how long), redrawn under each new line and every few hundred ms.
type runPrinter struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	total   int
	done    int
	running map[string]time.Time
	status  bool // a status line is on screen
	stop    chan struct{}
}

func newRunPrinter(w io.Writer) *runPrinter {
	p := &runPrinter{w: w, running: map[string]time.Time{}}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb" {
			p.tty = true
			p.stop = make(chan struct{})
			go func() {
				t := time.NewTicker(250 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-t.C:
						p.mu.Lock()
						p.drawStatus()
						p.mu.Unlock()
					case <-p.stop:
						return
					}
				}
			}()
		}
	}
	return p
}

// close removes the status line.
func (p *runPrinter) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
	p.clearStatus()
}

func (p *runPrinter) clearStatus() {
	if p.status {
		fmt.Fprint(p.w, "\r\033[K")
		p.status = false
	}
}

func (p *runPrinter) drawStatus() {
	if !p.tty || p.total == 0 || p.stop == nil {
		return
	}
	names := make([]string, 0, len(p.running))
	for n := range p.running {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.1fs", n, time.Since(p.running[n]).Seconds())
	}
	line := fmt.Sprintf("[%d/%d done]", p.done, p.total)
	if len(parts) > 0 {
		line += " running: " + strings.Join(parts, ", ")
	}
	p.clearStatus()
	fmt.Fprintf(p.w, "\033[2m%s\033[0m", line)
	p.status = true
}

func (p *runPrinter) line(format string, args ...any) {
	p.clearStatus()
	fmt.Fprintf(p.w, format, args...)
	p.drawStatus()
}

func (p *runPrinter) event(e tarn.RunEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Kind == tarn.EventStep {
		switch e.State {
		case tarn.StepQueued:
			p.total++
		case tarn.StepRunning:
			p.running[e.Step] = time.Now()
		case tarn.StepDone, tarn.StepCached:
			delete(p.running, e.Step)
			p.done++
		case tarn.StepFailed, tarn.StepSkipped, tarn.StepCancelled:
			delete(p.running, e.Step)
		}
	}
	if line, ok := formatEvent(e); ok {
		p.line("%s\n", line)
	}
}

// formatEvent is a run event as the CLI prints it (without the status
// line), false for events it does not print. The Python client renders
// events the same way: testdata/events holds the cases both are tested on.
func formatEvent(e tarn.RunEvent) (string, bool) {
	switch e.Kind {
	case tarn.EventStart, tarn.EventJob, tarn.EventEnv, tarn.EventInfo, tarn.EventPublish:
		return e.Message, true
	case tarn.EventPlan:
		return "plan: " + e.Message, true
	case tarn.EventLog:
		return fmt.Sprintf("  [%s] %s", e.Step, e.Message), true
	case tarn.EventPreview:
		return fmt.Sprintf("  [%s] preview:\n    %s", e.Step, strings.ReplaceAll(e.Message, "\n", "\n    ")), true
	case tarn.EventStep:
	default:
		return "", false
	}
	expectation := e.StepKind == "expectation"
	switch e.State {
	case tarn.StepRunning:
		return fmt.Sprintf("▶ %s running", e.Step), true
	case tarn.StepDone:
		if expectation {
			return fmt.Sprintf("✓ %s passed (%s)", e.Step, e.Duration.Round(time.Millisecond)), true
		}
		return fmt.Sprintf("✓ %s done: %s rows, %s", e.Step, count(e.Rows), e.Duration.Round(time.Millisecond)), true
	case tarn.StepCached:
		if expectation {
			return fmt.Sprintf("✓ %s passed (cached)", e.Step), true
		}
		return fmt.Sprintf("✓ %s cached: %s rows, saved %s", e.Step, count(e.Rows), e.Saved.Round(time.Millisecond)), true
	case tarn.StepFailed:
		return fmt.Sprintf("✗ %s failed", e.Step), true
	case tarn.StepSkipped:
		return fmt.Sprintf("- %s skipped (an input failed)", e.Step), true
	case tarn.StepCancelled:
		return fmt.Sprintf("- %s cancelled", e.Step), true
	}
	return "", false
}

// printRunProfile prints each step's phases (tarn.StepPhase) and its peak
// anonymous memory.
func printRunProfile(w io.Writer, res *tarn.RunResult) {
	fmt.Fprintln(w)
	t := newTable(w, "STEP", "PHASE", "SECONDS", "ROWS", "BYTES", "FILES", "DETAIL")
	for _, s := range res.Steps {
		for _, ph := range s.Profile {
			rows, size, files := "", "", ""
			if ph.Rows > 0 {
				rows = count(ph.Rows)
			}
			if ph.Bytes > 0 {
				size = tarn.FormatBytes(ph.Bytes)
			}
			if ph.Files > 0 {
				files = fmt.Sprint(ph.Files)
			}
			t.row(s.Name, ph.Name, fmt.Sprintf("%.3f", ph.Seconds), rows, size, files, ph.Detail)
		}
		if s.PeakAnonBytes > 0 {
			limit := "no limit"
			if s.MemoryLimit > 0 {
				limit = "limit " + tarn.FormatBytes(s.MemoryLimit)
			}
			t.row(s.Name, "memory", "", "", tarn.FormatBytes(s.PeakAnonBytes), "", "peak anonymous memory ("+limit+")")
		}
	}
	t.flush()
}

func printRunSummary(w io.Writer, res *tarn.RunResult) {
	t := newTable(w, "STEP", "KIND", "STATE", "ROWS", "TIME", "TABLE")
	steps := append([]*tarn.StepReport{}, res.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Kind != "expectation" && steps[j].Kind == "expectation" })
	for _, s := range steps {
		rows := ""
		if s.Kind != "expectation" && (s.State == tarn.StepDone || s.State == tarn.StepCached) {
			rows = count(s.Rows)
		}
		took := s.Duration.Round(time.Millisecond).String()
		if s.Cached {
			took = "saved " + s.Saved.Round(time.Millisecond).String()
		}
		t.row(s.Name, s.Kind, s.State, rows, took, s.Table)
	}
	t.flush()
	switch {
	case res.Published && res.Commit != nil && res.Commit.Hash == res.Base:
		fmt.Fprintf(w, "run %s: nothing changed; %s stays at %s (%.1fs)\n", res.RunID, res.Target, res.Commit.ShortHash(), res.Duration.Seconds())
	case res.Published:
		fmt.Fprintf(w, "published run %s to %s: commit %s (%.1fs)\n", res.RunID, res.Target, res.Commit.ShortHash(), res.Duration.Seconds())
	case res.DryRun && res.Error == "":
		fmt.Fprintf(w, "dry run %s finished in %.1fs; nothing was materialized\n", res.RunID, res.Duration.Seconds())
	}
}
