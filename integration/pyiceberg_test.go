//go:build integration

// Package integration holds tests that need more than Go: other engines
// reading tarn's tables. Run them with scripts/test.sh.
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
)

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the integration tests through scripts/test.sh", name)
	}
	return v
}

func tarn(t *testing.T, home string, args ...string) string {
	t.Helper()
	cmd := exec.Command(env(t, "TARN_BIN"), args...)
	cmd.Env = append(os.Environ(), "TARN_HOME="+home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tarn %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

const readScript = `
import json, sys
from pyiceberg.table import StaticTable
t = StaticTable.from_metadata(sys.argv[1])
tbl = t.scan().to_arrow()
out = {"rows": tbl.num_rows, "columns": tbl.column_names,
       "sum": float(sum(v for v in tbl.column("amount").to_pylist() if v is not None)),
       "snapshots": len(t.metadata.snapshots), "format_version": t.metadata.format_version,
       "partition_fields": [f.name for f in t.spec().fields]}
filtered = t.scan(row_filter="id >= 10").to_arrow()
out["filtered_rows"] = filtered.num_rows
print(json.dumps(out))
`

// TestPyIceberg_ReadsTarnTables: a table written by tarn (create, then an
// import with schema evolution) is read by PyIceberg from its metadata file.
func TestPyIceberg_ReadsTarnTables(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	var a, b strings.Builder
	a.WriteString("id,name,amount,ts\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&a, "%d,n%d,%d.25,2026-03-%02dT08:00:00Z\n", i, i, i, 1+i%5)
	}
	b.WriteString("id,name,amount,ts,extra\n")
	for i := 20; i < 25; i++ {
		fmt.Fprintf(&b, "%d,n%d,%d.25,2026-03-%02dT08:00:00Z,x\n", i, i, i, 1+i%5)
	}
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte(a.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "b.csv"), []byte(b.String()), 0o644)
	tarn(t, home, "table", "create", "events", "--from", filepath.Join(dir, "a.csv"), "--partition-by", "day(ts)")
	tarn(t, home, "table", "import", "events", "--from", filepath.Join(dir, "b.csv"))
	var info struct {
		MetadataLocation string `json:"metadata_location"`
	}
	if err := json.Unmarshal([]byte(tarn(t, home, "table", "get", "events", "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rows            int      `json:"rows"`
		Columns         []string `json:"columns"`
		Sum             float64  `json:"sum"`
		Snapshots       int      `json:"snapshots"`
		FormatVersion   int      `json:"format_version"`
		PartitionFields []string `json:"partition_fields"`
		FilteredRows    int      `json:"filtered_rows"`
	}
	pyiceberg(t, dir, readScript, info.MetadataLocation, &got)
	wantSum := 0.0
	for i := 0; i < 25; i++ {
		wantSum += float64(i) + 0.25
	}
	if got.Rows != 25 || got.Sum != wantSum || got.FilteredRows != 15 || got.Snapshots != 2 || got.FormatVersion != 2 {
		t.Fatalf("pyiceberg read %+v", got)
	}
	if strings.Join(got.Columns, ",") != "id,name,amount,ts,extra" || len(got.PartitionFields) != 1 {
		t.Fatalf("pyiceberg schema %+v", got)
	}
}

const readTypesScript = `
import json, sys
from pyiceberg.table import StaticTable
t = StaticTable.from_metadata(sys.argv[1])
tbl = t.scan().to_arrow()
out = {"rows": tbl.num_rows,
       "types": {f.name: str(f.type) for f in tbl.schema},
       "sum": float(sum(v for v in tbl.column("amount").to_pylist() if v is not None)),
       "nulls": tbl.column("note").null_count,
       "filtered_rows": t.scan(row_filter="id >= 100").to_arrow().num_rows,
       "files": len(list(t.scan(row_filter="id >= 100000").plan_files()))}
print(json.dumps(out))
`

// TestPyIceberg_ReadsImportedTables: an unpartitioned table, whose data
// files embedded DuckDB writes (create from CSV, import of JSON Lines), is
// read by PyIceberg by field id, with statistics that prune files.
func TestPyIceberg_ReadsImportedTables(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	var a, b strings.Builder
	a.WriteString("id,name,amount,day,note\n")
	for i := 0; i < 200; i++ {
		note := ""
		if i%3 == 0 {
			note = `"a, ""quoted"" note"`
		}
		fmt.Fprintf(&a, "%d,n%d,%d.5,2026-03-%02d,%s\n", i, i, i, 1+i%28, note)
	}
	for i := 200; i < 210; i++ {
		fmt.Fprintf(&b, `{"id": %d, "name": "j%d", "amount": %d.5}`+"\n", i, i, i)
	}
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte(a.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(b.String()), 0o644)
	tarn(t, home, "table", "create", "items", "--from", filepath.Join(dir, "a.csv"))
	tarn(t, home, "table", "import", "items", "--from", filepath.Join(dir, "b.jsonl"))
	if files, _ := filepath.Glob(filepath.Join(home, "warehouse", "tarn", "items", "data", "import-*", "*.parquet")); len(files) < 2 {
		t.Fatalf("the imports did not go through the engine: %v", files)
	}
	var info struct {
		MetadataLocation string `json:"metadata_location"`
	}
	if err := json.Unmarshal([]byte(tarn(t, home, "table", "get", "items", "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rows         int               `json:"rows"`
		Types        map[string]string `json:"types"`
		Sum          float64           `json:"sum"`
		Nulls        int               `json:"nulls"`
		FilteredRows int               `json:"filtered_rows"`
		Files        int               `json:"files"`
	}
	pyiceberg(t, dir, readTypesScript, info.MetadataLocation, &got)
	wantSum := 0.0
	for i := 0; i < 210; i++ {
		wantSum += float64(i) + 0.5
	}
	want := map[string]string{"id": "int64", "name": "large_string", "amount": "double", "day": "date32[day]", "note": "large_string"}
	for k, v := range want {
		if got.Types[k] != v && !(v == "large_string" && got.Types[k] == "string") {
			t.Fatalf("pyiceberg reads column %s as %s, want %s (all: %v)", k, got.Types[k], v, got.Types)
		}
	}
	// 200 CSV rows of which 133 have no note, and 10 JSON rows without one.
	if got.Rows != 210 || got.Sum != wantSum || got.Nulls != 143 || got.FilteredRows != 110 || got.Files != 0 {
		t.Fatalf("pyiceberg read %+v", got)
	}
}

// pyiceberg runs a script with the table's metadata file and decodes the
// JSON of its last line into got.
func pyiceberg(t *testing.T, dir, source, metadata string, got any) {
	t.Helper()
	script := filepath.Join(dir, "read.py")
	os.WriteFile(script, []byte(source), 0o644)
	out, err := exec.Command(env(t, "TARN_PYTHON"), script, metadata).CombinedOutput()
	if err != nil {
		t.Fatalf("pyiceberg: %v\n%s", err, out)
	}
	if err := json.Unmarshal(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:], got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
}
