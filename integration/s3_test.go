//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn/internal/pgtest"
)

// s3Warehouse returns a fresh s3:// warehouse in the test bucket of the
// S3-compatible server scripts/versitygw.sh started (its AWS_* settings
// are in the environment, as scripts/test.sh exports them).
func s3Warehouse(t *testing.T) string {
	t.Helper()
	for _, v := range []string{"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if os.Getenv(v) == "" {
			t.Fatalf("%s is not set: start the S3 server with scripts/versitygw.sh start and export its settings (set -a; . .tmp/versitygw.env)", v)
		}
	}
	return fmt.Sprintf("s3://%s/t-%d-%d", env(t, "TARN_TEST_S3_BUCKET"), time.Now().UnixNano(), os.Getpid())
}

// queryOne runs a one-row query and returns its values as text and the
// footer (the last line of the text output).
func queryOne(t *testing.T, home, warehouse, sql string) (row []string, footer string) {
	t.Helper()
	r := tarnRun(t, home, "--warehouse", warehouse, "query", sql)
	if r.code != 0 {
		t.Fatalf("query %s: %+v", sql, r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("query %s: want one row, got\n%s", sql, r.stdout)
	}
	return strings.Fields(lines[3]), lines[4]
}

// TestS3_Warehouse: a lakehouse whose tables live in an S3-compatible
// object store: create, import with schema evolution, time travel, revert
// and remove work on it, its files are objects in the bucket (none on
// the home's disk), DuckDB queries them through the local cache (a cold
// query says what it downloaded, a warm one downloads nothing), and
// `tarn verify --history` reads every file back.
func TestS3_Warehouse(t *testing.T) {
	wh := s3Warehouse(t)
	home := filepath.Join(t.TempDir(), "home")
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	b := filepath.Join(dir, "b.csv")
	var csvA, csvB strings.Builder
	csvA.WriteString("id,amount\n")
	sumA := 0
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&csvA, "%d,%d\n", i, i*3)
		sumA += i * 3
	}
	csvB.WriteString("id,amount,note\n")
	sumB := 0
	for i := 51; i <= 60; i++ {
		fmt.Fprintf(&csvB, "%d,%d,n%d\n", i, i*7, i)
		sumB += i * 7
	}
	os.WriteFile(a, []byte(csvA.String()), 0o644)
	os.WriteFile(b, []byte(csvB.String()), 0o644)
	do := func(args ...string) runOut {
		t.Helper()
		r := tarnRun(t, home, append([]string{"--warehouse", wh}, args...)...)
		if r.code != 0 {
			t.Fatalf("tarn %s: %+v", strings.Join(args, " "), r)
		}
		return r
	}
	do("namespace", "create", "sales")
	do("table", "create", "sales.orders", "--from", a)
	do("table", "import", "sales.orders", "--from", b) // adds the column note

	var got struct {
		Location         string `json:"location"`
		MetadataLocation string `json:"metadata_location"`
	}
	if err := json.Unmarshal([]byte(do("table", "get", "sales.orders", "-o", "json").stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Location != wh+"/sales/orders" || !strings.HasPrefix(got.MetadataLocation, wh+"/sales/orders/metadata/") {
		t.Fatalf("table not in the warehouse %s: %+v", wh, got)
	}
	if st := do("status").stdout; !strings.Contains(st, wh+" at "+os.Getenv("AWS_ENDPOINT_URL")) {
		t.Fatalf("status does not say where the tables live:\n%s", st)
	}
	filepath.Walk(filepath.Join(home, "warehouse"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			t.Errorf("a table file on the home's disk: %s", p)
		}
		return nil
	})

	sql := "SELECT count(*), sum(amount), count(note) FROM sales.orders"
	want := []string{"60", fmt.Sprint(sumA + sumB), "10"}
	row, footer := queryOne(t, home, wh, sql)
	if strings.Join(row, " ") != strings.Join(want, " ") {
		t.Fatalf("cold query: got %v, want %v", row, want)
	}
	if !strings.Contains(footer, "downloading 2 data files") {
		t.Fatalf("a cold query does not say what it downloaded: %q", footer)
	}
	row, footer = queryOne(t, home, wh, sql)
	if strings.Join(row, " ") != strings.Join(want, " ") || strings.Contains(footer, "downloading") {
		t.Fatalf("warm query: got %v (%q), want %v and no download", row, footer, want)
	}
	// tarn cache stats reports the object cache next to the step cache.
	var stats struct {
		Dir     string `json:"dir"`
		Objects struct {
			Dir      string `json:"dir"`
			Entries  int    `json:"entries"`
			Bytes    int64  `json:"bytes"`
			MaxBytes int64  `json:"max_bytes"`
		} `json:"objects"`
	}
	if err := json.Unmarshal([]byte(do("cache", "stats", "-o", "json").stdout), &stats); err != nil {
		t.Fatal(err)
	}
	if o := stats.Objects; o.Dir != filepath.Join(home, "cache", "objects") || o.Entries != 2 || o.Bytes <= 0 || o.MaxBytes != 20<<30 || stats.Dir == "" {
		t.Fatalf("cache stats: %+v, want the object cache in %s with the 2 data files, bound 20 GiB", stats, filepath.Join(home, "cache", "objects"))
	}
	if text := do("cache", "stats").stdout; !strings.Contains(text, "object cache") || !strings.Contains(text, "entries:  2\n") {
		t.Fatalf("cache stats does not show the object cache:\n%s", text)
	}
	// The cache is only a copy: without it the same answer comes back.
	if err := os.RemoveAll(filepath.Join(home, "cache", "objects")); err != nil {
		t.Fatal(err)
	}
	if row, _ = queryOne(t, home, wh, sql); strings.Join(row, " ") != strings.Join(want, " ") {
		t.Fatalf("query after the cache went: got %v, want %v", row, want)
	}

	old := tarnRun(t, home, "--warehouse", wh, "query", "--ref", "main~1", "SELECT count(*), sum(amount) FROM sales.orders", "-o", "csv")
	if old.code != 0 || !strings.Contains(old.stdout, fmt.Sprintf("50,%d", sumA)) {
		t.Fatalf("time travel to main~1: %+v", old)
	}
	do("table", "revert", "sales.orders", "--to", "main~1")
	if row, _ = queryOne(t, home, wh, "SELECT count(*), sum(amount) FROM sales.orders"); strings.Join(row, " ") != fmt.Sprintf("50 %d", sumA) {
		t.Fatalf("after revert: got %v, want 50 %d", row, sumA)
	}
	do("branch", "create", "dev")
	do("checkout", "dev")
	do("table", "rm", "sales.orders")
	do("checkout", "main")
	if v := do("verify", "--history"); !strings.Contains(v.stdout, "checked 2 refs") {
		t.Fatalf("verify --history: %+v", v)
	}
}

// TestS3_Faults: a missing bucket, wrong credentials and an unreachable
// endpoint are refused at start with an error naming the bucket and the
// endpoint and what to check; a bad warehouse URL is a usage error.
func TestS3_Faults(t *testing.T) {
	wh := s3Warehouse(t)
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	for _, c := range []struct {
		name, warehouse string
		env             []string
		code            int
		mentions        []string
	}{
		{"MissingBucket", "s3://no-such-bucket-tarn/x", nil, 1, []string{`bucket "no-such-bucket-tarn"`, endpoint, "NoSuchBucket", "there is no bucket \"no-such-bucket-tarn\": check the URL"}},
		{"WrongSecret", wh, []string{"AWS_SECRET_ACCESS_KEY=wrong"}, 1, []string{"bucket", endpoint, "SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY"}},
		{"Unreachable", wh, []string{"AWS_ENDPOINT_URL=http://127.0.0.1:1"}, 1, []string{"http://127.0.0.1:1", "connection refused", "AWS_ENDPOINT_URL"}},
		{"BadURL", "s3:/nobucket", nil, 2, []string{"use s3://BUCKET/PREFIX"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			for _, e := range c.env {
				k, v, _ := strings.Cut(e, "=")
				t.Setenv(k, v)
			}
			r := tarnRun(t, home, "--warehouse", c.warehouse, "status")
			if r.code != c.code {
				t.Fatalf("exit %d, want %d: %+v", r.code, c.code, r)
			}
			for _, m := range c.mentions {
				if !strings.Contains(r.stderr, m) {
					t.Errorf("error does not mention %q: %s", m, r.stderr)
				}
			}
		})
	}
}

// TestS3_SharedServers: two `tarn serve` on one PostgreSQL database with
// the tables in the bucket: a table written through one is queried
// through the other (each server its own cache), and /readyz checks the
// bucket.
func TestS3_SharedServers(t *testing.T) {
	wh := s3Warehouse(t)
	catalog := pgtest.URL(t)
	root := t.TempDir()
	s1 := startShared(t, filepath.Join(root, "h1"), catalog, "--warehouse", wh)
	s2 := startShared(t, filepath.Join(root, "h2"), catalog, "--warehouse", wh)
	csv := filepath.Join(root, "x.csv")
	os.WriteFile(csv, []byte("k,v\n1,10\n2,20\n3,30\n"), 0o644)
	for _, args := range [][]string{{"namespace", "create", "s"}, {"table", "create", "s.t", "--from", csv}} {
		if r := s1.cli(args...); r.code != 0 {
			t.Fatalf("%v through server 1: %+v", args, r)
		}
	}
	r := s2.cli("query", "SELECT count(*), sum(v) FROM s.t", "-o", "csv")
	if r.code != 0 || !strings.Contains(r.stdout, "3,60") {
		t.Fatalf("query through server 2: %+v", r)
	}
	if r := s2.cli("table", "get", "s.t", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"location": "`+wh+`/s/t"`) {
		t.Fatalf("table not in the bucket: %+v", r)
	}
	for i, s := range []*server{s1, s2} {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ready"`) {
			t.Fatalf("readyz of server %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
}

// TestS3_Pipeline: `tarn run` of the example project on an S3 warehouse:
// every output is a table in the bucket, read by the next step and by
// DuckDB, and the history verifies (TestS3_PipelineOutputFastPath checks
// which writer wrote them).
func TestS3_Pipeline(t *testing.T) {
	wh := s3Warehouse(t)
	home := filepath.Join(t.TempDir(), "home")
	dir := filepath.Join(t.TempDir(), "taxi")
	tarn(t, home, "init", dir)
	r := tarnRun(t, home, "--warehouse", wh, "run", "-p", dir, "-o", "json")
	var res struct{ Published bool }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || !res.Published {
		t.Fatalf("run on %s: %+v", wh, r)
	}
	for name, want := range map[string]string{"raw_trips": "500", "zone_stats": "8"} {
		if row, _ := queryOne(t, home, wh, "SELECT count(*) FROM tarn."+name); len(row) != 1 || row[0] != want {
			t.Errorf("%s: %v rows, want %s", name, row, want)
		}
		var info struct{ Location string }
		if err := json.Unmarshal([]byte(tarn(t, home, "--warehouse", wh, "table", "get", "tarn."+name, "-o", "json")), &info); err != nil || info.Location != wh+"/tarn/"+name {
			t.Errorf("%s is at %q, not in %s (%v)", name, info.Location, wh, err)
		}
	}
	if v := tarnRun(t, home, "--warehouse", wh, "verify", "--history"); v.code != 0 {
		t.Fatalf("verify --history: %+v", v)
	}
}

// TestS3_PipelineLakeInput: a step reading a lake table of an S3
// warehouse gets local copies of its data files from the object cache
// (downloaded when planned, said in its plan phase), not an export, and
// the run's answer is right.
func TestS3_PipelineLakeInput(t *testing.T) {
	wh := s3Warehouse(t)
	home := filepath.Join(t.TempDir(), "home")
	dir := filepath.Join(t.TempDir(), "proj")
	tarn(t, home, "init", dir)
	os.RemoveAll(filepath.Join(dir, "models"))
	os.MkdirAll(filepath.Join(dir, "models"), 0o755)
	os.WriteFile(filepath.Join(dir, "models", "twice.py"), []byte(`import pyarrow.compute as pc

import tarn


@tarn.model(materialization_strategy="REPLACE")
def twice(sales=tarn.Model("sales", columns=["id", "amount"])):
    return sales.append_column("twice", pc.multiply(sales["amount"], 2))
`), 0o644)
	csv := filepath.Join(t.TempDir(), "sales.csv")
	var b strings.Builder
	b.WriteString("id,amount,note\n")
	sum := 0
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "%d,%d,n%d\n", i, i*5, i)
		sum += i * 5
	}
	os.WriteFile(csv, []byte(b.String()), 0o644)
	if r := tarnRun(t, home, "--warehouse", wh, "table", "create", "sales", "--from", csv); r.code != 0 {
		t.Fatalf("table create: %+v", r)
	}
	r := tarnRun(t, home, "--warehouse", wh, "run", "-p", dir, "-o", "json")
	var res struct {
		Published bool
		Steps     []struct {
			Name    string
			Profile []struct{ Name, Detail string }
		}
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || !res.Published {
		t.Fatalf("run on %s: %+v", wh, r)
	}
	var planned bool
	for _, st := range res.Steps {
		for _, ph := range st.Profile {
			if ph.Name == "export" {
				t.Errorf("step %s exported its input instead of reading the cached files: %s", st.Name, ph.Detail)
			}
			if ph.Name == "plan" && strings.Contains(ph.Detail, "1 downloaded from the object store") {
				planned = true
			}
		}
	}
	if !planned {
		t.Errorf("no step says it read sales from files downloaded into the object cache: %s", r.stdout)
	}
	if row, _ := queryOne(t, home, wh, "SELECT count(*), sum(twice) FROM tarn.twice"); strings.Join(row, " ") != fmt.Sprintf("40 %d", 2*sum) {
		t.Errorf("twice: %v, want 40 %d", row, 2*sum)
	}
}
