package ingest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/tarnhq/tarn/ingest"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeParquet writes one record built by build to dir/name.
func writeParquet(t *testing.T, dir, name string, schema *arrow.Schema, build func(b *array.RecordBuilder)) string {
	t.Helper()
	p := filepath.Join(dir, name)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	build(b)
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, nil, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// files expands paths, failing the test on error.
func files(t *testing.T, paths ...string) []ingest.File {
	t.Helper()
	fs, err := ingest.Expand(paths)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// infer expands and infers paths, failing the test on error.
func infer(t *testing.T, paths ...string) *ingest.Source {
	t.Helper()
	src, err := ingest.Infer(context.Background(), files(t, paths...))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// readAll reads every record and returns the values per column name plus the
// number of batches. Values are int64/int32/float64/float32/bool/string, Date32
// as int32 days, timestamps as int64 in their unit, nil for null.
func readAll(t *testing.T, src *ingest.Source, target *arrow.Schema) (map[string][]any, int, error) {
	t.Helper()
	rr, err := src.Records(context.Background(), target)
	if err != nil {
		return nil, 0, err
	}
	defer rr.Release()
	out := make(map[string][]any)
	batches := 0
	for rr.Next() {
		rec := rr.RecordBatch()
		batches++
		if !rec.Schema().Equal(rr.Schema()) {
			t.Fatalf("batch schema %v differs from reader schema %v", rec.Schema(), rr.Schema())
		}
		for i, f := range rec.Schema().Fields() {
			out[f.Name] = append(out[f.Name], values(t, rec.Column(i))...)
		}
	}
	return out, batches, rr.Err()
}

func values(t *testing.T, arr arrow.Array) []any {
	t.Helper()
	out := make([]any, arr.Len())
	for i := range out {
		if arr.IsNull(i) {
			continue
		}
		switch a := arr.(type) {
		case *array.Int64:
			out[i] = a.Value(i)
		case *array.Int32:
			out[i] = a.Value(i)
		case *array.Float64:
			out[i] = a.Value(i)
		case *array.Float32:
			out[i] = a.Value(i)
		case *array.Boolean:
			out[i] = a.Value(i)
		case *array.String:
			out[i] = a.Value(i)
		case *array.Date32:
			out[i] = int32(a.Value(i))
		case *array.Timestamp:
			out[i] = int64(a.Value(i))
		default:
			t.Fatalf("unexpected array type %s", arr.DataType())
		}
	}
	return out
}

// asError asserts err is an *ingest.Error whose text contains every want.
func asError(t *testing.T, err error, want ...string) *ingest.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	var ie *ingest.Error
	if !errors.As(err, &ie) {
		t.Fatalf("error %q (%T) is not an *ingest.Error", err, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	return ie
}

var (
	tsUTC   = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	tsNaive = &arrow.TimestampType{Unit: arrow.Microsecond}
)
