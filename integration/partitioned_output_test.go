//go:build integration

package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const partitionedModels = `import datetime

import pyarrow as pa
import tarn


@tarn.model(materialization_strategy="REPLACE", partitioned_by=["month(day)", "region"])
def sales(t=tarn.Model("events")):
    base = datetime.date(2024, 1, 1)
    ids = t["id"].to_pylist()
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "region": pa.array([i % 3 for i in ids], pa.int32()),
        "day": pa.array([base + datetime.timedelta(days=i) for i in ids], pa.date32()),
    })


@tarn.model(materialization_strategy="REPLACE", partitioned_by=["label"])
def labelled(t=tarn.Model("events")):
    return pa.table({"id": t["id"], "label": pa.array([f"label-{i % 2}" for i in t["id"].to_pylist()])})
`

// TestPipeline_PartitionedOutput: a step output partitioned by month and
// an integer column is written by the pyarrow writer (one partition per
// file, flat in the table's data folder) and registered with its
// partition values, so a filter on them prunes files; so is one on a
// string column (two labels: two files); both tables hold every row.
func TestPipeline_PartitionedOutput(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := t.TempDir()
	var csv strings.Builder
	csv.WriteString("id\n")
	for i := 0; i < 120; i++ {
		csv.WriteString(strconv.Itoa(i) + "\n")
	}
	os.WriteFile(filepath.Join(data, "events.csv"), []byte(csv.String()), 0o644)
	tarn(t, home, "table", "create", "events", "--from", filepath.Join(data, "events.csv"))
	dir := project(t, map[string]string{"models.py": partitionedModels})
	if r := tarnRun(t, home, "run", "-p", dir, "--no-cache"); r.code != 0 {
		t.Fatalf("run failed (%d):\n%s", r.code, r.stderr)
	}
	files := func(name string) (flat, nested int) {
		root := filepath.Join(home, "warehouse", "tarn", name, "data")
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
				if filepath.Dir(p) == root {
					flat++
				} else {
					nested++
				}
			}
			return nil
		})
		return flat, nested
	}
	// 120 days from January 2024: 4 months (Jan-Apr) x 3 regions.
	if flat, nested := files("sales"); flat != 12 || nested != 0 {
		t.Fatalf("sales: %d files in data/ and %d below, want 12 written by the pyarrow writer (one per partition)", flat, nested)
	}
	if flat, nested := files("labelled"); flat != 2 || nested != 0 {
		t.Fatalf("labelled: %d files in data/ and %d below, want 2 written by the pyarrow writer (one per label)", flat, nested)
	}
	if got := queryScalar(t, home, "select count(*)::varchar || ',' || sum(id)::varchar from sales"); got != `"120,7140"` {
		t.Fatalf("sales holds %s, want 120 rows summing to 7140", got)
	}
	if got := queryScalar(t, home, "select count(*) from labelled where label = 'label-1'"); got != "60" {
		t.Fatalf("labelled has %s rows of label-1, want 60", got)
	}
	// The partition values were registered: a filter on them prunes to
	// one file, and the rows are right.
	march := "select count(*) as n from sales where region = 1 and day >= date '2024-03-01' and day < date '2024-04-01'"
	r := tarnRun(t, home, "query", march)
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "read 1 of 12 data files") {
		t.Fatalf("a query of one partition did not prune to its file (%d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := queryScalar(t, home, march); got != "10" {
		t.Fatalf("March, region 1: %s rows, want 10", got)
	}
}
