//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	iceio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // to put the test's objects into the bucket
	"github.com/tarnhq/tarn/internal/pgtest"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
)

// putObject writes data as the object at url (s3://BUCKET/KEY) on the
// test's S3 server.
func putObject(t *testing.T, url string, data []byte) {
	t.Helper()
	fsys, err := iceio.LoadFS(context.Background(), map[string]string{iceio.S3EndpointURL: os.Getenv("AWS_ENDPOINT_URL")}, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.(iceio.WriteFileIO).WriteFile(url, data); err != nil {
		t.Fatalf("put %s: %v", url, err)
	}
}

// objectInputs puts input files into a fresh folder of the test bucket:
// two Parquet files (written by tarn into a local table, rows 1-50 and
// 51-60), a CSV file (61-70), a hidden Parquet file and a text file that
// a glob must skip. It returns the folder's URL.
func objectInputs(t *testing.T) string {
	t.Helper()
	prefix := s3Warehouse(t) + "-in"
	home := filepath.Join(t.TempDir(), "maker")
	dir := t.TempDir()
	for i, rows := range [][2]int{{1, 50}, {51, 60}} {
		var b strings.Builder
		b.WriteString("id,amount\n")
		for k := rows[0]; k <= rows[1]; k++ {
			fmt.Fprintf(&b, "%d,%d\n", k, k*3)
		}
		csv := filepath.Join(dir, fmt.Sprintf("p%d.csv", i))
		os.WriteFile(csv, []byte(b.String()), 0o644)
		name := fmt.Sprintf("p%d", i)
		tarn(t, home, "table", "create", name, "--from", csv)
		files, _ := filepath.Glob(filepath.Join(home, "warehouse", "tarn", name, "data", "*", "*.parquet"))
		if len(files) != 1 {
			t.Fatalf("table %s has data files %v, want one", name, files)
		}
		data, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		putObject(t, fmt.Sprintf("%s/part-%d.parquet", prefix, i), data)
		if i == 0 {
			putObject(t, prefix+"/.hidden.parquet", data)
		}
	}
	var b strings.Builder
	b.WriteString("id,amount\n")
	for k := 61; k <= 70; k++ {
		fmt.Fprintf(&b, "%d,%d\n", k, k*3)
	}
	putObject(t, prefix+"/more/extra.csv", []byte(b.String()))
	putObject(t, prefix+"/README.txt", []byte("not data\n"))
	return prefix
}

// sumAmounts is the sum of the inputs' amounts (id*3) over the ids lo..hi.
func sumAmounts(lo, hi int) int {
	n := 0
	for k := lo; k <= hi; k++ {
		n += 3 * k
	}
	return n
}

// TestS3_ImportFromBucket: `tarn table create --from s3://.../*.parquet`
// and `tarn table import --from s3://...` read files already in a
// bucket (a glob skipping hidden and unsupported objects, one object, a
// folder), on a local-disk warehouse and on an S3 one; the table's data
// files are its own copies (in its warehouse, not the source objects);
// and nothing matching, a missing bucket, refused credentials and an
// unreachable endpoint are errors naming the bucket and endpoint, with
// nothing written.
func TestS3_ImportFromBucket(t *testing.T) {
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	for _, wh := range []string{"local", "s3"} {
		t.Run(wh, func(t *testing.T) {
			in := objectInputs(t)
			home := filepath.Join(t.TempDir(), "home")
			var global []string
			if wh == "s3" {
				global = []string{"--warehouse", s3Warehouse(t)}
			}
			do := func(args ...string) runOut {
				t.Helper()
				return tarnRun(t, home, append(global, args...)...)
			}
			query := func(sql string) string {
				t.Helper()
				r := do("query", sql, "-o", "csv")
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				if r.code != 0 || len(lines) != 2 {
					t.Fatalf("query %s: %+v", sql, r)
				}
				return lines[1]
			}
			if r := do("table", "create", "t", "--from", in+"/*.parquet"); r.code != 0 || !strings.Contains(r.stdout, "60 rows added") {
				t.Fatalf("create from a glob: %+v", r)
			}
			if r := do("table", "import", "t", "--from", in+"/more/extra.csv"); r.code != 0 || !strings.Contains(r.stdout, "10 rows added") {
				t.Fatalf("import of one object: %+v", r)
			}
			if got, want := query("SELECT count(*), sum(amount) FROM t"), fmt.Sprintf("70,%d", sumAmounts(1, 70)); got != want {
				t.Fatalf("rows: %s, want %s", got, want)
			}
			info := do("table", "get", "t", "-o", "json")
			if info.code != 0 || strings.Contains(info.stdout, in) {
				t.Fatalf("the table refers to the source objects instead of copies: %+v", info)
			}
			// A folder: the objects directly in it (the CSV is in more/).
			if r := do("table", "create", "f", "--from", in+"/"); r.code != 0 || !strings.Contains(r.stdout, "60 rows added") {
				t.Fatalf("create from a folder: %+v", r)
			}
			for _, c := range []struct {
				name, from string
				env        []string
				mentions   []string
			}{
				{"NoMatch", in + "/*.orc", nil, []string{"no object matches", in + "/*.orc", endpoint}},
				{"MissingBucket", "s3://no-such-bucket-tarn/x/*.csv", nil, []string{`there is no bucket "no-such-bucket-tarn"`, endpoint}},
				{"WrongSecret", in + "/*.parquet", []string{"AWS_SECRET_ACCESS_KEY=wrong"}, []string{"credentials were refused", "AWS_SECRET_ACCESS_KEY", endpoint}},
				{"Unreachable", in + "/*.parquet", []string{"AWS_ENDPOINT_URL=http://127.0.0.1:1"}, []string{"http://127.0.0.1:1", "cannot be reached", "AWS_ENDPOINT_URL"}},
			} {
				t.Run(c.name, func(t *testing.T) {
					if wh == "s3" && c.env != nil {
						t.Skip("the warehouse itself is in the bucket: the start refuses these settings (TestS3_Faults)")
					}
					for _, e := range c.env {
						k, v, _ := strings.Cut(e, "=")
						t.Setenv(k, v)
					}
					r := do("table", "import", "t", "--from", c.from)
					if r.code == 0 {
						t.Fatalf("exit %d: %+v", r.code, r)
					}
					for _, m := range c.mentions {
						if !strings.Contains(r.stderr, m) {
							t.Errorf("error does not mention %q: %s", m, r.stderr)
						}
					}
				})
			}
			if got := query("SELECT count(*) FROM t"); got != "70" {
				t.Fatalf("a refused import wrote rows: %s", got)
			}
			if entries, _ := os.ReadDir(filepath.Join(home, "uploads")); len(entries) != 0 {
				t.Errorf("staged copies left behind: %v", entries)
			}
			// The table owns its data: without the source objects (and
			// with a cold object cache) it reads the same.
			removeObjects(t, in)
			os.RemoveAll(filepath.Join(home, "cache", "objects"))
			if got, want := query("SELECT count(*), sum(amount) FROM t"), fmt.Sprintf("70,%d", sumAmounts(1, 70)); got != want {
				t.Fatalf("after the source objects went: %s, want %s", got, want)
			}
		})
	}
}

// removeObjects removes every object under prefix.
func removeObjects(t *testing.T, prefix string) {
	t.Helper()
	fsys, err := iceio.LoadFS(context.Background(), map[string]string{iceio.S3EndpointURL: os.Getenv("AWS_ENDPOINT_URL")}, prefix)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = fsys.(iceio.ListableIO).WalkDir(prefix, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			keys = append(keys, p)
		}
		return err
	})
	if err != nil || len(keys) == 0 {
		t.Fatalf("list %s: %v %v", prefix, keys, err)
	}
	for _, k := range keys {
		if err := fsys.Remove(k); err != nil {
			t.Fatal(err)
		}
	}
}

// TestS3_ImportFromBucketThroughServer: through `tarn serve`, the server
// reads the bucket (the client, whose S3 endpoint is unreachable here,
// sends the URL only), for a create and an import mixing an object and
// an uploaded local file; a --plan made by the server names the objects.
func TestS3_ImportFromBucketThroughServer(t *testing.T) {
	in := objectInputs(t)
	root := t.TempDir()
	s := startServeWith(t, filepath.Join(root, "h"), "--insecure-local", "--addr", "127.0.0.1:0", "--warehouse", s3Warehouse(t), "--import-from", in+"/")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // the client's: it must not read the bucket
	local := filepath.Join(root, "local.csv")
	os.WriteFile(local, []byte("id,amount\n100,300\n"), 0o644)
	// The server reads only the prefixes its operator allows.
	bucket := "s3://" + env(t, "TARN_TEST_S3_BUCKET")
	for from, want := range map[string]string{
		bucket + "/elsewhere/x.parquet": "not under a prefix this server imports from",
		in + "/../elsewhere/x.parquet":  "segments is not accepted",
		in + "-other/part-0.parquet":    "not under a prefix",
	} {
		if r := s.cli("table", "create", "t", "--from", from); r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Fatalf("create from %s: %+v, want %q", from, r, want)
		}
	}
	if r := s.cli("table", "create", "t", "--from", in+"/part-*.parquet"); r.code != 0 || !strings.Contains(r.stdout, "60 rows added") {
		t.Fatalf("create through the server: %+v", r)
	}
	if r := s.cli("table", "import", "t", "--from", in+"/more/", "--from", local); r.code != 0 || !strings.Contains(r.stdout, "11 rows added") {
		t.Fatalf("import through the server: %+v", r)
	}
	r := s.cli("query", "SELECT count(*), sum(amount) FROM t", "-o", "csv")
	if want := fmt.Sprintf("71,%d", sumAmounts(1, 70)+300); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("query: %+v, want %s", r, want)
	}
	if r := s.cli("table", "import", "t", "--from", in+"/nothing-*.csv"); r.code == 0 || !strings.Contains(r.stderr, "no object matches") {
		t.Fatalf("import of nothing: %+v", r)
	}
	// --plan of objects: the server infers the columns (the client cannot
	// reach the bucket), under its prefixes, and the plan applied creates
	// the table.
	if r := s.cli("table", "create", "p", "--from", bucket+"/elsewhere/x.parquet", "--plan"); r.code == 0 || !strings.Contains(r.stderr, "not under a prefix this server imports from") {
		t.Fatalf("--plan outside the prefixes: %+v", r)
	}
	r = s.cli("table", "create", "p", "--from", in+"/part-*.parquet", "--plan")
	if r.code != 0 || !strings.Contains(r.stdout, "name: amount") || !strings.Contains(r.stdout, "type: long") || !strings.Contains(r.stdout, in+"/part-*.parquet") {
		t.Fatalf("--plan through the server: %+v", r)
	}
	if r := s.cli("table", "create", "t", "--from", in+"/part-*.parquet", "--plan", "--if-not-exists"); r.code != 0 || !strings.Contains(r.stdout, "name: amount") {
		t.Fatalf("--plan of a table that exists: %+v", r)
	}
	plan := filepath.Join(root, "plan.yaml")
	if err := os.WriteFile(plan, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := s.cli("table", "create", "p", "--apply", plan); r.code != 0 || !strings.Contains(r.stdout, "60 rows added") {
		t.Fatalf("create from the server's plan: %+v", r)
	}
}

// cacheTier lists the step cache's tier in the warehouse's bucket.
type cacheTier struct {
	t *testing.T
	b *s3fetch.Bucket
}

func openTier(t *testing.T, warehouse string) *cacheTier {
	t.Helper()
	return &cacheTier{t: t, b: warehouseBucket(t, warehouse, ".tarn/cache")}
}

func (c *cacheTier) list() []s3fetch.Object {
	c.t.Helper()
	objs, err := c.b.List(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	return objs
}

// TestS3_SharedStepCache: two homes (two servers' machines) on one
// PostgreSQL catalog and one S3 warehouse: a run on the first stores its
// steps in the bucket's cache tier (WAREHOUSE/.tarn/cache), and the same
// run on the second, whose local cache is empty, is served from there,
// every step cached, and says so.
func TestS3_SharedStepCache(t *testing.T) {
	wh := s3Warehouse(t)
	catalog := pgtest.URL(t)
	root := t.TempDir()
	dir := filepath.Join(root, "taxi")
	tarn(t, filepath.Join(root, "h1"), "--catalog", catalog, "--warehouse", wh, "init", dir)
	type result struct {
		Published bool
		Steps     []struct {
			Name    string
			Cached  bool
			Profile []struct{ Name, Detail string }
		}
	}
	run := func(home string) (result, runOut) {
		t.Helper()
		r := tarnRun(t, filepath.Join(root, home), "--catalog", catalog, "--warehouse", wh, "run", "-p", dir, "-o", "json")
		var res result
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || len(res.Steps) == 0 {
			t.Fatalf("run on %s: %+v", home, r)
		}
		return res, r
	}
	first, _ := run("h1")
	for _, st := range first.Steps {
		if st.Cached {
			t.Fatalf("first run: step %s cached", st.Name)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "h2", "cache", "entries")); len(entries) != 0 {
		t.Fatalf("the second home's cache is not empty: %v", entries)
	}
	second, r := run("h2")
	for _, st := range second.Steps {
		shared := false
		for _, p := range st.Profile {
			shared = shared || p.Detail == "served from the shared cache"
		}
		if !st.Cached || !shared {
			t.Errorf("second run, on the other home: step %s cached=%v, not served from the shared cache: %+v", st.Name, st.Cached, st.Profile)
		}
	}
	if !strings.Contains(r.stderr, "served from the shared cache "+wh+"/.tarn/cache") {
		t.Errorf("the run does not say where its steps came from: %s", r.stderr)
	}
	// Now local on the second home: a third run downloads nothing, and
	// records each entry's use in the bucket (gc trims it least recently
	// used first).
	tier := openTier(t, wh)
	time.Sleep(1100 * time.Millisecond) // object times have whole seconds
	beforeThird := time.Now().Truncate(time.Second)
	third, _ := run("h2")
	for _, st := range third.Steps {
		for _, p := range st.Profile {
			if p.Detail == "served from the shared cache" {
				t.Errorf("third run: step %s downloaded again", st.Name)
			}
		}
	}
	entries, uses := 0, 0
	for _, o := range tier.list() {
		switch {
		case strings.HasSuffix(o.Key, "/meta.json"):
			entries++
		case strings.HasSuffix(o.Key, "/used") && !o.Modified.Before(beforeThird):
			uses++
		}
	}
	if entries == 0 || uses != entries {
		t.Errorf("the bucket's tier has %d entries and %d uses recorded by the run of local copies", entries, uses)
	}
	// gc leaves the shared tier alone: after it, a third home is still
	// served from the bucket.
	if r := tarnRun(t, filepath.Join(root, "h1"), "--catalog", catalog, "--warehouse", wh, "gc", "--older-than", "0s"); r.code != 0 {
		t.Fatalf("gc: %+v", r)
	}
	fourth, _ := run("h3")
	for _, st := range fourth.Steps {
		if !st.Cached {
			t.Errorf("after gc, on a third home: step %s not cached", st.Name)
		}
	}
	// Past cache.shared_max_size gc trims the tier (here to nothing): a
	// fourth home computes every step again.
	t.Setenv("TARN_CACHE_SHARED_MAX_SIZE", "1")
	g := tarnRun(t, filepath.Join(root, "h1"), "--catalog", catalog, "--warehouse", wh, "gc", "-o", "json")
	var rep struct {
		SharedCache *struct {
			Entries        int   `json:"entries"`
			MaxBytes       int64 `json:"max_bytes"`
			RemovedEntries int   `json:"removed_entries"`
		} `json:"shared_cache"`
	}
	if g.code != 0 || json.Unmarshal([]byte(g.stdout), &rep) != nil || rep.SharedCache == nil {
		t.Fatalf("gc with a bound of 1 byte: %+v", g)
	}
	if c := rep.SharedCache; c.Entries == 0 || c.RemovedEntries != c.Entries || c.MaxBytes != 1 {
		t.Errorf("gc's shared cache report: %+v, want every entry removed under a 1-byte bound", *c)
	}
	os.Unsetenv("TARN_CACHE_SHARED_MAX_SIZE")
	fifth, _ := run("h4")
	for _, st := range fifth.Steps {
		if st.Cached {
			t.Errorf("after the tier was trimmed, on a fourth home: step %s still cached", st.Name)
		}
	}
}
