package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tarnhq/tarn"
	rt "github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/table"
)

// maxBoundFiles is the most data files of one step's lake inputs that are
// bound into its sandbox one by one; a step that needs more gets its
// inputs exported.
const maxBoundFiles = 4096

// plannedInput is a lake input planned once per run (per table, ref,
// columns and filter): the files its worker reads itself, or why it must
// be exported instead.
type plannedInput struct {
	once    sync.Once
	plan    *table.InputPlan
	seconds float64
	err     error
}

// direct says whether the worker reads the planned files itself.
func (pi *plannedInput) direct() bool {
	return pi.plan != nil && pi.plan.Fallback == "" && len(pi.plan.Files) <= maxBoundFiles
}

// reason says why the input is exported.
func (pi *plannedInput) reason() string {
	if pi.plan.Fallback != "" {
		return pi.plan.Fallback
	}
	return fmt.Sprintf("%d data files: more than a sandbox binds (%d)", len(pi.plan.Files), maxBoundFiles)
}

func (ex *execution) lakeRef(li LakeInput) string {
	if li.Ref == "" {
		return ex.head.Hash
	}
	return li.Ref
}

// planInput plans a lake input's files with Iceberg, once per run.
func (ex *execution) planInput(ctx context.Context, li LakeInput) *plannedInput {
	ref := ex.lakeRef(li)
	key := hashKey(li.Table.Key(), ref, strings.Join(li.Columns, ","), li.Filter)
	ex.mu.Lock()
	if ex.planned == nil {
		ex.planned = map[string]*plannedInput{}
	}
	pi := ex.planned[key]
	if pi == nil {
		pi = &plannedInput{}
		ex.planned[key] = pi
	}
	ex.mu.Unlock()
	pi.once.Do(func() {
		started := time.Now()
		pi.plan, pi.err = ex.r.Tables.PlanInput(ctx, table.ExportRequest{Ident: li.Table, Ref: ref, Columns: li.Columns, Filter: li.Filter})
		pi.seconds = time.Since(started).Seconds()
		if pi.err != nil {
			pi.err = fmt.Errorf("read input %s: %w", li.Table, pi.err)
		}
	})
	return pi
}

// releaseInputs unpins the object cache's copies of the run's planned
// inputs: they are held from planning to the end of the run, whatever
// its length, since a worker opens its files when it starts.
func (ex *execution) releaseInputs() {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, pi := range ex.planned {
		pi.once.Do(func() {}) // a planning still running keeps its own pins until the run's end
		pi.plan.Release()
	}
}

// lakeInput is what a worker gets for a lake input: the planned Parquet
// files to read itself (bound read-only into its sandbox) with the
// columns and filter to apply, or, for a table it cannot read that way
// (see table.InputPlan.Fallback), an Arrow file exported from it. The
// phase says what it cost.
func (ex *execution) lakeInput(ctx context.Context, li LakeInput) (rt.InputSpec, tarn.StepPhase, error) {
	pi := ex.planInput(ctx, li)
	if pi.err != nil {
		return rt.InputSpec{}, tarn.StepPhase{}, pi.err
	}
	plan := pi.plan
	if pi.direct() {
		in := rt.InputSpec{Files: plan.Files, Schema: plan.Schema, Columns: plan.Columns, EstimatedBytes: plan.EstimatedBytes}
		if li.Filter != "" {
			f := li.Filter
			in.Filter = &f
		}
		detail := fmt.Sprintf("%s: %d of %d data files", li.Table, len(plan.Files), plan.TotalFiles)
		if plan.Downloaded > 0 {
			detail += fmt.Sprintf(", %d downloaded from the object store (%s in %.1f s)", plan.Downloaded, tarn.FormatBytes(plan.DownloadedBytes), plan.DownloadSeconds)
		}
		phase := tarn.StepPhase{Name: tarn.PhasePlan, Seconds: pi.seconds, Rows: plan.Rows, Bytes: plan.Bytes, Files: len(plan.Files), Detail: detail}
		return in, phase, nil
	}
	started := time.Now()
	path, rows, err := ex.export(ctx, li)
	if err != nil {
		return rt.InputSpec{}, tarn.StepPhase{}, err
	}
	phase := tarn.StepPhase{Name: tarn.PhaseExport, Seconds: pi.seconds + time.Since(started).Seconds(), Rows: rows, Bytes: fileSize(path),
		Detail: fmt.Sprintf("%s exported as Arrow: %s", li.Table, pi.reason())}
	return rt.InputSpec{Path: path}, phase, nil
}
