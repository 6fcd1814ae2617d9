package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzInfer: inference of any bytes never panics and fails only with an
// *Error; and since inference reads every row, a file it accepts must read
// back in full under the schema it chose, with as many rows as it counted.
func fuzzInfer(t *testing.T, name string, format Format, data []byte) {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src, err := Infer(ctx, []File{{Path: path, Format: format, Size: int64(len(data))}})
	if err != nil {
		var ie *Error
		if !errors.As(err, &ie) {
			t.Fatalf("Infer(%q): %v (%T) is not an *ingest.Error", data, err, err)
		}
		return
	}
	rr, err := src.Records(ctx, nil)
	if err != nil {
		t.Fatalf("Records after Infer(%q) accepted it: %v", data, err)
	}
	defer rr.Release()
	for rr.Next() {
		if rr.RecordBatch().NumCols() != int64(src.Schema.NumFields()) {
			t.Fatalf("%q: a batch of %d columns under a schema of %d", data, rr.RecordBatch().NumCols(), src.Schema.NumFields())
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatalf("reading %q after Infer accepted it with %v: %v", data, src.Schema, err)
	}
}

func FuzzInferCSV(f *testing.F) {
	for _, s := range []string{"id,zone,miles\n1,a,1.5\n2,b,\n", "a,b\n\"x,y\",2\n", "t\n2024-01-31\n2024-02-01T10:00:00Z\n", "n\n9223372036854775807\n9223372036854775808\n",
		"a,a\n1,2\n", "x\n", "", "a,b\n1\n", "\"open\n", "b\ntrue\nFALSE\n", "d\n1e5\n-0.0\nNaN\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzInfer(t, "in.csv", CSV, data) })
}

func FuzzInferJSONL(f *testing.F) {
	for _, s := range []string{`{"id":1,"zone":"a"}` + "\n" + `{"id":2.5,"extra":[1,2]}` + "\n", `{"a":{"b":1}}`, "{}\n{}\n", `{"a":1}{"a":2}`, "[1]\n", `{"a":"2024-01-31"}` + "\n" + `{"a":"2024-01-31T00:00:00Z"}`,
		`{"n":18446744073709551616}`, `{"a":null}`, "\n\n", `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzInfer(t, "in.jsonl", JSONL, data) })
}
