package ingest_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tarnhq/tarn/ingest"
)

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.csv", "a.csv", "c.txt", "d.PARQUET", "e.ndjson", "f.tsv", "g.json", "h.pq", "i.jsonl", "_SUCCESS", ".hidden.csv"} {
		writeFile(t, dir, n, "x\n1\n")
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub.csv"), "z.csv", "x\n1\n")
	empty := t.TempDir()
	writeFile(t, empty, "notes.txt", "hi")
	j := func(n string) string { return filepath.Join(dir, n) }

	type want struct {
		path   string
		format ingest.Format
	}
	tests := []struct {
		name     string
		patterns []string
		want     []want
	}{
		{"OK/glob", []string{j("*.csv")}, []want{{j("a.csv"), ingest.CSV}, {j("b.csv"), ingest.CSV}}},
		{"OK/glob skips unsupported", []string{j("[abc].*")}, []want{{j("a.csv"), ingest.CSV}, {j("b.csv"), ingest.CSV}}},
		{"OK/directory", []string{dir}, []want{
			{j("a.csv"), ingest.CSV}, {j("b.csv"), ingest.CSV}, {j("d.PARQUET"), ingest.Parquet},
			{j("e.ndjson"), ingest.JSONL}, {j("f.tsv"), ingest.CSV}, {j("g.json"), ingest.JSONL},
			{j("h.pq"), ingest.Parquet}, {j("i.jsonl"), ingest.JSONL},
		}},
		{"OK/plain paths in order, deduplicated", []string{j("f.tsv"), j("a.csv"), j("*.tsv")}, []want{{j("f.tsv"), ingest.CSV}, {j("a.csv"), ingest.CSV}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ingest.Expand(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			var gotW []want
			for _, f := range got {
				gotW = append(gotW, want{f.Path, f.Format})
				if f.Size != 4 {
					t.Errorf("%s: size %d, want 4", f.Path, f.Size)
				}
			}
			if !reflect.DeepEqual(gotW, tt.want) {
				t.Errorf("got %v\nwant %v", gotW, tt.want)
			}
		})
	}

	errTests := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{"Err/glob matches nothing", []string{filepath.Join(dir, "x", "*.csv")}, []string{`no file matches "` + filepath.Join(dir, "x", "*.csv") + `"`}},
		{"Err/glob matches no supported file", []string{j("*.txt")}, []string{"no supported file matches", ".parquet", ".csv", ".jsonl"}},
		{"Err/unknown extension", []string{j("c.txt")}, []string{"c.txt", `unsupported file extension ".txt"`, ".csv", ".parquet", ".jsonl"}},
		{"Err/missing file", []string{j("nope.csv")}, []string{"nope.csv", "no such file"}},
		{"Err/directory without supported file", []string{empty}, []string{empty, "directory has no supported file"}},
		{"Err/no patterns", nil, []string{"no input files"}},
		{"Err/bad pattern", []string{j("[")}, []string{"invalid pattern"}},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ingest.Expand(tt.patterns)
			asError(t, err, tt.want...)
		})
	}
}

func TestError_Format(t *testing.T) {
	tests := []struct {
		err  ingest.Error
		want string
	}{
		{ingest.Error{File: "trips.csv", Line: 12, Column: "fare", Msg: `cannot parse "abc" as double`}, `trips.csv:12: column "fare": cannot parse "abc" as double`},
		{ingest.Error{File: "trips.csv", Msg: "file is empty"}, "trips.csv: file is empty"},
		{ingest.Error{File: "trips.csv", Line: 7, Msg: "row has 5 fields, header has 4"}, "trips.csv:7: row has 5 fields, header has 4"},
		{ingest.Error{Msg: `no file matches "x/*.csv"`}, `no file matches "x/*.csv"`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
