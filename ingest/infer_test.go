package ingest_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/tarnhq/tarn/ingest"
)

func micros(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func days(s string) int32 {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return int32(t.Unix() / 86400)
}

func TestInfer_CSVTypes(t *testing.T) {
	tests := []struct {
		name   string
		values []string // column "c"; "" is null
		want   arrow.DataType
		read   []any // values read back, nil to skip
	}{
		{"int", []string{"1", "-2", "", "+3"}, arrow.PrimitiveTypes.Int64, []any{int64(1), int64(-2), nil, int64(3)}},
		{"int and float widen to float", []string{"1", "2.5", "1e3"}, arrow.PrimitiveTypes.Float64, []any{1.0, 2.5, 1000.0}},
		{"int beyond int64 is float", []string{"99999999999999999999"}, arrow.PrimitiveTypes.Float64, nil},
		{"bool", []string{"true", "FALSE", "True"}, arrow.FixedWidthTypes.Boolean, []any{true, false, true}},
		{"date", []string{"2024-01-02", "1969-12-31"}, arrow.FixedWidthTypes.Date32, []any{days("2024-01-02"), int32(-1)}},
		{"timestamp with offset", []string{"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123456+02:00"}, tsUTC,
			[]any{micros("2024-01-02T03:04:05Z"), micros("2024-01-02T01:04:05.123456Z")}},
		{"timestamp without offset", []string{"2024-01-02 03:04:05", "2024-01-02T03:04:05.5"}, tsNaive,
			[]any{micros("2024-01-02T03:04:05Z"), micros("2024-01-02T03:04:05.5Z")}},
		{"date and timestamp widen to timestamp", []string{"2024-01-02", "2024-01-02 03:04:05"}, tsNaive,
			[]any{micros("2024-01-02T00:00:00Z"), micros("2024-01-02T03:04:05Z")}},
		{"naive and offset timestamps are strings", []string{"2024-01-02 03:04:05", "2024-01-02T03:04:05Z"}, arrow.BinaryTypes.String, nil},
		{"int and bool are strings", []string{"1", "true"}, arrow.BinaryTypes.String, []any{"1", "true"}},
		{"text", []string{"abc", "1", "007"}, arrow.BinaryTypes.String, []any{"abc", "1", "007"}},
		{"nan is text", []string{"NaN", "Inf"}, arrow.BinaryTypes.String, nil},
		{"only nulls", []string{"", ""}, arrow.BinaryTypes.String, []any{nil, nil}},
		{"bad date is text", []string{"2024-13-01"}, arrow.BinaryTypes.String, nil},
		{"one bad value makes text", []string{"1", "2", "x"}, arrow.BinaryTypes.String, []any{"1", "2", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var b strings.Builder
			b.WriteString("id,c\n")
			for _, v := range tt.values {
				b.WriteString("1," + v + "\n")
			}
			src := infer(t, writeFile(t, dir, "t.csv", b.String()))
			if got := src.Schema.Field(1).Type; !arrow.TypeEqual(got, tt.want) {
				t.Fatalf("type %s, want %s", got, tt.want)
			}
			if !src.Schema.Field(1).Nullable {
				t.Error("field not nullable")
			}
			if tt.read == nil {
				return
			}
			got, _, err := readAll(t, src, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got["c"], tt.read) {
				t.Errorf("read %#v, want %#v", got["c"], tt.read)
			}
		})
	}
}

func TestInfer_CSVQuotedAndTSV(t *testing.T) {
	dir := t.TempDir()
	src := infer(t,
		writeFile(t, dir, "a.csv", "\ufeffname,n\n\"multi\nline, with comma\",1\n\"say \"\"hi\"\"\",2\n"),
		writeFile(t, dir, "b.tsv", "name\tn\nx,y\t3\n"),
	)
	got, _, err := readAll(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]any{
		"name": {"multi\nline, with comma", `say "hi"`, "x,y"},
		"n":    {int64(1), int64(2), int64(3)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestInfer_JSONLTypes(t *testing.T) {
	tests := []struct {
		name   string
		values []string // JSON values of key "c"; "" means key absent
		want   arrow.DataType
		read   []any
	}{
		{"int", []string{"1", "-2", "null", ""}, arrow.PrimitiveTypes.Int64, []any{int64(1), int64(-2), nil, nil}},
		{"int and float widen to float", []string{"1", "2.5", "1.0"}, arrow.PrimitiveTypes.Float64, []any{1.0, 2.5, 1.0}},
		{"huge integer is float", []string{"123456789012345678901234"}, arrow.PrimitiveTypes.Float64, []any{1.2345678901234568e23}},
		{"bool", []string{"true", "false"}, arrow.FixedWidthTypes.Boolean, []any{true, false}},
		{"string", []string{`"a"`, `"\u00e9\n"`}, arrow.BinaryTypes.String, []any{"a", "é\n"}},
		{"numeric strings stay strings", []string{`"1"`, `"2"`}, arrow.BinaryTypes.String, []any{"1", "2"}},
		{"date strings stay strings", []string{`"2024-01-02"`}, arrow.BinaryTypes.String, []any{"2024-01-02"}},
		{"rfc3339 timestamp", []string{`"2024-01-02T03:04:05Z"`, `"2024-01-02T03:04:05.25-01:00"`}, tsUTC,
			[]any{micros("2024-01-02T03:04:05Z"), micros("2024-01-02T04:04:05.25Z")}},
		{"naive timestamp stays string", []string{`"2024-01-02T03:04:05"`}, arrow.BinaryTypes.String, nil},
		{"nested as compact json", []string{`{"a": [1, 2], "b": {"z": null}}`, `[ 1 , "x" ]`}, arrow.BinaryTypes.String,
			[]any{`{"a":[1,2],"b":{"z":null}}`, `[1,"x"]`}},
		{"number and string widen to string", []string{"1", `"x"`}, arrow.BinaryTypes.String, []any{"1", "x"}},
		{"bool and number widen to string", []string{"true", "2"}, arrow.BinaryTypes.String, []any{"true", "2"}},
		{"only nulls", []string{"null", ""}, arrow.BinaryTypes.String, []any{nil, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var b strings.Builder
			for _, v := range tt.values {
				if v == "" {
					b.WriteString("{\"id\": 1}\n\n")
				} else {
					b.WriteString(`{"id": 1, "c": ` + v + "}\r\n")
				}
			}
			src := infer(t, writeFile(t, dir, "t.jsonl", b.String()))
			if got := src.Schema.Field(1).Type; !arrow.TypeEqual(got, tt.want) {
				t.Fatalf("type %s, want %s", got, tt.want)
			}
			if tt.read == nil {
				return
			}
			got, _, err := readAll(t, src, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got["c"], tt.read) {
				t.Errorf("read %#v, want %#v", got["c"], tt.read)
			}
		})
	}
}

func TestInfer_JSONLColumnOrder(t *testing.T) {
	dir := t.TempDir()
	src := infer(t, writeFile(t, dir, "t.ndjson", "{\"b\": 1}\n{\"a\": \"x\", \"b\": 2, \"c\": true}\n"))
	var names []string
	for _, f := range src.Schema.Fields() {
		names = append(names, f.Name)
	}
	if want := []string{"b", "a", "c"}; !reflect.DeepEqual(names, want) {
		t.Errorf("columns %v, want %v", names, want)
	}
}

func TestInfer_HeaderOnlyCSV(t *testing.T) {
	dir := t.TempDir()
	src := infer(t, writeFile(t, dir, "h.csv", "a,b\n"))
	want := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	if !src.Schema.Equal(want) {
		t.Fatalf("schema %v, want %v", src.Schema, want)
	}
	got, batches, err := readAll(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if batches != 0 || len(got) != 0 {
		t.Errorf("got %d batches %v, want none", batches, got)
	}
}

func TestInfer_Unify(t *testing.T) {
	dir := t.TempDir()
	src := infer(t,
		writeFile(t, dir, "a.csv", "i,f,d,m,n\n1,1,2024-01-01,1,\n"),
		writeFile(t, dir, "b.csv", "n,f,d,i,extra\n5,2.5,2024-01-01T10:00:00Z,2,x\n"),
		writeFile(t, dir, "c.jsonl", `{"m": true, "i": 3}`+"\n"),
	)
	want := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "d", Type: tsUTC, Nullable: true},
		{Name: "m", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "extra", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	if !src.Schema.Equal(want) {
		t.Fatalf("schema\n%v\nwant\n%v", src.Schema, want)
	}
	got, _, err := readAll(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantVals := map[string][]any{
		"i":     {int64(1), int64(2), int64(3)},
		"f":     {1.0, 2.5, nil},
		"d":     {micros("2024-01-01T00:00:00Z"), micros("2024-01-01T10:00:00Z"), nil},
		"m":     {"1", nil, "true"},
		"n":     {nil, int64(5), nil},
		"extra": {nil, "x", nil},
	}
	if !reflect.DeepEqual(got, wantVals) {
		t.Errorf("got %#v\nwant %#v", got, wantVals)
	}
}

func TestInfer_Errors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		want    []string
		line    int
	}{
		{"Err/ragged row", "ragged.csv", "a,b\n1,2\n3\n", []string{"ragged.csv:3: row has 1 fields, header has 2"}, 3},
		{"Err/ragged row after quoted newline", "q.csv", "a,b\n\"x\ny\",2\n3,4,5\n", []string{"q.csv:4: row has 3 fields, header has 2"}, 4},
		{"Err/bare quote", "bq.csv", "a,b\n1,2\n3,x\"y\n", []string{"bq.csv:3:", `bare "`}, 3},
		{"Err/empty csv", "empty.csv", "", []string{"empty.csv: file is empty"}, 0},
		{"Err/empty jsonl", "empty.jsonl", "", []string{"empty.jsonl: file is empty"}, 0},
		{"Err/empty parquet", "empty.parquet", "", []string{"empty.parquet: file is empty"}, 0},
		{"Err/blank jsonl", "blank.jsonl", "\n  \n\n", []string{"blank.jsonl: file is empty"}, 0},
		{"Err/duplicate header", "dup.csv", "a,b,a\n1,2,3\n", []string{"dup.csv:1:", `duplicate column name "a"`, "columns 1 and 3"}, 1},
		{"Err/empty header name", "eh.csv", "a,,c\n1,2,3\n", []string{"eh.csv:1:", "empty column name", "column 2"}, 1},
		{"Err/jsonl array line", "arr.jsonl", "{\"a\":1}\n[1,2]\n", []string{"arr.jsonl:2: line is not a JSON object"}, 2},
		{"Err/jsonl scalar line", "sc.jsonl", "{\"a\":1}\n\n42\n", []string{"sc.jsonl:3: line is not a JSON object"}, 3},
		{"Err/jsonl bad json", "bad.jsonl", "{\"a\":1}\n{\"a\":}\n", []string{"bad.jsonl:2: invalid JSON"}, 2},
		{"Err/jsonl truncated", "tr.jsonl", "{\"a\":1\n", []string{"tr.jsonl:1: invalid JSON"}, 1},
		{"Err/jsonl trailing data", "td.jsonl", "{\"a\":1} {\"b\":2}\n", []string{"td.jsonl:1: unexpected data after the JSON object"}, 1},
		{"Err/not parquet", "junk.parquet", "this is not parquet at all", []string{"junk.parquet: not a valid parquet file"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, tt.file, tt.content)
			_, err := ingest.Infer(context.Background(), files(t, p))
			ie := asError(t, err, tt.want...)
			if ie.Line != tt.line {
				t.Errorf("line %d, want %d", ie.Line, tt.line)
			}
			if ie.File != p {
				t.Errorf("file %q, want %q", ie.File, p)
			}
		})
	}
}

func TestInfer_ReportsFirstBadFile(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		paths = append(paths, writeFile(t, dir, n+".csv", "x\n1\n"))
	}
	writeFile(t, dir, "c.csv", "x\n1,2\n")
	writeFile(t, dir, "e.csv", "x,x\n")
	_, err := ingest.Infer(context.Background(), files(t, paths...))
	asError(t, err, "c.csv:2:")
}

func TestInfer_Canceled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ingest.Infer(ctx, files(t, writeFile(t, dir, "a.csv", "x\n1\n")))
	if err != context.Canceled {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// TestSource_AllKeysSeen: true only for a JSON Lines file that inference
// read to its end (a sample as long as the file or longer, or no sample).
func TestSource_AllKeysSeen(t *testing.T) {
	dir := t.TempDir()
	jsonl := writeFile(t, dir, "a.jsonl", "{\"a\": 1}\n{\"a\": 2}\n\n{\"a\": 3}\n\n")
	csv := writeFile(t, dir, "a.csv", "a\n1\n2\n3\n")
	for _, tc := range []struct {
		name   string
		path   string
		sample int
		want   bool
	}{
		{"JSONLSampleShorter", jsonl, 2, false},
		{"JSONLSampleAsLong", jsonl, 3, true},
		{"JSONLSampleLonger", jsonl, 10, true},
		{"JSONLEveryRow", jsonl, 0, true},
		{"CSV", csv, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := ingest.InferSample(context.Background(), files(t, tc.path), tc.sample)
			if err != nil {
				t.Fatal(err)
			}
			if got := src.AllKeysSeen(0); got != tc.want {
				t.Fatalf("AllKeysSeen = %v, want %v", got, tc.want)
			}
		})
	}
	if (&ingest.Source{Files: files(t, jsonl)}).AllKeysSeen(0) {
		t.Fatal("a Source built by hand: AllKeysSeen")
	}
}
