package ingest_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/tarnhq/tarn/ingest"
)

func TestInfer_ParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tsNs := &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	tsMs := &arrow.TimestampType{Unit: arrow.Millisecond}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Metadata: arrow.NewMetadata([]string{"k"}, []string{"v"})},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32},
		{Name: "s", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32},
		{Name: "ts", Type: tsNs},
		{Name: "tsms", Type: tsMs},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16},
	}, nil)
	p := writeParquet(t, dir, "t.parquet", schema, func(b *array.RecordBuilder) {
		b.Field(0).(*array.Int32Builder).AppendValues([]int32{1, -2}, nil)
		b.Field(1).(*array.Int64Builder).AppendValues([]int64{10, 0}, []bool{true, false})
		b.Field(2).(*array.Float32Builder).AppendValues([]float32{1.5, 2}, nil)
		b.Field(3).(*array.LargeStringBuilder).AppendValues([]string{"x", ""}, []bool{true, false})
		b.Field(4).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
		b.Field(5).(*array.Date32Builder).AppendValues([]arrow.Date32{19000, -1}, nil)
		b.Field(6).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_700_000_000_123_456_789, -1}, nil)
		b.Field(7).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_700_000_000_123, 0}, nil)
		b.Field(8).(*array.Uint16Builder).AppendValues([]uint16{65535, 0}, nil)
	})
	src := infer(t, p)
	want := arrow.NewSchema([]arrow.Field{
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: tsUTC, Nullable: true},
		{Name: "tsms", Type: tsNaive, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	if !src.Schema.Equal(want) {
		t.Fatalf("schema\n%v\nwant\n%v", src.Schema, want)
	}
	for _, f := range src.Schema.Fields() {
		if f.HasMetadata() {
			t.Errorf("field %s has metadata %v", f.Name, f.Metadata)
		}
	}
	got, _, err := readAll(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantVals := map[string][]any{
		"i32":  {int32(1), int32(-2)},
		"i64":  {int64(10), nil},
		"f32":  {float32(1.5), float32(2)},
		"s":    {"x", nil},
		"b":    {true, false},
		"d":    {int32(19000), int32(-1)},
		"ts":   {int64(1_700_000_000_123_456), int64(-1)},
		"tsms": {int64(1_700_000_000_123_000), int64(0)},
		"u16":  {int64(65535), int64(0)},
	}
	if !reflect.DeepEqual(got, wantVals) {
		t.Errorf("got %#v\nwant %#v", got, wantVals)
	}
}

func int64Parquet(t *testing.T, dir, name string, dt arrow.DataType, vals ...int64) string {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: dt, Nullable: true}}, nil)
	return writeParquet(t, dir, name, schema, func(b *array.RecordBuilder) {
		for _, v := range vals {
			switch fb := b.Field(0).(type) {
			case *array.Int32Builder:
				fb.Append(int32(v))
			case *array.Int64Builder:
				fb.Append(v)
			case *array.Uint64Builder:
				fb.Append(uint64(v))
			case *array.Float32Builder:
				fb.Append(float32(v))
			case *array.StringBuilder:
				fb.Append("s")
			}
		}
	})
}

func TestInfer_ParquetUnify(t *testing.T) {
	dir := t.TempDir()
	i32 := int64Parquet(t, dir, "a.parquet", arrow.PrimitiveTypes.Int32, 1, 2)
	i64 := int64Parquet(t, dir, "b.parquet", arrow.PrimitiveTypes.Int64, 1<<40)
	f32 := int64Parquet(t, dir, "c.parquet", arrow.PrimitiveTypes.Float32, 4)
	str := int64Parquet(t, dir, "d.parquet", arrow.BinaryTypes.String, 0)
	u64 := int64Parquet(t, dir, "e.parquet", arrow.PrimitiveTypes.Uint64, 1)
	csv := writeFile(t, dir, "f.csv", "x\nabc\n")

	tests := []struct {
		name  string
		paths []string
		want  arrow.DataType
		vals  []any
	}{
		{"OK/int32 and int64", []string{i32, i64}, arrow.PrimitiveTypes.Int64, []any{int64(1), int64(2), int64(1 << 40)}},
		{"OK/int32 and float32", []string{i32, f32}, arrow.PrimitiveTypes.Float64, []any{1.0, 2.0, 4.0}},
		{"OK/int64 and float32", []string{i64, f32}, arrow.PrimitiveTypes.Float64, []any{float64(1 << 40), 4.0}},
		{"OK/int and csv text", []string{i32, csv}, arrow.BinaryTypes.String, []any{"1", "2", "abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := infer(t, tt.paths...)
			if got := src.Schema.Field(0).Type; !arrow.TypeEqual(got, tt.want) {
				t.Fatalf("type %s, want %s", got, tt.want)
			}
			got, _, err := readAll(t, src, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got["x"], tt.vals) {
				t.Errorf("got %#v, want %#v", got["x"], tt.vals)
			}
		})
	}

	errTests := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"Err/string and int64", []string{str, i64}, []string{i64, `column "x"`, "type long conflicts with type string in " + str}},
		{"Err/uint64", []string{u64}, []string{u64, `column "x"`, "unsigned 64-bit"}},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ingest.Infer(context.Background(), files(t, tt.paths...))
			asError(t, err, tt.want...)
		})
	}
}

func TestRecords_ParquetTarget(t *testing.T) {
	dir := t.TempDir()
	good := writeParquet(t, dir, "a.parquet", arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.BinaryTypes.String, Nullable: true}}, nil),
		func(b *array.RecordBuilder) {
			b.Field(0).(*array.StringBuilder).AppendValues([]string{"1", "", "3"}, []bool{true, false, true})
		})
	bad := writeParquet(t, dir, "b.parquet", arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.BinaryTypes.String, Nullable: true}}, nil),
		func(b *array.RecordBuilder) {
			b.Field(0).(*array.StringBuilder).AppendValues([]string{"4", "five"}, nil)
		})
	wide := int64Parquet(t, dir, "c.parquet", arrow.PrimitiveTypes.Int64, 1<<40)
	target := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "y", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)

	t.Run("OK/text parsed, missing column null", func(t *testing.T) {
		got, _, err := readAll(t, infer(t, good), target)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]any{"x": {int32(1), nil, int32(3)}, "y": {nil, nil, nil}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v, want %#v", got, want)
		}
	})
	t.Run("Err/bad text in second file", func(t *testing.T) {
		_, _, err := readAll(t, infer(t, good, bad), target)
		ie := asError(t, err, bad, `column "x"`, `row 2: cannot parse "five" as int`)
		if ie.File != bad || ie.Column != "x" {
			t.Errorf("error at %s %s", ie.File, ie.Column)
		}
	})
	t.Run("Err/int overflow", func(t *testing.T) {
		_, _, err := readAll(t, infer(t, wide), target)
		asError(t, err, wide, `column "x"`, "cannot convert long to int")
	})
	t.Run("Err/incompatible target type before reading", func(t *testing.T) {
		src := infer(t, good)
		_, err := src.Records(context.Background(), arrow.NewSchema([]arrow.Field{
			{Name: "x", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		}, nil))
		asError(t, err, good, `column "x"`, "cannot convert string to list")
	})
}

func TestInfer_ParquetDictionary(t *testing.T) {
	dir := t.TempDir()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	p := writeParquet(t, dir, "dict.parquet", arrow.NewSchema([]arrow.Field{{Name: "c", Type: dt, Nullable: true}}, nil),
		func(b *array.RecordBuilder) {
			db := b.Field(0).(*array.BinaryDictionaryBuilder)
			for _, v := range []string{"a", "b", "a"} {
				if err := db.AppendString(v); err != nil {
					t.Fatal(err)
				}
			}
			db.AppendNull()
		})
	src := infer(t, p)
	if got := src.Schema.Field(0).Type; !arrow.TypeEqual(got, arrow.BinaryTypes.String) {
		t.Fatalf("type %s, want string", got)
	}
	got, _, err := readAll(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{"a", "b", "a", nil}; !reflect.DeepEqual(got["c"], want) {
		t.Errorf("got %#v, want %#v", got["c"], want)
	}
}
