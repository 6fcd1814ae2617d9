package table

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
)

// A BulkWriter writes the rows of input files as Parquet data files of a
// table, with an engine that parses and writes in parallel. The query
// package's Importer is one (embedded DuckDB); Config.Bulk sets it. An
// import without one, or one it declines (ErrBulkUnsupported), goes
// through ingest's reader and iceberg-go's writer.
type BulkWriter interface {
	WriteFiles(ctx context.Context, job BulkJob) (*BulkResult, error)
}

// ErrBulkUnsupported is what a BulkWriter returns (wrapped) for a job it
// cannot do, such as a column type it does not write; the import then
// takes the general path.
var ErrBulkUnsupported = errors.New("not supported by the bulk writer")

// BulkJob is one import for a BulkWriter.
type BulkJob struct {
	// Inputs are the files, in order.
	Inputs []BulkInput
	// Columns are the table's columns, in order: every file's rows are
	// written with exactly these names, field ids and types.
	Columns []BulkColumn
	// Dir is a local folder that does not exist yet: the writer creates it
	// and writes only there. On error the caller removes it.
	Dir string
	// Progress, when set, is called now and then with the bytes written
	// so far.
	Progress func(written int64)
}

// BulkInput is one input file with the columns it holds.
type BulkInput struct {
	Path    string
	Format  ingest.Format
	Columns []string
	// AllKeysSeen is true for a JSON Lines file whose every row inference
	// read: no row has a key outside Columns, so it needs no key check.
	AllKeysSeen bool
}

// BulkColumn is a table column: its Iceberg field id and Arrow type.
type BulkColumn struct {
	Name    string
	FieldID int
	Type    arrow.DataType
}

// BulkResult lists the Parquet files written (absolute paths) and the rows.
type BulkResult struct {
	Files []string
	Rows  int64
}

// Progress is how an import reports as it goes (see WithProgress).
type Progress struct {
	// Table is the table written.
	Table string
	// Written is the bytes of data files written so far, Total the bytes
	// of the input files.
	Written int64
	Total   int64
	Elapsed time.Duration
}

type progressKey struct{}

// WithProgress returns a context under which Create and Import call fn
// about once a second while they write data files.
func WithProgress(ctx context.Context, fn func(Progress)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

func progressOf(ctx context.Context) func(Progress) {
	fn, _ := ctx.Value(progressKey{}).(func(Progress))
	return fn
}

// bulkAppend writes src's rows with the bulk writer and adds the files to
// tx. It returns handled=false, with nothing written, when the import must
// take the general path: no bulk writer, a partitioned table, a warehouse
// not on local disk, required columns, or a job the writer declines.
func (s *Service) bulkAppend(ctx context.Context, tbl *icetable.Table, src *ingest.Source, tx *icetable.Transaction, schema *iceberg.Schema, target *arrow.Schema) (handled bool, err error) {
	if s.bulk == nil {
		return false, nil
	}
	staged, err := tx.StagedTable()
	if err != nil {
		return false, err
	}
	if !staged.Spec().IsUnpartitioned() {
		return false, nil
	}
	loc, err := url.Parse(staged.Location())
	if err != nil || loc.Scheme != "file" {
		return false, nil
	}
	job := BulkJob{Dir: filepath.Join(loc.Path, "data", "import-"+uuid.NewString())}
	for i, f := range schema.Fields() {
		if f.Required {
			return false, nil
		}
		job.Columns = append(job.Columns, BulkColumn{Name: f.Name, FieldID: f.ID, Type: target.Field(i).Type})
	}
	var total int64
	for i, f := range src.Files {
		cols := src.Columns(i)
		if cols == nil {
			return false, nil
		}
		job.Inputs = append(job.Inputs, BulkInput{Path: f.Path, Format: f.Format, Columns: cols, AllKeysSeen: src.AllKeysSeen(i)})
		total += f.Size
	}
	if fn := progressOf(ctx); fn != nil {
		started := time.Now()
		name := strings.Join(tbl.Identifier(), ".")
		job.Progress = func(written int64) {
			fn(Progress{Table: name, Written: written, Total: total, Elapsed: time.Since(started)})
		}
	}
	// The write's lease starts before the engine's first file, so garbage
	// collection leaves the files alone until the commit references them
	// (the session's log would take it only at the first metadata file).
	log := writeLogOf(ctx, tbl)
	if log != nil {
		log.add()
	}
	res, err := s.bulk.WriteFiles(ctx, job)
	if errors.Is(err, ErrBulkUnsupported) {
		os.RemoveAll(job.Dir)
		return false, nil
	}
	if err != nil {
		os.RemoveAll(job.Dir)
		if ctx.Err() == nil {
			// Report the problem as the general path would (DuckDB's
			// messages do not always say where, and name DuckDB's types):
			// find the row with ingest's reader, which names file, line
			// and column. This reads the input again, on failure only.
			located, clean := s.locate(ctx, src, target)
			if located != nil {
				return true, located
			}
			if clean {
				// ingest reads every row: DuckDB refused what tarn
				// accepts (the JSON string "+5" as an integer, say). The
				// general path imports it; nothing was committed.
				return false, nil
			}
		}
		return true, err
	}
	paths := make([]string, len(res.Files))
	for i, p := range res.Files {
		paths[i] = (&url.URL{Scheme: "file", Path: p}).String()
	}
	if len(paths) == 0 {
		os.RemoveAll(job.Dir)
		return true, nil
	}
	if log != nil {
		// Recorded like the general path's files: a write that is refused
		// or superseded removes them.
		log.add(paths...)
	}
	if err := tx.AddFiles(ctx, paths, iceberg.Properties{}, true); err != nil {
		os.RemoveAll(job.Dir)
		return true, fmt.Errorf("add the imported files to table %s: %w", strings.Join(tbl.Identifier(), "."), err)
	}
	return true, nil
}

// locate reads src with ingest's reader until the first located error;
// clean says it read every row without an error.
func (s *Service) locate(ctx context.Context, src *ingest.Source, target *arrow.Schema) (_ error, clean bool) {
	rdr, err := src.Records(ctx, target)
	if err != nil {
		return located(err), false
	}
	defer rdr.Release()
	for rdr.Next() {
	}
	return located(rdr.Err()), rdr.Err() == nil
}

func located(err error) error {
	var ie *ingest.Error
	if errors.As(err, &ie) {
		return err
	}
	return nil
}

// widenHint adds to a value that does not fit a type inferred from a
// sample how to give the column a wider type.
func widenHint(err error, src *ingest.Source, creating bool) error {
	var ie *ingest.Error
	if !errors.As(err, &ie) || ie.Line == 0 || ie.Column == "" {
		return err
	}
	switch {
	case creating && src.Sampled > 0:
		return tarn.Errorf(tarn.EINVALID, "%w (the column's type was inferred from the first %d rows of each file: infer from more with --infer-rows N, 0 for all, or set the type in a plan: `tarn table create T --from F --plan > p.yaml`, edit it, then `--apply p.yaml`); nothing was written", err, src.Sampled)
	case creating:
		return tarn.Errorf(tarn.EINVALID, "%w (set the column's type in a plan: `--plan`, edit, `--apply`); nothing was written", err)
	}
	return tarn.Errorf(tarn.EINVALID, "%w (the value does not fit the table's column; nothing was written)", err)
}

// writeLogOf returns the log of the session tbl was loaded through, if
// any: its file system records what it writes.
func writeLogOf(ctx context.Context, tbl *icetable.Table) *writeLog {
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil
	}
	if rio, ok := fsys.(*recordingIO); ok {
		return rio.log
	}
	return nil
}
