//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	root "github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/table"
)

const deletesModels = `import tarn


@tarn.model(materialization_strategy="REPLACE")
def kept(t=tarn.Model("events")):
    return t


@tarn.model(materialization_strategy="REPLACE")
def late(t=tarn.Model("events", columns=["id"], filter="id >= 40")):
    return t
`

// TestPipeline_DeleteFilesInput: a step input whose table has row-level
// delete files (position and equality, as merge-on-read writers such as
// Spark leave them) is not read from its data files, which still hold the
// deleted rows: it falls back to an export that applies the deletes, with
// and without columns and a filter, and the step sees exactly the rows
// that remain.
func TestPipeline_DeleteFilesInput(t *testing.T) {
	ctx := context.Background()
	home := filepath.Join(t.TempDir(), "home")
	data := t.TempDir()
	var csv strings.Builder
	csv.WriteString("id,amount\n")
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&csv, "%d,%d\n", i, i*10)
	}
	os.WriteFile(filepath.Join(data, "events.csv"), []byte(csv.String()), 0o644)
	tarn(t, home, "table", "create", "events", "--from", filepath.Join(data, "events.csv"))

	// Delete files, written through the table service of the same home.
	lh, err := local.Open(ctx, local.Config{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	ident := root.TableIdent{Namespace: root.DefaultNamespace, Name: "events"}
	deleted := map[int64]bool{}
	for _, d := range []struct {
		mode table.DeleteMode
		ids  []int64
	}{
		{table.DeletePositions, []int64{2, 3, 50}},
		{table.DeleteEquality, []int64{7, 60}},
	} {
		if _, err := lh.Tables().DeleteRows(ctx, table.DeleteRowsRequest{Ident: ident, Branch: root.DefaultBranch, Mode: d.mode, Column: "id", Values: d.ids,
			Info: root.CommitInfo{Author: "test", Message: "delete " + string(d.mode)}}); err != nil {
			lh.Close()
			t.Fatal(err)
		}
		for _, id := range d.ids {
			deleted[id] = true
		}
	}
	lh.Close()
	want := func(from int64) (rows, sum int64) {
		for i := from; i <= 100; i++ {
			if !deleted[i] {
				rows, sum = rows+1, sum+i
			}
		}
		return rows, sum
	}

	dir := project(t, map[string]string{"models.py": deletesModels})
	r := tarnRun(t, home, "run", "-p", dir, "-o", "json", "--no-cache")
	if r.code != 0 {
		t.Fatalf("run failed (%d):\n%s", r.code, r.stderr)
	}
	var res struct {
		Steps []struct {
			Name    string
			Profile []struct{ Name, Detail string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kept", "late"} {
		var phases []string
		exported := false
		for _, s := range res.Steps {
			if s.Name != name {
				continue
			}
			for _, p := range s.Profile {
				phases = append(phases, p.Name)
				if p.Name == root.PhaseExport && strings.Contains(p.Detail, "delete files") {
					exported = true
				}
			}
		}
		if !exported || strings.Contains(strings.Join(phases, ","), root.PhasePlan) {
			t.Errorf("%s did not fall back to an export for the delete files (phases %v):\n%s", name, phases, r.stderr)
		}
	}
	for _, tc := range []struct {
		table string
		from  int64
	}{{"kept", 1}, {"late", 40}} {
		rows, sum := want(tc.from)
		got := queryScalar(t, home, fmt.Sprintf("select count(*)::varchar || ',' || sum(id)::varchar from %s", tc.table))
		if w := fmt.Sprintf("%q", fmt.Sprintf("%d,%d", rows, sum)); got != w {
			t.Errorf("%s holds (rows, sum of ids) %s, want %s", tc.table, got, w)
		}
	}
	// The amounts came along with their rows (kept reads every column).
	if got := queryScalar(t, home, "select count(*) from kept where amount <> id * 10"); got != "0" {
		t.Errorf("%s rows of kept have another row's amount", got)
	}
}
