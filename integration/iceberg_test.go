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
	"testing"
	"time"
)

// lakeServer is `tarn serve` with tokens over a fresh home: an admin
// (root) and alice, who owns the branch alice.dev.
type lakeServer struct {
	*server
	catalog     string // the Iceberg REST catalog URI
	root, alice string // tokens
}

func startLake(t *testing.T, serveArgs ...string) *lakeServer {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	return startLakeAt(t, home, serveArgs...)
}

// startLakeAt is startLake over a given home (one whose config.yml may
// name an S3 warehouse), with more `tarn serve` flags.
func startLakeAt(t *testing.T, home string, serveArgs ...string) *lakeServer {
	t.Helper()
	token := func(out string) string {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return strings.TrimSpace(lines[len(lines)-1])
	}
	l := &lakeServer{root: token(tarn(t, home, "user", "add", "root", "--admin")), alice: token(tarn(t, home, "user", "add", "alice"))}
	tarn(t, home, "branch", "create", "alice.dev")
	l.server = startServeWith(t, home, append([]string{"--addr", "127.0.0.1:0"}, serveArgs...)...)
	l.catalog = l.url + "/iceberg"
	return l
}

// as runs the CLI against the server with a user's token.
func (l *lakeServer) as(token string, args ...string) string {
	l.t.Helper()
	cmd := exec.Command(env(l.t, "TARN_BIN"), args...)
	cmd.Env = append(os.Environ(), "TARN_HOME="+filepath.Join(filepath.Dir(l.home), "client"), "TARN_ENDPOINT="+l.url,
		"TARN_TOKEN="+token, "TARN_CONFIG="+filepath.Join(filepath.Dir(l.home), "none.yml"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		l.t.Fatalf("tarn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// script runs a Python script with an interpreter (an environment
// variable naming it) and decodes the JSON of its last output line.
func script(t *testing.T, pythonVar, code string, timeout time.Duration, v any, args ...string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "script.py")
	if err := os.WriteFile(p, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(env(t, pythonVar), append([]string{p}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v\n%s%s", pythonVar, err, out.String(), errb.String())
		}
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s: no answer in %s\n%s%s", pythonVar, timeout, out.String(), errb.String())
	}
	text := bytes.TrimSpace(out.Bytes())
	if err := json.Unmarshal(text[bytes.LastIndexByte(text, '\n')+1:], v); err != nil {
		t.Fatalf("%s: decode the last line: %v\n%s%s", pythonVar, err, text, errb.String())
	}
}

// queryJSON runs tarn query at a ref and decodes its rows.
func (l *lakeServer) queryJSON(ref, sql string) []map[string]any {
	l.t.Helper()
	var rows []map[string]any
	out := l.as(l.alice, "query", sql, "--ref", ref, "-o", "json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		l.t.Fatalf("tarn query %q: %v\n%s", sql, err, out)
	}
	return rows
}

const pyicebergScript = `
import json, sys
import pyarrow as pa
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.expressions import GreaterThanOrEqual
from pyiceberg.types import DoubleType

uri, credential, step = sys.argv[1:4]
if step == "write":
    cat = RestCatalog("tarn", uri=uri, credential=credential, warehouse="alice.dev")
    cat.create_namespace("sales")
    t = cat.create_table("sales.orders", schema=pa.schema([("id", pa.int64()), ("name", pa.string())]))
    t.append(pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", "c"]}))
    t.overwrite(pa.table({"id": pa.array([10, 11, 12], pa.int64()), "name": ["x", "y", "z"]}))
    with t.update_schema() as u:
        u.add_column("amount", DoubleType())
    t.append(pa.table({"id": pa.array([13, 14], pa.int64()), "name": ["w", "v"], "amount": [2.5, 4.0]}))
    scanned = t.scan(row_filter=GreaterThanOrEqual("id", 12)).to_arrow().sort_by("id")
    stale = False
    try:  # a write on main is refused: it changes only by merge
        RestCatalog("tarn", uri=uri, credential=credential, warehouse="main").create_namespace("nope")
    except Exception as e:
        stale = "protected" in str(e)
    print(json.dumps({"ids": scanned.column("id").to_pylist(), "amounts": scanned.column("amount").to_pylist(),
                      "columns": t.schema().column_names, "main_refused": stale}))
else:
    cat = RestCatalog("tarn", uri=uri, credential=credential, warehouse="main")
    t = cat.load_table("sales.orders")
    rows = t.scan().to_arrow()
    print(json.dumps({"rows": rows.num_rows, "ids": sorted(rows.column("id").to_pylist()), "tables": [list(i) for i in cat.list_tables("sales")]}))
`

// TestIceberg_PyIceberg: PyIceberg's REST catalog creates, appends,
// overwrites, evolves and scans a table on a branch; tarn query sees the
// rows and tarn log the commits, by alice; merged with tarn, main reads
// the same from PyIceberg.
func TestIceberg_PyIceberg(t *testing.T) {
	l := startLake(t)
	var wrote struct {
		IDs         []int64    `json:"ids"`
		Amounts     []*float64 `json:"amounts"`
		Columns     []string   `json:"columns"`
		MainRefused bool       `json:"main_refused"`
	}
	script(t, "TARN_PYTHON", pyicebergScript, 2*time.Minute, &wrote, l.catalog, "alice:"+l.alice, "write")
	if len(wrote.IDs) != 3 || wrote.IDs[0] != 12 || wrote.IDs[2] != 14 || wrote.Amounts[0] != nil || *wrote.Amounts[1] != 2.5 ||
		strings.Join(wrote.Columns, ",") != "id,name,amount" || !wrote.MainRefused {
		t.Fatalf("pyiceberg: %+v", wrote)
	}
	rows := l.queryJSON("alice.dev", "select count(*) as n, sum(id) as ids, sum(amount) as amount from sales.orders")
	if len(rows) != 1 || rows[0]["n"] != float64(5) || rows[0]["ids"] != float64(10+11+12+13+14) || rows[0]["amount"] != 6.5 {
		t.Fatalf("tarn query at alice.dev: %v", rows)
	}
	var log []struct{ Author, Message string }
	json.Unmarshal([]byte(l.as(l.alice, "log", "--ref", "alice.dev", "-n", "20", "-o", "json")), &log)
	var engine []string
	for _, c := range log {
		if strings.HasPrefix(c.Message, "iceberg: ") {
			if c.Author != "alice" {
				t.Errorf("commit %q by %s", c.Message, c.Author)
			}
			engine = append(engine, c.Message)
		}
	}
	if len(engine) != 6 || !strings.HasPrefix(engine[0], "iceberg: append sales.orders") || !strings.HasPrefix(engine[2], "iceberg: delete, append sales.orders") ||
		engine[5] != "iceberg: create namespace sales" {
		t.Fatalf("engine commits on alice.dev: %q", engine)
	}
	l.as(l.alice, "branch", "merge", "alice.dev", "--into", "main")
	var read struct {
		Rows   int        `json:"rows"`
		IDs    []int64    `json:"ids"`
		Tables [][]string `json:"tables"`
	}
	script(t, "TARN_PYTHON", pyicebergScript, 2*time.Minute, &read, l.catalog, "alice:"+l.alice, "read")
	if read.Rows != 5 || read.IDs[0] != 10 || len(read.Tables) != 1 {
		t.Fatalf("pyiceberg on main after the merge: %+v", read)
	}
}

const duckdbScript = `
import json, os, sys
import duckdb, duckdb_ext
uri, user, token = sys.argv[1:4]
con = duckdb.connect()
con.execute("SET extension_directory = ?", [os.path.join(duckdb_ext.__path__[0], "extensions")])
for e in ["httpfs", "avro", "iceberg"]:
    con.execute("LOAD " + e)
con.execute(f"CREATE SECRET tarn (TYPE iceberg, CLIENT_ID '{user}', CLIENT_SECRET '{token}', OAUTH2_SERVER_URI '{uri}/v1/oauth/tokens')")
out = {}
for alias, ref in [("dev", "alice.dev"), ("release", "v1")]:
    con.execute(f"ATTACH '{ref}' AS {alias} (TYPE iceberg, SECRET tarn, ENDPOINT '{uri}')")
    out[ref] = con.sql(f"SELECT count(*), sum(id) FROM {alias}.sales.orders").fetchone()
out["filtered"] = con.sql("SELECT id FROM dev.sales.orders WHERE id >= 12 ORDER BY id").fetchall()
print(json.dumps(out))
`

// TestIceberg_DuckDB: DuckDB's iceberg extension attaches the catalog at
// two refs, a branch and a tag, and reads each one's rows.
func TestIceberg_DuckDB(t *testing.T) {
	l := startLake(t)
	var wrote map[string]any
	script(t, "TARN_PYTHON", pyicebergScript, 2*time.Minute, &wrote, l.catalog, "alice:"+l.alice, "write")
	l.as(l.root, "tag", "create", "v1", "--ref", "alice.dev~1") // before the last append
	var got map[string][]any
	script(t, "TARN_DUCKDB_PYTHON", duckdbScript, 2*time.Minute, &got, l.catalog, "alice", l.alice)
	if n := got["alice.dev"]; len(n) != 2 || n[0] != float64(5) || n[1] != float64(60) {
		t.Errorf("duckdb at alice.dev: %v", got)
	}
	if n := got["v1"]; len(n) != 2 || n[0] != float64(3) || n[1] != float64(33) {
		t.Errorf("duckdb at v1: %v", got)
	}
	if f := got["filtered"]; len(f) != 3 {
		t.Errorf("duckdb filtered: %v", got)
	}
}

const sparkScript = `
import json, sys, tempfile
from pyspark.sql import SparkSession
uri, credential, jars, step = sys.argv[1:5]
spark = (SparkSession.builder.master("local[2]").appName("tarn-iceberg-test")
    .config("spark.jars", jars)
    .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
    .config("spark.sql.catalog.tarn", "org.apache.iceberg.spark.SparkCatalog")
    .config("spark.sql.catalog.tarn.type", "rest")
    .config("spark.sql.catalog.tarn.uri", uri)
    .config("spark.sql.catalog.tarn.warehouse", "alice.dev")
    .config("spark.sql.catalog.tarn.credential", credential)
    .config("spark.sql.catalog.tarn.oauth2-server-uri", uri + "/v1/oauth/tokens")
    .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    .config("spark.sql.shuffle.partitions", "2").config("spark.local.dir", tempfile.mkdtemp())
    .getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
q = lambda s: spark.sql(s).collect()
if step == "write":
    q("CREATE NAMESPACE tarn.shop")
    q("""CREATE TABLE tarn.shop.items (id BIGINT, name STRING, qty INT) USING iceberg PARTITIONED BY (bucket(2, id))
         TBLPROPERTIES ('format-version'='2', 'write.delete.mode'='merge-on-read',
                        'write.update.mode'='merge-on-read', 'write.merge.mode'='merge-on-read')""")
    q("INSERT INTO tarn.shop.items SELECT id, concat('n', id), CAST(id AS INT) FROM range(0, 100)")
    q("INSERT INTO tarn.shop.items SELECT id, concat('n', id), CAST(id AS INT) FROM range(100, 200)")
    q("DELETE FROM tarn.shop.items WHERE id % 10 = 0")
    q("UPDATE tarn.shop.items SET qty = qty + 1000 WHERE id < 30")
    spark.createDataFrame([(5, "five", -5), (15, "gone", 0), (500, "new", 500)], "id BIGINT, name STRING, qty INT").createOrReplaceTempView("src")
    q("""MERGE INTO tarn.shop.items t USING src s ON t.id = s.id
         WHEN MATCHED AND s.name = 'gone' THEN DELETE
         WHEN MATCHED THEN UPDATE SET t.name = s.name, t.qty = s.qty
         WHEN NOT MATCHED THEN INSERT *""")
else:
    q("CALL tarn.system.rewrite_data_files(table => 'shop.items', options => map('min-input-files', '1', 'delete-file-threshold', '1'))")
r = q("SELECT count(*) AS n, sum(id) AS ids, sum(qty) AS qty FROM tarn.shop.items")[0]
some = q("SELECT count(*) FROM tarn.shop.items WHERE id BETWEEN 100 AND 110")[0][0]
five = q("SELECT name, qty FROM tarn.shop.items WHERE id = 5")[0]
deletes = q("SELECT count(*) FROM tarn.shop.items.delete_files")[0][0]
print(json.dumps({"n": r["n"], "ids": r["ids"], "qty": r["qty"], "some": some, "five": [five[0], five[1]], "delete_files": deletes}))
`

// TestIceberg_Spark: Spark 4 in local mode creates a table through the
// catalog, inserts, and deletes, updates and merges in merge-on-read mode
// (delete files); tarn reads the rows Spark sees, and again after
// Spark's rewrite_data_files compacts the table.
func TestIceberg_Spark(t *testing.T) {
	l := startLake(t)
	jars := env(t, "TARN_SPARK_JARS")
	type result struct {
		N, IDs, Qty, Some int64
		Five              []any
		DeleteFiles       int64 `json:"delete_files"`
	}
	for _, step := range []string{"write", "compact"} {
		var spark result
		script(t, "TARN_SPARK_PYTHON", sparkScript, 10*time.Minute, &spark, l.catalog, "alice:"+l.alice, jars, step)
		if spark.N != 180 || step == "write" && spark.DeleteFiles == 0 {
			t.Fatalf("spark after %s: %+v", step, spark)
		}
		rows := l.queryJSON("alice.dev", "select count(*) as n, sum(id) as ids, sum(qty) as qty, "+
			"count(*) filter (where id between 100 and 110) as some from shop.items")
		five := l.queryJSON("alice.dev", "select name, qty from shop.items where id = 5")
		got := rows[0]
		if got["n"] != float64(spark.N) || got["ids"] != float64(spark.IDs) || got["qty"] != float64(spark.Qty) || got["some"] != float64(spark.Some) ||
			len(five) != 1 || five[0]["name"] != spark.Five[0] || five[0]["qty"] != spark.Five[1] {
			t.Fatalf("after %s: tarn reads %v %v, spark %+v", step, got, five, spark)
		}
	}
}

const pyicebergS3Script = `
import json, os, sys
import pyarrow as pa
from pyiceberg.catalog.rest import RestCatalog

uri, credential, step = sys.argv[1:4]
if step == "read":
    # Only what the catalog hands out: no AWS settings of our own.
    for k in list(os.environ):
        if k.startswith("AWS_"):
            del os.environ[k]
ref = "alice.dev" if step == "write" else "main"
cat = RestCatalog("tarn", uri=uri, credential=credential, warehouse=ref)
if step == "write":
    t = cat.load_table("sales.orders")
    t.append(pa.table({"id": pa.array([4, 5], pa.int64()), "name": ["d", "e"]}))
t = cat.load_table("sales.orders")
rows = t.scan().to_arrow()
files = [task.file.file_path for task in t.scan().plan_files()]
print(json.dumps({"ids": sorted(rows.column("id").to_pylist()), "metadata": t.metadata_location, "files": files,
                  "endpoint": t.io.properties.get("s3.endpoint", "")}))
`

const duckdbS3Script = `
import json, os, sys
for k in list(os.environ):  # only what the catalog hands out
    if k.startswith("AWS_"):
        del os.environ[k]
import duckdb, duckdb_ext
uri, user, token = sys.argv[1:4]
con = duckdb.connect()
con.execute("SET extension_directory = ?", [os.path.join(duckdb_ext.__path__[0], "extensions")])
for e in ["httpfs", "avro", "iceberg"]:
    con.execute("LOAD " + e)
con.execute(f"CREATE SECRET tarn (TYPE iceberg, CLIENT_ID '{user}', CLIENT_SECRET '{token}', OAUTH2_SERVER_URI '{uri}/v1/oauth/tokens')")
con.execute(f"ATTACH 'main' AS m (TYPE iceberg, SECRET tarn, ENDPOINT '{uri}')")
n, ids = con.sql("SELECT count(*), sum(id) FROM m.sales.orders").fetchone()
print(json.dumps({"n": n, "ids": ids}))
`

// TestIceberg_S3Warehouse: with the tables in an S3-compatible store,
// PyIceberg reads a table tarn wrote and appends to it through the REST
// catalog (its files written into the bucket by PyIceberg itself), tarn
// reads PyIceberg's rows, and after a merge PyIceberg and DuckDB read main
// with nothing but what the catalog hands them: the endpoint, path-style
// addressing and, with --iceberg-credentials static, the keys.
func TestIceberg_S3Warehouse(t *testing.T) {
	wh := s3Warehouse(t)
	home := filepath.Join(t.TempDir(), "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config.yml"), []byte("warehouse: "+wh+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(t.TempDir(), "orders.csv")
	if err := os.WriteFile(csv, []byte("id,name\n1,a\n2,b\n3,c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tarn(t, home, "namespace", "create", "sales")
	tarn(t, home, "table", "create", "sales.orders", "--from", csv)
	l := startLakeAt(t, home, "--iceberg-credentials", "static")
	type result struct {
		IDs      []int64  `json:"ids"`
		Metadata string   `json:"metadata"`
		Files    []string `json:"files"`
		Endpoint string   `json:"endpoint"`
	}
	inBucket := func(step string, r result) {
		t.Helper()
		if !strings.HasPrefix(r.Metadata, wh+"/") || r.Endpoint != os.Getenv("AWS_ENDPOINT_URL") {
			t.Fatalf("%s: metadata %s, endpoint %q: want them in %s at %s", step, r.Metadata, r.Endpoint, wh, os.Getenv("AWS_ENDPOINT_URL"))
		}
		for _, f := range r.Files {
			if !strings.HasPrefix(f, wh+"/") {
				t.Fatalf("%s: data file %s is not in the warehouse %s", step, f, wh)
			}
		}
	}
	var wrote result
	script(t, "TARN_PYTHON", pyicebergS3Script, 2*time.Minute, &wrote, l.catalog, "alice:"+l.alice, "write")
	if fmt.Sprint(wrote.IDs) != "[1 2 3 4 5]" || len(wrote.Files) != 2 {
		t.Fatalf("pyiceberg on alice.dev: %+v", wrote)
	}
	inBucket("write", wrote)
	if rows := l.queryJSON("alice.dev", "select count(*) as n, sum(id) as ids from sales.orders"); len(rows) != 1 || rows[0]["n"] != float64(5) || rows[0]["ids"] != float64(15) {
		t.Fatalf("tarn query at alice.dev: %v", rows)
	}
	l.as(l.alice, "branch", "merge", "alice.dev", "--into", "main")
	var read result
	script(t, "TARN_PYTHON", pyicebergS3Script, 2*time.Minute, &read, l.catalog, "alice:"+l.alice, "read")
	if fmt.Sprint(read.IDs) != "[1 2 3 4 5]" {
		t.Fatalf("pyiceberg on main after the merge, with only the catalog's settings: %+v", read)
	}
	inBucket("read", read)
	var duck struct{ N, IDs int64 }
	script(t, "TARN_DUCKDB_PYTHON", duckdbS3Script, 2*time.Minute, &duck, l.catalog, "alice", l.alice)
	if duck.N != 5 || duck.IDs != 15 {
		t.Fatalf("duckdb on main, with only the catalog's settings: %+v", duck)
	}
}
