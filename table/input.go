package table

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/objcache"
)

// InputPlan is a lake input planned by Iceberg for a reader that reads
// the data files itself (a pipeline worker, with every core): the files
// that may hold matching rows, the columns to read and the filter still
// to apply to the rows.
type InputPlan struct {
	// Files are local paths of the planned data files.
	Files []string
	// Bytes is the size of the planned files on disk, Rows the rows they
	// hold (before the filter).
	Bytes, Rows int64
	// TotalFiles counts the data files of the snapshot.
	TotalFiles int
	// Columns are the input's columns in the table's order: the requested
	// ones, all when none were.
	Columns []string
	// Schema is the table's Arrow schema as an IPC stream holding only
	// the schema: the types the files are read as (those ExportArrow
	// gives).
	Schema []byte
	// EstimatedBytes estimates the input's size as Arrow (the planned
	// files' rows of the columns read), before the filter.
	EstimatedBytes int64
	// Fallback, when set, says why the files cannot be read as they are
	// (delete files, a schema that changed over the table's history):
	// the input must then be exported (ExportArrow), which reads through
	// iceberg-go.
	Fallback string
	// Downloaded counts the files and bytes of an object store that
	// planning copied into the object cache, and how long that took.
	Downloaded      int
	DownloadedBytes int64
	DownloadSeconds float64

	// release unpins the object cache's copies of Files (see Release).
	release func()
}

// Release unpins the object cache's copies of the plan's files, which
// stay pinned from PlanInput on: a pipeline run holds its inputs' files
// until it ends, since its workers open them late. It may be called more
// than once, and does nothing for files on local disk.
func (p *InputPlan) Release() {
	if p != nil && p.release != nil {
		p.release()
		p.release = nil
	}
}

// PlanInput plans the data files of a lake input: the columns are checked
// as ExportArrow checks them, and files are pruned by the partitions and
// column statistics that the filter's pushdown allows (see
// RowFilter.pushdown). Reading the files gives every row of the input
// and maybe more: the whole filter must still be applied to the rows.
func (s *Service) PlanInput(ctx context.Context, req ExportRequest) (*InputPlan, error) {
	tbl, _, err := s.Load(ctx, req.Ident, req.Ref)
	if err != nil {
		return nil, err
	}
	schema := tbl.Schema()
	names := fieldNames(schema)
	for _, c := range req.Columns {
		if _, ok := schema.FindFieldByName(c); !ok {
			return nil, tarn.Errorf(tarn.EINVALID, "table %s has no column %q%s", req.Ident, c, tarn.Suggest(c, names))
		}
	}
	expr := iceberg.BooleanExpression(iceberg.AlwaysTrue{})
	read := map[string]bool{}
	for _, c := range req.Columns {
		read[c] = true
	}
	if req.Filter != "" {
		filter, err := ParseRowFilter(req.Filter)
		if err == nil {
			err = filter.checkColumns(names)
		}
		if err != nil {
			return nil, tarn.Errorf(tarn.EINVALID, "input %s: %w", req.Ident, err)
		}
		expr = filter.pushdown(schema, false)
		for _, c := range filter.Columns() {
			read[c] = true
		}
	}
	arrowSchema, err := icetable.SchemaToArrowSchema(schema, nil, false, false)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", req.Ident, err)
	}
	var schemaMsg bytes.Buffer
	sw := ipc.NewWriter(&schemaMsg, ipc.WithSchema(stripMetadata(arrowSchema)))
	if err := sw.Close(); err != nil {
		return nil, err
	}
	plan := &InputPlan{Files: []string{}, Schema: schemaMsg.Bytes()}
	for _, n := range names {
		if len(req.Columns) == 0 || slices.Contains(req.Columns, n) {
			plan.Columns = append(plan.Columns, n)
		}
	}
	meta := tbl.Metadata()
	if len(meta.Schemas()) > 1 {
		plan.Fallback = "its schema changed over its history (files are read by field id)"
		return plan, nil
	}
	snap := meta.CurrentSnapshot()
	if snap == nil {
		return plan, nil
	}
	if snap.Summary != nil {
		plan.TotalFiles = int(propInt(snap.Summary.Properties, "total-data-files"))
		if propInt(snap.Summary.Properties, "total-delete-files") > 0 {
			plan.Fallback = "it has row-level delete files"
			return plan, nil
		}
	}
	tasks, err := tbl.Scan(icetable.WithRowFilter(expr)).PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan scan of %s: %w", req.Ident, err)
	}
	seen := map[string]bool{}
	var remote []objcache.Object
	var remoteAt []int // index in plan.Files of each remote file
	for _, task := range tasks {
		if hasDeletes(task) {
			plan.Fallback = "it has row-level delete files"
			return plan, nil
		}
		loc := task.File.FilePath()
		if seen[loc] { // large files are split into several tasks
			continue
		}
		seen[loc] = true
		p, ok := localPath(loc)
		if !ok {
			remote = append(remote, objcache.Object{Location: loc, Size: task.File.FileSizeBytes()})
			remoteAt = append(remoteAt, len(plan.Files))
		}
		plan.Files = append(plan.Files, p)
		plan.Rows += task.File.Count()
		plan.Bytes += task.File.FileSizeBytes()
		plan.EstimatedBytes += arrowEstimate(schema, task.File, func(name string) bool { return len(req.Columns) == 0 || read[name] })
	}
	plan.TotalFiles = max(plan.TotalFiles, len(plan.Files))
	if len(remote) > 0 {
		// The workers read local copies, pinned in the object cache
		// until the run releases the plan.
		var cost fetched
		paths, release, err := s.localCopies(ctx, remote, &cost)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", req.Ident, err)
		}
		for i, at := range remoteAt {
			plan.Files[at] = paths[i]
		}
		plan.release = release
		plan.Downloaded, plan.DownloadedBytes, plan.DownloadSeconds = cost.Files, cost.Bytes, cost.Wait.Seconds()
	}
	return plan, nil
}

// arrowEstimate estimates the Arrow size of the columns of a data file
// that read selects: exact for fixed-width types, and for the others four
// bytes of offsets per row plus three times their size on disk
// (compression and dictionaries undone).
func arrowEstimate(schema *iceberg.Schema, df iceberg.DataFile, read func(string) bool) int64 {
	rows := df.Count()
	sizes := df.ColumnSizes()
	var n int64
	for _, f := range schema.Fields() {
		if !read(f.Name) {
			continue
		}
		switch t := f.Type.(type) {
		case iceberg.BooleanType:
			n += rows/8 + 1
		case iceberg.Int32Type, iceberg.Float32Type, iceberg.DateType:
			n += 4 * rows
		case iceberg.Int64Type, iceberg.Float64Type, iceberg.TimeType, iceberg.TimestampType, iceberg.TimestampTzType,
			iceberg.TimestampNsType, iceberg.TimestampTzNsType:
			n += 8 * rows
		case iceberg.DecimalType, iceberg.UUIDType:
			n += 16 * rows
		case iceberg.FixedType:
			n += int64(t.Len()) * rows
		default:
			n += 4*rows + 3*sizes[f.ID]
		}
	}
	return n
}
