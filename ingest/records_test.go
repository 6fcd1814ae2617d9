package ingest_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/tarnhq/tarn/ingest"
)

func TestRecords_Batches(t *testing.T) {
	const n = 200_000
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,half,name\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,%d.5,n%d\n", i, i, i%7)
	}
	src := infer(t, writeFile(t, dir, "big.csv", b.String()))
	rr, err := src.Records(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var rows, sum int64
	var halfSum float64
	batches := 0
	for rr.Next() {
		rec := rr.RecordBatch()
		batches++
		if rec.NumRows() > 65536 {
			t.Errorf("batch of %d rows", rec.NumRows())
		}
		rows += rec.NumRows()
		for _, v := range rec.Column(0).(*array.Int64).Int64Values() {
			sum += v
		}
		for _, v := range rec.Column(1).(*array.Float64).Float64Values() {
			halfSum += v
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if batches < 2 {
		t.Errorf("got %d batches, want more than 1", batches)
	}
	if rows != n {
		t.Errorf("got %d rows, want %d", rows, n)
	}
	if want := int64(n) * (n - 1) / 2; sum != want {
		t.Errorf("sum %d, want %d", sum, want)
	}
	if want := float64(n)*(n-1)/2 + 0.5*n; halfSum != want {
		t.Errorf("half sum %f, want %f", halfSum, want)
	}
}

func TestRecords_BadValueInSecondFile(t *testing.T) {
	target := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "fare", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	tests := []struct {
		name   string
		first  string
		second string
		file   string
		line   int
		want   string
	}{
		{"Err/csv", "id,fare\n1,2.5\n", "id,fare\n2,3\n3,abc\n", "b.csv", 3, `b.csv:3: column "fare": cannot parse "abc" as double`},
		{"Err/csv after multiline field", "id,fare\n1,2.5\n", "fare,id\n1,\"2\nx\"\n", "b.csv", 2, `b.csv:2: column "id": cannot parse "2\nx" as long`},
		{"Err/jsonl", `{"id": 1, "fare": 2.5}` + "\n", `{"id": 2}` + "\n\n" + `{"id": 3, "fare": "x"}` + "\n", "b.jsonl", 3, `b.jsonl:3: column "fare": cannot parse "x" as double`},
		{"Err/jsonl nested", `{"id": 1}` + "\n", `{"id": [1]}` + "\n", "b.jsonl", 1, `b.jsonl:1: column "id": cannot parse "[1]" as long`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ext := tt.file[strings.LastIndex(tt.file, "."):]
			a := writeFile(t, dir, "a"+ext, tt.first)
			b := writeFile(t, dir, tt.file, tt.second)
			src := infer(t, a, b) // inference widens to string: no error yet
			rr, err := src.Records(context.Background(), target)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Release()
			if !rr.Next() {
				t.Fatalf("no batch from the first file: %v", rr.Err())
			}
			if got := rr.RecordBatch().Column(0).(*array.Int64).Value(0); got != 1 {
				t.Errorf("first id %d, want 1", got)
			}
			if rr.Next() {
				t.Fatal("got a batch from the bad file")
			}
			ie := asError(t, rr.Err(), strings.Replace(tt.want, tt.file, b, 1))
			if ie.File != b || ie.Line != tt.line {
				t.Errorf("error at %s:%d, want %s:%d", ie.File, ie.Line, b, tt.line)
			}
			if rr.Next() {
				t.Error("Next after an error returned true")
			}
		})
	}
}

func TestRecords_TargetColumns(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.csv", "x\n1\n2\n")
	j := writeFile(t, dir, "j.jsonl", `{"x": 3}`+"\n")
	src := infer(t, a, j)

	t.Run("OK/nullable missing column filled with nulls", func(t *testing.T) {
		target := arrow.NewSchema([]arrow.Field{
			{Name: "y", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: false},
			{Name: "z", Type: tsUTC, Nullable: true},
		}, nil)
		got, _, err := readAll(t, src, target)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]any{
			"y": {nil, nil, nil},
			"x": {int32(1), int32(2), int32(3)},
			"z": {nil, nil, nil},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v, want %#v", got, want)
		}
	})
	t.Run("Err/required missing column", func(t *testing.T) {
		target := arrow.NewSchema([]arrow.Field{
			{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			{Name: "y", Type: arrow.PrimitiveTypes.Int64, Nullable: false},
		}, nil)
		_, _, err := readAll(t, src, target)
		ie := asError(t, err, a, `column "y"`, "not nullable")
		if ie.Column != "y" {
			t.Errorf("column %q, want y", ie.Column)
		}
	})
	t.Run("Err/file column not in target", func(t *testing.T) {
		target := arrow.NewSchema([]arrow.Field{{Name: "X", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
		_, _, err := readAll(t, src, target)
		asError(t, err, a, `column "x"`, "not in the target schema")
	})
	t.Run("Err/text into unsupported type", func(t *testing.T) {
		target := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true}}, nil)
		_, err := src.Records(context.Background(), target)
		asError(t, err, a, `column "x"`, "cannot load text values into type list")
	})
	t.Run("Err/null in required column", func(t *testing.T) {
		n := writeFile(t, dir, "n.csv", "x\n1\n\"\"\n")
		target := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
		_, _, err := readAll(t, infer(t, n), target)
		asError(t, err, n+":3:", `column "x"`, "not nullable")
	})
	t.Run("Err/hand-built source, extra column", func(t *testing.T) {
		src := &ingest.Source{Files: files(t, a)}
		target := arrow.NewSchema([]arrow.Field{{Name: "y", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
		_, _, err := readAll(t, src, target)
		asError(t, err, a, `column "x"`, "not in the target schema")
	})
}

func TestRecords_TargetConversions(t *testing.T) {
	dir := t.TempDir()
	src := infer(t, writeFile(t, dir, "a.csv", "i,f,d,ts,b\n7, 1.5 ,2024-01-02,2024-01-02T03:04:05.123456789+01:00,TRUE\n"))
	target := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "d", Type: tsNaive, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	got, _, err := readAll(t, src, target)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]any{
		"i":  {7.0},
		"f":  {float32(1.5)},
		"d":  {micros("2024-01-02T00:00:00Z")},
		"ts": {micros("2024-01-02T02:04:05.123456Z")*1000 + 789},
		"b":  {"TRUE"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestRecords_Canceled(t *testing.T) {
	dir := t.TempDir()
	src := infer(t, writeFile(t, dir, "a.csv", "x\n1\n"))
	ctx, cancel := context.WithCancel(context.Background())
	rr, err := src.Records(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	cancel()
	if rr.Next() {
		t.Fatal("Next after cancel returned true")
	}
	if rr.Err() != context.Canceled {
		t.Errorf("got %v, want context.Canceled", rr.Err())
	}
}
