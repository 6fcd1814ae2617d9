package ingest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/tarnhq/tarn"
)

// Source is a set of input files with one unified Arrow schema.
type Source struct {
	// Files are the input files, in the order Records reads them.
	Files []File
	// Schema is the unified schema of all files: every field nullable, no
	// field metadata.
	Schema *arrow.Schema

	// Sampled is the number of rows per CSV or JSON Lines file the types
	// were inferred from (0: every row). A later value that does not fit
	// its column's type is an *Error when the rows are read.
	Sampled int

	// infos holds what Infer learned per file (same order as Files); nil
	// for a Source built by hand.
	infos []*fileInfo
}

// Columns returns the column names of file i in the order the file holds
// them, or nil when Infer did not read it (a Source built by hand).
func (s *Source) Columns(i int) []string {
	if i < 0 || i >= len(s.infos) || s.infos[i] == nil || i >= len(s.Files) || s.infos[i].path != s.Files[i].Path {
		return nil
	}
	return s.infos[i].names
}

// AllKeysSeen reports whether file i is JSON Lines and inference read
// every row of it, so that no row has a key that is not one of
// Columns(i): a reader that drops unknown keys needs no check of it.
func (s *Source) AllKeysSeen(i int) bool {
	return s.Columns(i) != nil && s.infos[i].whole
}

// DefaultSampleRows is how many rows of each CSV or JSON Lines file
// InferSample reads by default to infer the columns' types.
const DefaultSampleRows = 100_000

// fileInfo is the schema of one file as inferred, before unification.
type fileInfo struct {
	path    string
	names   []string
	types   []arrow.DataType // arrow.Null for columns with only nulls
	textual bool             // CSV or JSON Lines
	whole   bool             // a JSON Lines file inferred from every row
}

// Infer reads the files and returns them with their unified schema.
//
// CSV and JSON Lines files are read in full, so inferred types fit every
// value and every malformed row is reported now rather than halfway through
// a write; Parquet files contribute the schema in their footer. Columns are
// matched by name across files; the order is the first file's, then new
// columns in order of appearance. Differing types are unified: integers
// widen to long, integers and floats to double, date and timestamp to
// timestamp, and for columns that come from CSV or JSON Lines any other mix
// of flat types to string; a Parquet-only column with incompatible types is
// an *Error naming both files. Columns holding only nulls become string.
//
// Column names must pass CheckSchema, in each file and across them: no two
// columns whose names differ only in case (SQL would take one for the
// other), at most tarn.MaxColumns columns in all.
func Infer(ctx context.Context, files []File) (*Source, error) {
	return InferSample(ctx, files, 0)
}

// InferSample is Infer reading only the first sample rows of each CSV and
// JSON Lines file (0: every row), so inference costs the same whatever the
// file's size. Values after the sample are checked as the rows are read:
// one that does not parse as its column's type, or a JSON key first seen
// after the sample, is an *Error with the file, line and column. Parquet
// files contribute their footer.
func InferSample(ctx context.Context, files []File, sample int) (*Source, error) {
	if sample < 0 {
		sample = 0
	}
	if len(files) == 0 {
		return nil, &Error{Msg: "no input files given"}
	}
	infos := make([]*fileInfo, len(files))
	errs := make([]error, len(files))

	// Read files in parallel, report the error of the first failing file.
	workers := min(runtime.GOMAXPROCS(0), len(files))
	next := make(chan int)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		firstFail = len(files) // lowest failing index; later files are skipped
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				mu.Lock()
				skip := i > firstFail
				mu.Unlock()
				if skip {
					continue
				}
				infos[i], errs[i] = inferFile(ctx, files[i], sample)
				if errs[i] != nil {
					mu.Lock()
					firstFail = min(firstFail, i)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
	}

	schema, err := unify(infos)
	if err != nil {
		return nil, err
	}
	return &Source{Files: append([]File(nil), files...), Schema: schema, Sampled: sample, infos: infos}, nil
}

// inferFile infers the schema of one file.
func inferFile(ctx context.Context, f File, sample int) (*fileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(f.Path)
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	if st.Size() == 0 {
		return nil, &Error{File: f.Path, Msg: "file is empty"}
	}
	var info *fileInfo
	switch f.Format {
	case CSV:
		info, err = inferCSV(ctx, f, sample)
	case JSONL:
		info, err = inferJSONL(ctx, f, sample)
	case Parquet:
		info, err = inferParquet(f)
	default:
		return nil, &Error{File: f.Path, Msg: fmt.Sprintf("unknown format %q", f.Format)}
	}
	if err != nil {
		return nil, err
	}
	info.path = f.Path
	return info, nil
}

// unify merges per-file schemas into one (see Infer for the rules).
func unify(infos []*fileInfo) (*arrow.Schema, error) {
	// A column is textual if any file that has it is CSV or JSON Lines;
	// decided up front so the result does not depend on file order.
	textual := make(map[string]bool)
	for _, info := range infos {
		if info.textual {
			for _, n := range info.names {
				textual[n] = true
			}
		}
	}
	var names []string
	var checked tarn.ColumnNames
	types := make(map[string]arrow.DataType)
	origin := make(map[string]string) // file the current type came from
	for _, info := range infos {
		for i, name := range info.names {
			dt := info.types[i]
			cur, ok := types[name]
			if !ok {
				if j, clash := checked.Position(name); clash {
					return nil, &Error{File: info.path, Column: name, Msg: fmt.Sprintf(
						"differs only in case from column %s in %s, and SQL does not tell them apart: rename one of them",
						tarn.Quote(names[j]), origin[names[j]])}
				}
				if err := checked.Add(name); err != nil {
					return nil, &Error{File: info.path, Msg: err.Error()}
				}
				names = append(names, name)
				types[name] = dt
				origin[name] = info.path
				continue
			}
			u, ok := unifyTypes(cur, dt, textual[name])
			if !ok {
				return nil, &Error{File: info.path, Column: name,
					Msg: fmt.Sprintf("type %s conflicts with type %s in %s", typeName(dt), typeName(cur), origin[name])}
			}
			if !arrow.TypeEqual(u, cur) {
				types[name] = u
				origin[name] = info.path
			}
		}
	}
	fields := make([]arrow.Field, len(names))
	for i, name := range names {
		dt := types[name]
		if dt.ID() == arrow.NULL {
			dt = arrow.BinaryTypes.String
		}
		fields[i] = arrow.Field{Name: name, Type: dt, Nullable: true}
	}
	if err := checkFields("", fields, false); err != nil {
		if err.Column == "" {
			err.Msg = "the files have " + strconv.Itoa(len(fields)) + " columns together: " + err.Msg
		}
		return nil, err
	}
	return arrow.NewSchema(fields, nil), nil
}

// checkColumns validates a file's columns against the target schema: every
// file column must be in target, and target columns missing from the file
// must be nullable.
func checkColumns(path string, names []string, target *arrow.Schema) error {
	have := make(map[string]bool, len(names))
	for _, n := range names {
		if len(target.FieldIndices(n)) == 0 {
			return &Error{File: path, Column: n, Msg: "not in the target schema"}
		}
		have[n] = true
	}
	for _, f := range target.Fields() {
		if !have[f.Name] && !f.Nullable {
			return &Error{File: path, Column: f.Name, Msg: "missing from file and the target column is not nullable"}
		}
	}
	return nil
}
