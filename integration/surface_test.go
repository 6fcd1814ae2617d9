//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestPipeline_AppendToImportedTable: a model appends to a table an
// import made, reading that table at the run's base; its new column
// evolves the schema; a clashing type fails with nothing published.
func TestPipeline_AppendToImportedTable(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	csv := filepath.Join(t.TempDir(), "zones.csv")
	os.WriteFile(csv, []byte("id,zone\n1,a\n2,b\n"), 0o644)
	tarn(t, home, "table", "create", "zones", "--from", csv)
	model := `import tarn
import pyarrow as pa

@tarn.model(materialization_strategy="APPEND")
def zones(old=tarn.Model("zones")):
    return pa.table({"id": [old.num_rows + 1], "zone": ["new"], "extra": [1.5]})
`
	dir := project(t, map[string]string{"m.py": model})
	for want := int64(3); want <= 4; want++ {
		if r := tarnRun(t, home, "run", "-p", dir); r.code != 0 {
			t.Fatalf("run: %+v", r)
		}
		if got := rowsOf(t, home, "main", "tarn.zones"); got != want {
			t.Fatalf("after a run: %d rows, want %d", got, want)
		}
	}
	if got := queryScalar(t, home, "select max(id) from zones where extra is not null"); got != "4" {
		t.Fatalf("the model did not read the table at the run's base: max id %s", got)
	}
	before := head(t, home, "main")
	clash := strings.Replace(model, `"id": [old.num_rows + 1]`, `"id": ["x"]`, 1)
	r := tarnRun(t, home, "run", "-p", project(t, map[string]string{"m.py": clash}))
	if r.code == 0 || !strings.Contains(r.stderr, `column "id"`) || head(t, home, "main") != before {
		t.Fatalf("a clashing type: %+v", r)
	}
}

// TestPipeline_StandardExpectations: the standard expectations run as
// expectations, and an unknown one is a discovery error before anything
// builds.
func TestPipeline_StandardExpectations(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	model := `import tarn
import pyarrow as pa
from tarn.standard_expectations import expect_column_accepted_values, expect_column_all_unique

@tarn.model()
def zones():
    return pa.table({"id": [1, 2, 2], "zone": ["a", "b", "x"]})

@tarn.expectation()
def known_zones(z=tarn.Model("zones")):
    return expect_column_accepted_values(z, "zone", ["a", "b"])

@tarn.expectation()
def unique_ids(z=tarn.Model("zones")):
    return expect_column_all_unique(z, "id")
`
	r := tarnRun(t, home, "run", "-p", project(t, map[string]string{"m.py": model}), "--dry-run")
	if r.code == 0 || !strings.Contains(r.stderr, "2 steps failed") || !strings.Contains(r.stderr, `outside 'a', 'b': 'x'`) || !strings.Contains(r.stderr, "repeated values") {
		t.Fatalf("%+v", r)
	}
	bad := strings.Replace(model, "expect_column_all_unique\n", "expect_column_all_uniqe\n", 1)
	r = tarnRun(t, home, "run", "-p", project(t, map[string]string{"m.py": bad}), "--dry-run")
	if r.code != 2 || !strings.Contains(r.stderr, "m.py:3") || !strings.Contains(r.stderr, "did you mean 'expect_column_all_unique'") || strings.Contains(r.stderr, "building environment") {
		t.Fatalf("an unknown standard expectation: %+v", r)
	}
}

// TestPipeline_RunStore: a step passes a Python object to a later one
// through tarn.store; such steps are never served from the cache (the
// object would be missing), and a load with nothing saved says why.
func TestPipeline_RunStore(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	model := `import tarn
import pyarrow as pa

class Scaler:
    def __init__(self, k):
        self.k = k

@tarn.model()
def fit():
    tarn.store.save_obj("scaler", Scaler(3))
    return pa.table({"ok": [1]})

@tarn.model(materialization_strategy="REPLACE")
def scored(_=tarn.Model("fit")):
    s = tarn.store.load_obj("scaler")
    return pa.table({"x": [s.k * 2]})
`
	dir := project(t, map[string]string{"m.py": model})
	for i := 0; i < 2; i++ {
		r := tarnRun(t, home, "run", "-p", dir)
		if r.code != 0 || strings.Contains(r.stderr, "fit cached") || strings.Contains(r.stderr, "scored cached") {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	if got := queryScalar(t, home, "select x from scored"); got != "6" {
		t.Fatalf("the loaded object gave %s", got)
	}
	lone := `import tarn
import pyarrow as pa

@tarn.model()
def score():
    return pa.table({"x": [tarn.store.load_obj("missing")]})
`
	r := tarnRun(t, home, "run", "-p", project(t, map[string]string{"m.py": lone}), "--dry-run")
	if r.code == 0 || !strings.Contains(r.stderr, `no object 'missing' in this run's store`) {
		t.Fatalf("a load with nothing saved: %+v", r)
	}
}

// TestPipeline_SQLParameters: a SQL model's $name is the run parameter,
// bound by DuckDB as a value (a quote in it stays data), and a $name the
// project does not declare is a discovery error naming the file and line.
func TestPipeline_SQLParameters(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	files := map[string]string{
		"tarn_project.yml": "name: itest\ndefaults:\n  python: \"3.11\"\nparameters:\n  min_id: {type: int, default: 2}\n  label: {type: str, default: x}\n",
		"nums.sql":         "-- tarn: materialization_strategy=REPLACE\nselect range as id, $label as label from range(5) where range >= $min_id\n",
	}
	dir := project(t, files)
	if r := tarnRun(t, home, "run", "-p", dir, "--param", "label=it's"); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	if got := strings.Trim(queryScalar(t, home, "select count(*) || ':' || min(label) from nums"), `"`); got != "3:it's" {
		t.Fatalf("the parameters were not bound: %s", got)
	}
	if r := tarnRun(t, home, "run", "-p", dir, "--param", "min_id=4"); r.code != 0 || strings.Contains(r.stderr, "nums cached") {
		t.Fatalf("a new value must rebuild the model: %+v", r)
	}
	if got := queryScalar(t, home, "select count(*) from nums"); got != "1" {
		t.Fatalf("min_id=4 gave %s rows", got)
	}
	files["other.sql"] = "select 1 as x\n-- a comment with $not_a_param\nwhere $missing > 0\n"
	r := tarnRun(t, home, "run", "-p", project(t, files), "--dry-run")
	if r.code != 2 || !strings.Contains(r.stderr, "other.sql:3") || !strings.Contains(r.stderr, "missing") || strings.Contains(r.stderr, "not_a_param") {
		t.Fatalf("an undeclared parameter: %+v", r)
	}
}

// TestPipeline_FilterParameters: $name in an input's filter and in an
// overwrite_filter is the run parameter, bound as a literal: a run per
// day replaces only that day's rows, and a value that looks like syntax
// stays a value.
func TestPipeline_FilterParameters(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	csv := filepath.Join(t.TempDir(), "trips.csv")
	os.WriteFile(csv, []byte("day,zone,miles\n1,a,1.5\n1,b,4\n2,a,7\n2,b,0.5\n"), 0o644)
	tarn(t, home, "table", "create", "trips", "--from", csv)
	model := `import tarn
import pyarrow as pa
import pyarrow.compute as pc

@tarn.model(materialization_strategy="OVERWRITE_PARTITIONS", partitioned_by=["day"], overwrite_filter="day = $day")
def daily(t=tarn.Model("trips", filter="day = $day AND miles >= $min_miles AND zone <> $skip")):
    return pa.table({"day": t["day"], "zone": t["zone"], "miles": t["miles"]})
`
	dir := project(t, map[string]string{
		"tarn_project.yml": "name: itest\ndefaults:\n  python: \"3.11\"\nparameters:\n  day: {type: int, required: true}\n  min_miles: {type: float, default: 1}\n  skip: {type: str, default: none}\n",
		"m.py":             model,
	})
	for _, day := range []string{"1", "2"} {
		if r := tarnRun(t, home, "run", "-p", dir, "--param", "day="+day); r.code != 0 {
			t.Fatalf("day %s: %+v", day, r)
		}
	}
	if got := strings.Trim(queryScalar(t, home, "select string_agg(day || zone, ',' order by day, zone) from daily"), `"`); got != "1a,1b,2a" {
		t.Fatalf("after a run per day: %s", got)
	}
	// Day 1 again with a higher threshold: only day 1's rows are replaced.
	if r := tarnRun(t, home, "run", "-p", dir, "--param", "day=1", "--param", "min_miles=2"); r.code != 0 {
		t.Fatalf("rerun: %+v", r)
	}
	if got := strings.Trim(queryScalar(t, home, "select string_agg(day || zone, ',' order by day, zone) from daily"), `"`); got != "1b,2a" {
		t.Fatalf("after re-running day 1: %s", got)
	}
	// A value that looks like syntax is one string: no zone is called that.
	if r := tarnRun(t, home, "run", "-p", dir, "--param", "day=2", "--param", "skip=a' OR zone <> 'b"); r.code != 0 {
		t.Fatalf("a quoting value: %+v", r)
	}
	if got := strings.Trim(queryScalar(t, home, "select string_agg(day || zone, ',' order by day, zone) from daily"), `"`); got != "1b,2a" {
		t.Fatalf("the value became syntax: %s", got)
	}
	if r := tarnRun(t, home, "run", "-p", dir); r.code != 2 || !strings.Contains(r.stderr, `parameter "day" is required`) {
		t.Fatalf("a run without the required parameter: %+v", r)
	}
}

// TestPipeline_TypedModels: the typed style (Annotated inputs and
// parameters, TableSchema projections, a declared output schema) runs
// unchanged; an input of the wrong type and an output that differs from
// its schema fail the step naming every column that differs.
func TestPipeline_TypedModels(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	csv := filepath.Join(t.TempDir(), "trips.csv")
	os.WriteFile(csv, []byte("zone,miles,note\na,1.5,x\nb,4.0,y\na,7.25,z\n"), 0o644)
	tarn(t, home, "table", "create", "trips", "--from", csv)
	schemas := `import tarn

class Trip(tarn.TableSchema):
    zone: tarn.String = tarn.TableField("zone", "pickup zone")
    miles: tarn.Float64

class ZoneMiles(tarn.TableSchema):
    zone: tarn.String
    total: tarn.Float64 = tarn.TableField("total", "miles driven", nullable=False)
`
	model := `from typing import Annotated
import pyarrow as pa
import pyarrow.compute as pc
import tarn
from schemas import Trip, ZoneMiles

@tarn.model(materialization_strategy="REPLACE", output_schema=ZoneMiles)
def zone_miles(
    trips: Annotated[pa.Table, tarn.Model("trips", projection_schema=Trip, filter="miles >= $min_miles")],
    scale: Annotated[float, tarn.Parameter("scale")],
) -> pa.Table:
    assert trips.column_names == ["zone", "miles"], trips.column_names
    grouped = trips.group_by("zone").aggregate([("miles", "sum")])
    return pa.table({"zone": grouped["zone"], "total": pc.multiply(grouped["miles_sum"], scale)})
`
	files := map[string]string{
		"tarn_project.yml": "name: itest\ndefaults:\n  python: \"3.11\"\nparameters:\n  min_miles: {type: float, default: 2}\n  scale: {type: float, default: 2}\n",
		"schemas.py":       schemas,
		"m.py":             model,
	}
	if r := tarnRun(t, home, "run", "-p", project(t, files)); r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	if got := strings.Trim(queryScalar(t, home, "select string_agg(zone || '=' || total, ',' order by zone) from zone_miles"), `"`); got != "a=14.5,b=8.0" {
		t.Fatalf("zone_miles: %s", got)
	}
	files["m.py"] = strings.Replace(model, `"total": pc.multiply(grouped["miles_sum"], scale)`, `"total": pc.cast(grouped["miles_sum"], pa.int64(), safe=False), "n": grouped["miles_sum"]`, 1)
	r := tarnRun(t, home, "run", "-p", project(t, files))
	if r.code == 0 || !strings.Contains(r.stderr, "does not match the schema ZoneMiles") || !strings.Contains(r.stderr, "total: is int64, the schema says Float64") || !strings.Contains(r.stderr, "n: not in the schema") {
		t.Fatalf("a wrong output: %+v", r)
	}
	files["m.py"] = model
	files["schemas.py"] = strings.Replace(schemas, "miles: tarn.Float64", "miles: tarn.Int64", 1)
	r = tarnRun(t, home, "run", "-p", project(t, files))
	if r.code == 0 || !strings.Contains(r.stderr, "input trips (trips) does not match the schema Trip: miles: is double, the schema says Int64") {
		t.Fatalf("an input of the wrong type: %+v", r)
	}
}

// TestPipeline_ExpectationOnly: a project of expectations alone audits
// lake tables: every broken rule is reported, nothing is published, and a
// passing audit leaves the branch where it was.
func TestPipeline_ExpectationOnly(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	csv := filepath.Join(t.TempDir(), "trips.csv")
	os.WriteFile(csv, []byte("id,zone\n1,a\n2,b\n2,\n"), 0o644)
	tarn(t, home, "table", "create", "trips", "--from", csv)
	audit := `import tarn
from tarn.standard_expectations import expect_column_all_unique, expect_column_no_nulls

@tarn.expectation()
def unique_ids(t=tarn.Model("trips")):
    return expect_column_all_unique(t, "id")

@tarn.expectation()
def zones_present(t=tarn.Model("trips", columns=["zone"])):
    return expect_column_no_nulls(t, "zone")
`
	before := head(t, home, "main")
	r := tarnRun(t, home, "run", "-p", project(t, map[string]string{"audit.py": audit}))
	if r.code == 0 || !strings.Contains(r.stderr, "2 steps failed") || !strings.Contains(r.stderr, "unique_ids") || !strings.Contains(r.stderr, "zones_present") || head(t, home, "main") != before {
		t.Fatalf("a failing audit: %+v", r)
	}
	fine := strings.Replace(audit, `expect_column_all_unique(t, "id")`, `expect_column_no_nulls(t, "id")`, 1)
	fine = strings.Replace(fine, `expect_column_no_nulls(t, "zone")`, `t.num_rows == 3`, 1)
	if r := tarnRun(t, home, "run", "-p", project(t, map[string]string{"audit.py": fine})); r.code != 0 || head(t, home, "main") != before {
		t.Fatalf("a passing audit: %+v (head moved: %v)", r, head(t, home, "main") != before)
	}
}

// TestPipeline_ConcurrentAppendRuns: runs of one project, started at once
// with different parameters, all append to one lake table on main. Each
// publishes (an append whose table moved is redone on the latest
// snapshot), every run's rows are there exactly once, and the history
// verifies.
func TestPipeline_ConcurrentAppendRuns(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	csv := filepath.Join(t.TempDir(), "events.csv")
	os.WriteFile(csv, []byte("id,batch\n1,0\n2,0\n"), 0o644)
	tarn(t, home, "table", "create", "events", "--from", csv)
	dir := project(t, map[string]string{
		"tarn_project.yml": "name: ingest\ndefaults:\n  python: \"3.11\"\n  timeout: 300\nparameters:\n  batch: {type: int, default: 0}\n",
		"m.py": `import tarn
import pyarrow as pa

@tarn.model(materialization_strategy="APPEND")
def events(batch=tarn.Parameter("batch")):
    return pa.table({"id": pa.array([batch * 100 + i for i in range(5)], pa.int64()), "batch": pa.array([batch] * 5, pa.int64())})
`,
	})
	// One run first, so that the environment is built once.
	if r := tarnRun(t, home, "run", "-p", dir, "--param", "batch=1"); r.code != 0 {
		t.Fatalf("first run: %+v", r)
	}
	const n = 4
	type result struct {
		code           int
		stdout, stderr string
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := exec.Command(os.Getenv("TARN_BIN"), "run", "-p", dir, "--param", fmt.Sprintf("batch=%d", i+2))
			cmd.Env = append(os.Environ(), "TARN_HOME="+home)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			results[i] = result{0, out.String(), errb.String()}
			if err != nil {
				results[i].code = -1
				if ee, ok := err.(*exec.ExitError); ok {
					results[i].code = ee.ExitCode()
				}
			}
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("concurrent run %d (batch %d) failed with %d:\n%s%s", i, i+2, r.code, r.stdout, r.stderr)
		}
	}
	var rows []struct{ Batch, N int64 }
	if err := json.Unmarshal([]byte(tarn(t, home, "query", "select batch, count(*) as n from events group by batch order by batch", "-o", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != n+2 {
		t.Fatalf("batches on main: %+v, want 0 to %d", rows, n+1)
	}
	for _, r := range rows {
		if want := map[bool]int64{true: 2, false: 5}[r.Batch == 0]; r.N != want {
			t.Fatalf("batch %d has %d rows, want %d: %+v", r.Batch, r.N, want, rows)
		}
	}
	tarn(t, home, "verify", "--history")
}
