package table_test

import (
	"fmt"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/tarnhq/tarn/table"
)

// TestParsePartitionSpec: fields are split at the commas outside
// parentheses, so bucket(N, col) and truncate(W, col) parse.
func TestParsePartitionSpec(t *testing.T) {
	schema := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 2, Name: "name", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "ts", Type: iceberg.PrimitiveTypes.Timestamp})
	spec, err := table.ParsePartitionSpec("day(ts), bucket(16, id), truncate(4, name), name", schema)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range spec.Fields() {
		got = append(got, f.Transform.String())
	}
	if want := "[day bucket[16] truncate[4] identity]"; fmt.Sprint(got) != want {
		t.Fatalf("fields %v, want %s", got, want)
	}
	if _, err := table.ParsePartitionSpec("bucket(16, id", schema); err == nil {
		t.Fatal("an unclosed parenthesis parsed")
	}
}
