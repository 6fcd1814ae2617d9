//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	tarnapi "github.com/tarnhq/tarn"
)

const s3OutputModels = `import pyarrow as pa
import tarn


@tarn.model(materialization_strategy="REPLACE")
def flat(t=tarn.Model("events")):
    ids = t["id"]
    return pa.table({"id": ids, "twice": pa.array([2 * i for i in ids.to_pylist()], pa.int64())})


@tarn.model(materialization_strategy="REPLACE", partitioned_by=["region"])
def parts(t=tarn.Model("events")):
    ids = t["id"].to_pylist()
    return pa.table({"id": pa.array(ids, pa.int64()), "region": pa.array([i % 4 for i in ids], pa.int32())})
`

// TestS3_PipelineOutputFastPath: on an S3 warehouse, a small unpartitioned
// step output is written in tarn's process and a partitioned one by the
// pyarrow writer (the step profile's materialize phase says so), both
// uploaded into the bucket and
// registered from their footers: the tables hold every row, the
// partitioned one one file per partition, a re-run replaces them, and
// `tarn verify --history` reads every file back.
func TestS3_PipelineOutputFastPath(t *testing.T) {
	wh := s3Warehouse(t)
	home := filepath.Join(t.TempDir(), "home")
	data := t.TempDir()
	var csv strings.Builder
	csv.WriteString("id\n")
	for i := 0; i < 1000; i++ {
		csv.WriteString(strconv.Itoa(i) + "\n")
	}
	os.WriteFile(filepath.Join(data, "events.csv"), []byte(csv.String()), 0o644)
	tarn(t, home, "--warehouse", wh, "table", "create", "events", "--from", filepath.Join(data, "events.csv"))
	dir := project(t, map[string]string{"models.py": s3OutputModels})
	for round := range 2 {
		r := tarnRun(t, home, "--warehouse", wh, "run", "-p", dir, "--no-cache", "-o", "json")
		var res tarnapi.RunResult
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || !res.Published {
			t.Fatalf("run %d on %s: %+v", round+1, wh, r)
		}
		for _, st := range res.Steps {
			var detail string
			for _, ph := range st.Profile {
				if ph.Name == tarnapi.PhaseMaterialize {
					detail = ph.Detail
				}
			}
			want := map[string]string{"flat": "written in tarn's process (a small output)", "parts": "written by the pyarrow writer"}[st.Name]
			if detail != want {
				t.Errorf("run %d: step %s materialized with %q, want %q", round+1, st.Name, detail, want)
			}
		}
	}
	if row, _ := queryOne(t, home, wh, "SELECT count(*), sum(twice) FROM tarn.flat"); strings.Join(row, " ") != "1000 999000" {
		t.Errorf("flat holds %v, want 1000 rows summing to 999000", row)
	}
	if row, _ := queryOne(t, home, wh, "SELECT count(*), sum(id), count(DISTINCT region) FROM tarn.parts"); strings.Join(row, " ") != "1000 499500 4" {
		t.Errorf("parts holds %v, want 1000 rows summing to 499500 in 4 regions", row)
	}
	var info struct {
		Location string
		Files    int64
	}
	if err := json.Unmarshal([]byte(tarn(t, home, "--warehouse", wh, "table", "get", "tarn.parts", "-o", "json")), &info); err != nil || info.Location != wh+"/tarn/parts" || info.Files != 4 {
		t.Errorf("parts: %+v (%v), want 4 files (one per region) in %s/tarn/parts", info, err, wh)
	}
	// A partition filter prunes to one file: the partition values were registered.
	if r := tarnRun(t, home, "--warehouse", wh, "query", "SELECT count(*) FROM tarn.parts WHERE region = 2"); r.code != 0 || !strings.Contains(r.stdout+r.stderr, "read 1 of 4 data files") || !strings.Contains(r.stdout, "250") {
		t.Errorf("a query of one partition (%d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	if v := tarnRun(t, home, "--warehouse", wh, "verify", "--history"); v.code != 0 {
		t.Fatalf("verify --history: %+v", v)
	}
}
