package query_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/query"
)

// limitedEngine is an engine over l's tables with limits.
func limitedEngine(t *testing.T, l *lake, opts query.Options) *query.Engine {
	t.Helper()
	if opts.Limits.TempDir == "" {
		opts.Limits.TempDir = filepath.Join(l.dir, "spill")
	}
	e := query.New(l.svc, opts)
	t.Cleanup(func() { e.Close() })
	return e
}

func rows(t *testing.T, e *query.Engine, sql string) ([][]string, []tarn.QueryColumn) {
	t.Helper()
	res, err := e.Run(context.Background(), query.Request{SQL: sql})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer res.Close()
	got := readRecords(t, res.Records)
	if err := res.Records.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return got, res.Columns
}

// TestEngine_StoredResults: with a memory limit a result is stored in
// DuckDB and read back in pages; it is the same result, in the same
// order, with the same columns.
func TestEngine_StoredResults(t *testing.T) {
	l := tripsLake(t)
	bounded := limitedEngine(t, l, query.Options{Limits: query.Limits{Memory: 256 << 20}})
	for _, sql := range []string{
		"select * from trips order by id desc",
		"select id, id, zone as id from trips order by 1", // duplicate names
		"select range as i, range % 7 as m, null as n from range(100000) order by i desc",
		"select * from trips where id < 0",
		"values (1, 'a'), (2, 'b')",
		"from trips select zone, count(*) as n group by zone order by zone",
		"with t as (select 1 as x) select * from t",
		"select list(id order by id) as ids, {'a': 1} as s from trips", // nested values
	} {
		want, wantCols := rows(t, l.engine, sql)
		got, gotCols := rows(t, bounded, sql)
		if len(got) != len(want) || strings.Join(flat(got), "|") != strings.Join(flat(want), "|") {
			t.Errorf("%s: stored result differs: %d rows, want %d", sql, len(got), len(want))
		}
		if len(gotCols) != len(wantCols) {
			t.Errorf("%s: columns %v, want %v", sql, gotCols, wantCols)
		}
		for i := range gotCols {
			if i < len(wantCols) && gotCols[i] != wantCols[i] {
				t.Errorf("%s: column %d is %v, want %v", sql, i, gotCols[i], wantCols[i])
			}
		}
	}
}

func flat(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join(r, ","))
	}
	return out
}

// TestEngine_Settings: the thread and memory limits reach DuckDB.
func TestEngine_Settings(t *testing.T) {
	l := newLake(t)
	e := limitedEngine(t, l, query.Options{Threads: 1, Limits: query.Limits{Memory: 100 << 20, Disk: 1 << 30}})
	got, _ := rows(t, e, "select current_setting('threads') as t, current_setting('memory_limit') as m, current_setting('max_temp_directory_size') as d")
	if got[0][0] != "1" || got[0][1] != "100.0 MiB" || got[0][2] != "1.0 GiB" {
		t.Fatalf("settings %v", got)
	}
}

// TestEngine_Limits: a query over a limit fails with a message naming the
// limit, its value and the flag that raises it.
func TestEngine_Limits(t *testing.T) {
	l := newLake(t)
	ctx := context.Background()
	big := "select range as i, repeat('x', 100) as s from range(2000000)"
	cases := []struct {
		name     string
		limits   query.Limits
		sql      string
		mentions []string
	}{
		{"Result", query.Limits{Result: 1 << 20}, "select range from range(1000000)", []string{"limit of 1.0 MiB", "--max-result"}},
		{"ResultStored", query.Limits{Memory: 256 << 20, Result: 1 << 20}, "select range from range(1000000)", []string{"limit of 1.0 MiB", "--max-result"}},
		{"Disk", query.Limits{Memory: 32 << 20, Disk: 16 << 20}, big + " order by s desc, i", []string{"limit of 16.0 MiB", "--query-disk"}},
		{"Memory", query.Limits{Memory: 32 << 20}, "select list(i) from (" + big + ")", []string{"limit of 32.0 MiB", "--query-memory"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := limitedEngine(t, l, query.Options{Limits: tc.limits})
			res, err := e.Run(ctx, query.Request{SQL: tc.sql})
			if err == nil {
				for res.Records.Next() {
				}
				err = res.Records.Err()
				res.Close()
			}
			if tarn.ErrorCode(err) != tarn.EINVALID {
				t.Fatalf("error %v, want code invalid", err)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Fatalf("error %q does not mention %q", err, m)
				}
			}
		})
	}
	t.Run("Export", func(t *testing.T) {
		e := limitedEngine(t, l, query.Options{Limits: query.Limits{Export: 1 << 20}})
		for _, f := range []query.Format{query.FormatCSV, query.FormatArrow} {
			out := filepath.Join(l.dir, "out."+string(f))
			_, err := e.CopyFile(ctx, query.Request{SQL: big}, f, out)
			if tarn.ErrorCode(err) != tarn.EINVALID || !strings.Contains(err.Error(), "limit of 1.0 MiB") || !strings.Contains(err.Error(), "--max-export") {
				t.Fatalf("%s: %v", f, err)
			}
			entries, _ := os.ReadDir(l.dir)
			for _, en := range entries {
				if strings.HasPrefix(en.Name(), "out.") || strings.HasPrefix(en.Name(), ".out.") || strings.HasPrefix(en.Name(), "tmp_") {
					t.Fatalf("%s: a refused export left %s", f, en.Name())
				}
			}
		}
		// A file under the limit is written whole (about 590 KB).
		if res, err := e.CopyFile(ctx, query.Request{SQL: "select range from range(100000)"}, query.FormatCSV, filepath.Join(l.dir, "small.csv")); err != nil || res.Rows != 100000 {
			t.Fatalf("a small export: %+v %v", res, err)
		}
		// One just over it fails even when it is written between two looks.
		_, err := e.CopyFile(ctx, query.Request{SQL: "select range from range(180000)"}, query.FormatCSV, filepath.Join(l.dir, "over.csv"))
		if tarn.ErrorCode(err) != tarn.EINVALID || !strings.Contains(err.Error(), "--max-export") {
			t.Fatalf("an export just over the limit: %v", err)
		}
	})
}
