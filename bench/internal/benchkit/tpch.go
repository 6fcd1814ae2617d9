package benchkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// GenerateTPCH runs tpchgen-cli into dir (one Parquet file per table)
// unless its lineitem.parquet exists.
func GenerateTPCH(ctx context.Context, sf, dir, tpchgen string) error {
	if _, err := os.Stat(filepath.Join(dir, "lineitem.parquet")); err == nil {
		return nil
	}
	if _, err := os.Stat(tpchgen); err != nil {
		return fmt.Errorf("tpchgen-cli not found at %s: run bench/tpch/run.sh, or `uv pip install --python .venv/bin/python tpchgen-cli`", tpchgen)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generating TPC-H SF%s with tpchgen-cli into %s\n", sf, dir)
	cmd := exec.CommandContext(ctx, tpchgen, "parquet", "-s", sf, "--output-dir", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// Rows renders every cell of a result; floats keep 9 significant digits,
// since parallel sums may add in another order from run to run.
func Rows(rr array.RecordReader) ([][]string, error) {
	var out [][]string
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]string, rec.NumCols())
			for j := range row {
				row[j] = cell(rec.Column(j), i)
			}
			out = append(out, row)
		}
	}
	return out, rr.Err()
}

func cell(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	if f, ok := a.(*array.Float64); ok {
		return fmt.Sprintf("%.9g", f.Value(i))
	}
	return a.ValueStr(i)
}

// SameRows reports whether two rendered results are equal.
func SameRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x1f") != strings.Join(b[i], "\x1f") {
			return false
		}
	}
	return true
}
