package query_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tarnhq/tarn/query"
)

// exportChildEnv makes TestEngine_ExportMemory export one result in this
// process (the child whose peak RSS the parent measures): FORMAT:PATH.
const exportChildEnv = "TARN_TEST_EXPORT_CHILD"

// exportRows rows of about 120 bytes each: an Arrow file of about 600 MB,
// every string distinct (no dictionary to hide the size).
const (
	exportRows = 5_000_000
	exportSQL  = "select range as i, printf('%0110d', range) as s from range(5000000)"
	// exportRSS bounds the child's peak resident memory: DuckDB's working
	// set, a few batches in flight and the Go runtime, well under the
	// result's size.
	exportRSS = 400 << 20
)

// TestEngine_ExportMemory exports a result of about 600 MB as Arrow and
// as Parquet, each in a child process, and checks that the file holds
// every row and that the child's peak RSS stayed under exportRSS: an
// export that held the result (or a materialized DuckDB result) in memory
// would go over.
func TestEngine_ExportMemory(t *testing.T) {
	if spec := os.Getenv(exportChildEnv); spec != "" {
		exportChild(t, spec)
		return
	}
	if testing.Short() {
		t.Skip("exports 600 MB")
	}
	dir := t.TempDir()
	for _, f := range []query.Format{query.FormatArrow, query.FormatParquet} {
		t.Run(string(f), func(t *testing.T) {
			out := filepath.Join(dir, "out."+string(f))
			defer os.Remove(out)
			cmd := exec.Command(os.Args[0], "-test.run", "^TestEngine_ExportMemory$", "-test.count=1")
			cmd.Env = append(os.Environ(), exportChildEnv+"="+string(f)+":"+out)
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, b)
			}
			peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
			st, err := os.Stat(out)
			if err != nil {
				t.Fatalf("no result file: %v\n%s", err, b)
			}
			t.Logf("%s: %d MB file, child peak RSS %d MB", f, st.Size()>>20, peak>>20)
			if f == query.FormatArrow {
				if st.Size() < exportRows*110 {
					t.Fatalf("the Arrow file is %d bytes: smaller than its rows' strings", st.Size())
				}
				if n := arrowRows(t, out); n != exportRows {
					t.Fatalf("the Arrow file holds %d rows, want %d", n, exportRows)
				}
			}
			if peak > exportRSS {
				t.Fatalf("exporting a %d MB result as %s peaked at %d MB RSS, over the bound of %d MB", st.Size()>>20, f, peak>>20, exportRSS>>20)
			}
		})
	}
}

// exportChild runs one export and checks its row count.
func exportChild(t *testing.T, spec string) {
	format, out, _ := strings.Cut(spec, ":")
	l := newLake(t)
	res, err := l.engine.CopyFile(context.Background(), query.Request{SQL: exportSQL}, query.Format(format), out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != exportRows {
		t.Fatalf("exported %d rows, want %d", res.Rows, exportRows)
	}
}

// arrowRows counts the rows of an Arrow IPC file, batch by batch.
func arrowRows(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var n int64
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if got := rec.Schema().Field(1).Name; got != "s" {
				t.Fatalf("second column %q, want s", got)
			}
		}
		n += rec.NumRows()
		rec.Release()
	}
	return n
}
