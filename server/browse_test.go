package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

// get sends an authenticated GET and fails the test on an error status.
func (ts *testServer) get(path, token string) *http.Response {
	ts.t.Helper()
	req, _ := http.NewRequest("GET", ts.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		ts.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	return resp
}

// wantGetErrors sends each GET as alice and wants an error status whose
// message mentions the path's text.
func (ts *testServer) wantGetErrors(t *testing.T, wants map[string]string) {
	t.Helper()
	for path, want := range wants {
		status, eb := ts.raw("GET", path, ts.aliceToken, "", nil)
		if status < 400 || !strings.Contains(eb.Error.Message, want) {
			t.Errorf("%s: %d %q, want an error mentioning %q", path, status, eb.Error.Message, want)
		}
	}
}

// rowsOf reads a page of GET /v1/tables/{table}/rows: the values of one
// column as text, and the commit the page was read at.
func (ts *testServer) rowsOf(path, column string) ([]string, string) {
	ts.t.Helper()
	resp := ts.get(path, ts.aliceToken)
	defer resp.Body.Close()
	rd, err := ipc.NewReader(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer rd.Release()
	_, qi, err := api.SplitQueryInfo(rd.Schema())
	if err != nil {
		ts.t.Fatal(err)
	}
	idx := rd.Schema().FieldIndices(column)
	if len(idx) != 1 {
		ts.t.Fatalf("%s: no column %s in %v", path, column, rd.Schema())
	}
	var out []string
	for rd.Next() {
		col := rd.RecordBatch().Column(idx[0])
		for i := 0; i < col.Len(); i++ {
			out = append(out, col.ValueStr(i))
		}
	}
	if err := rd.Err(); err != nil {
		ts.t.Fatal(err)
	}
	return out, qi.Commit.Hash
}

func TestServer_TableRows(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("id,\"odd name\"\n")
	for i := 0; i < 250; i++ {
		fmt.Fprintf(&b, "%d,%d\n", i, (i*37)%250)
	}
	_, err := ts.admin.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "t"}, Branch: "main", From: []string{ts.file("t.csv", b.String())}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		page, commit := ts.rowsOf("/v1/tables/t/rows?limit=10&offset=20&sort=id", "id")
		if strings.Join(page, ",") != "20,21,22,23,24,25,26,27,28,29" {
			t.Fatalf("page 3 by id: %v", page)
		}
		head, _ := ts.admin.Refs.Resolve(ctx, "main")
		if commit != head.Hash {
			t.Fatalf("page read at %s, want main's head %s", commit, head.Hash)
		}
		desc, _ := ts.rowsOf("/v1/tables/t/rows?limit=3&sort=odd+name&desc=true", "odd name")
		if strings.Join(desc, ",") != "249,248,247" {
			t.Fatalf("sorted by a quoted column, descending: %v", desc)
		}
		all, _ := ts.rowsOf("/v1/tables/t/rows?limit=10000&ref="+commit, "id")
		if len(all) != 250 {
			t.Fatalf("whole table: %d rows", len(all))
		}
	})
	t.Run("ErrBadInput", func(t *testing.T) {
		ts.wantGetErrors(t, map[string]string{
			"/v1/tables/t/rows?sort=nosuch":      "no column",
			"/v1/tables/t/rows?limit=0":          "limit",
			"/v1/tables/t/rows?limit=10001":      "limit",
			"/v1/tables/t/rows?sort=id%22--":     "no column",
			"/v1/tables/nosuch/rows":             "not found",
			"/v1/tables/t/rows?ref=nosuchbranch": "not found",
		})
	})
}

func TestServer_TableStats(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	csv := "n,x,s,flag\n1,0.5,a,true\n2,,b,false\n3,1.5,,true\n3,2.5,a,\n10,4.5,c,true\n"
	_, err := ts.admin.Tables.CreateTable(ctx, tarn.CreateTableRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "s"}, Branch: "main", From: []string{ts.file("s.csv", csv)}})
	if err != nil {
		t.Fatal(err)
	}
	resp := ts.get("/v1/tables/s/stats", ts.aliceToken)
	defer resp.Body.Close()
	var st api.TableStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Rows != 5 || len(st.Columns) != 4 {
		t.Fatalf("stats %+v", st)
	}
	byName := map[string]api.ColumnStats{}
	for _, c := range st.Columns {
		byName[c.Name] = c
	}
	n, x, s := byName["n"], byName["x"], byName["s"]
	if n.Nulls != 0 || *n.Min != "1" || *n.Max != "10" || *n.Distinct != 4 {
		t.Fatalf("n: %+v", n)
	}
	// Integers 1..10: ten bins of one value each.
	var counts []int64
	for _, b := range n.Histogram {
		counts = append(counts, b.Count)
	}
	if fmt.Sprint(counts) != "[1 1 2 0 0 0 0 0 0 1]" || n.Histogram[0].Lower != 1 || n.Histogram[9].Upper != 11 {
		t.Fatalf("n's histogram %+v", n.Histogram)
	}
	if x.Nulls != 1 || *x.Min != "0.5" || *x.Max != "4.5" || len(x.Histogram) != 20 {
		t.Fatalf("x: %+v", x)
	}
	var total int64
	for _, b := range x.Histogram {
		total += b.Count
	}
	if total != 4 || x.Histogram[19].Count != 1 {
		t.Fatalf("x's histogram counts %d values (the last bin %d): %+v", total, x.Histogram[19].Count, x.Histogram)
	}
	if s.Nulls != 1 || *s.Min != "a" || *s.Max != "c" || s.Histogram != nil {
		t.Fatalf("s: %+v", s)
	}
}
