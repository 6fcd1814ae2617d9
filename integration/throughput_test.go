//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	root "github.com/tarnhq/tarn"
)

const throughputModels = `
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import tarn

@tarn.model(materialization_strategy="REPLACE")
def by_zone(ev=tarn.Model("events", columns=["zone", "amount"], filter="id >= 1000")):
    return ev.group_by("zone").aggregate([("amount", "sum"), ("amount", "count")]).sort_by("zone")

@tarn.model(materialization_strategy="REPLACE")
def sampled(ev: Iterator[pa.RecordBatch] = tarn.Model("events")) -> Iterator[pa.RecordBatch]:
    for batch in ev:
        yield batch.filter(pc.equal(pc.bit_wise_and(batch.column("id"), 7), 0))

@tarn.model(materialization_strategy="REPLACE")
def counted(ev=tarn.Model("events", batches=True)):
    n = 0
    for batch in ev:
        n += batch.num_rows
    return pa.table({"rows": [n]})
`

// TestThroughput_LakeInputs: lake inputs are planned by Iceberg and read
// by the sandboxed worker from their Parquet files (pruned by the
// filter's statistics), batches models stream in and out, every step
// reports its phases and peak memory; a table whose files cannot be read
// as they are (its schema evolved) is exported instead, with the same
// answers.
func TestThroughput_LakeInputs(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := t.TempDir()
	// Two imports: ids 0..999 and 1000..2999, one data file each.
	write := func(name string, from, to int, note bool) string {
		var b strings.Builder
		b.WriteString("id,zone,amount")
		if note {
			b.WriteString(",note")
		}
		b.WriteString("\n")
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "%d,z%d,%d", i, i%3, i%10)
			if note {
				b.WriteString(",x")
			}
			b.WriteString("\n")
		}
		p := filepath.Join(data, name)
		os.WriteFile(p, []byte(b.String()), 0o644)
		return p
	}
	tarn(t, home, "table", "create", "events", "--from", write("a.csv", 0, 1000, false))
	tarn(t, home, "table", "import", "events", "--from", write("b.csv", 1000, 3000, false))
	dir := project(t, map[string]string{"models/m.py": throughputModels})

	check := func(direct bool, total int64) {
		t.Helper()
		r := tarnRun(t, home, "run", "-p", dir, "--no-cache", "-o", "json")
		if r.code != 0 {
			t.Fatalf("run failed (%d):\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		var res root.RunResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		// Expected values from the rows written above: ids >= 1000 per zone.
		var sums [3]int64
		var counts [3]int64
		for i := 1000; i < int(total); i++ {
			sums[i%3] += int64(i % 10)
			counts[i%3]++
		}
		got := tarn(t, home, "query", "select zone, amount_sum, amount_count from by_zone order by zone", "-o", "csv")
		want := fmt.Sprintf("zone,amount_sum,amount_count\nz0,%d,%d\nz1,%d,%d\nz2,%d,%d\n", sums[0], counts[0], sums[1], counts[1], sums[2], counts[2])
		if got != want {
			t.Fatalf("by_zone:\n%s\nwant\n%s", got, want)
		}
		if n := rowsOf(t, home, "main", "tarn.sampled"); n != (total+7)/8 {
			t.Fatalf("sampled %d rows of %d", n, total)
		}
		if got := tarn(t, home, "query", "select rows from counted", "-o", "csv"); got != fmt.Sprintf("rows\n%d\n", total) {
			t.Fatalf("counted: %s", got)
		}
		for _, s := range res.Steps {
			phases := map[string]int{}
			for i, p := range s.Profile {
				phases[p.Name] = i
			}
			for _, want := range []string{"handoff", "import", "read", "code", "write", "materialize"} {
				if _, ok := phases[want]; !ok {
					t.Fatalf("step %s has no %s phase: %+v", s.Name, want, s.Profile)
				}
			}
			if s.PeakAnonBytes <= 0 {
				t.Fatalf("step %s: no peak memory", s.Name)
			}
			read := s.Profile[phases["read"]]
			if direct {
				plan, ok := phases["plan"]
				if !ok {
					t.Fatalf("step %s: lake input not planned for the worker: %+v", s.Name, s.Profile)
				}
				wantFiles := 2
				if s.Name == "by_zone" {
					wantFiles = 1 // ids >= 1000: the first file is pruned by its statistics
				}
				if s.Profile[plan].Files != wantFiles || read.Files != wantFiles {
					t.Fatalf("step %s read %d files (planned %d), want %d", s.Name, read.Files, s.Profile[plan].Files, wantFiles)
				}
			} else if p, ok := phases["export"]; !ok || !strings.Contains(s.Profile[p].Detail, "schema changed") {
				t.Fatalf("step %s: evolved table not exported: %+v", s.Name, s.Profile)
			}
			if s.Name == "counted" && read.Rows != total {
				t.Fatalf("counted read %d rows, want %d", read.Rows, total)
			}
		}
	}
	check(true, 3000)
	// A column added: the worker cannot read the older files by name.
	tarn(t, home, "table", "import", "events", "--from", write("c.csv", 3000, 3500, true))
	check(false, 3500)
}
