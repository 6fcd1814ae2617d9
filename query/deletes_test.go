package query_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

// deleteRows deletes ids from tarn.trips on main with delete files.
func (l *lake) deleteRows(mode table.DeleteMode, version int, ids ...int64) {
	l.t.Helper()
	if _, err := l.svc.DeleteRows(context.Background(), table.DeleteRowsRequest{Ident: tarn.TableIdent{Namespace: "tarn", Name: "trips"},
		Branch: "main", Mode: mode, Column: "id", Values: ids, FormatVersion: version,
		Info: tarn.CommitInfo{Author: "test", Message: fmt.Sprintf("delete %v", ids)}}); err != nil {
		l.t.Fatal(err)
	}
}

// TestEngine_Deletes: queries over a table with position deletes,
// equality deletes and deletion vectors return the rows that remain,
// files are still pruned, and an equality delete spares rows added after
// it.
func TestEngine_Deletes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int // 3: position deletes are deletion vectors
	}{
		{"v2 delete files", 2},
		{"v3 deletion vectors", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tripsLake(t)
			deleted := []int64{5, 150, 151, 7, 250, 299, 8, 120}
			l.deleteRows(table.DeletePositions, tc.version, 5, 150, 151)
			if tc.version == 2 {
				l.deleteRows(table.DeleteEquality, 0, 7, 250, 299, 350) // 350 is not there yet
			} else {
				l.deleteRows(table.DeletePositions, 0, 7, 250, 299)
			}
			l.deleteRows(table.DeletePositions, 0, 8, 120)
			l.append("main", "trips", l.write("d4.csv", tripsCSV(300, 400, 3)))
			plan, err := l.svc.PlanScan(context.Background(), tarn.TableIdent{Namespace: "tarn", Name: "trips"}, "main", nil)
			if err != nil {
				t.Fatal(err)
			}
			views := map[string][]string{"trips_all": plan.Files} // the data files, without the delete files
			var kept []string
			for _, id := range deleted {
				kept = append(kept, fmt.Sprint(id))
			}
			reference := "with trips as (select * from trips_all where id not in (" + strings.Join(kept, ", ") + ")) "
			for _, q := range []struct {
				sql     string
				planned int
			}{
				{"select count(*), sum(amount), min(id), max(id) from trips", 4},
				{"select id from trips where id between 0 and 12 order by id", 1},
				{"select count(*) from trips where id >= 100 and id < 200", 1},
				{"select zone, count(*), sum(amount) from trips group by zone order by zone", 4},
				{"select count(*) from trips where id in (7, 150, 250, 350, 8)", 4},
				{"select note from trips where id = 350", 1},
				{"select count(*) from trips where amount is null", 4},
			} {
				got, res := l.query("main", q.sql)
				want := plainDuckDB(t, views, reference+q.sql)
				if !sameRows(got, want, true) {
					t.Errorf("%s: tarn says %v, the remaining rows say %v", q.sql, got, want)
				}
				if res.Tables[0].FilesPlanned != q.planned {
					t.Errorf("%s: planned %d files, want %d", q.sql, res.Tables[0].FilesPlanned, q.planned)
				}
			}
			vectors := 0
			for _, d := range plan.Deletes {
				vectors += len(d.Vector)
			}
			if tc.version == 3 && vectors != len(deleted) || tc.version == 2 && (vectors != 0 || plan.DeleteFiles < 3) {
				t.Errorf("plan: %d delete files, %d positions from deletion vectors", plan.DeleteFiles, vectors)
			}
		})
	}
}

// TestEngine_DeletesEvolved: a table whose schema changed is read by field
// id, and its deletes still apply.
func TestEngine_DeletesEvolved(t *testing.T) {
	l := tripsLake(t)
	l.deleteRows(table.DeletePositions, 0, 1, 101, 201)
	var b strings.Builder
	b.WriteString("id,zone,amount,note,ts,extra\n")
	for i := 300; i < 310; i++ {
		fmt.Fprintf(&b, "%d,1,1.5,n%d,2026-01-04T00:00:00Z,x%d\n", i, i, i)
	}
	l.append("main", "trips", l.write("evolved.csv", b.String()))
	l.deleteRows(table.DeletePositions, 0, 305)
	got, _ := l.query("main", "select count(*), sum(id), count(extra) from trips")
	want := 300*299/2 - 1 - 101 - 201 + (300+309)*10/2 - 305
	if len(got) != 1 || got[0][0] != "306" || got[0][1] != fmt.Sprint(want) || got[0][2] != "9" {
		t.Fatalf("evolved table with deletes: %v, want 306 rows summing to %d, 9 extras", got, want)
	}
}
