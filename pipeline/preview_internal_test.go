package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	rt "github.com/tarnhq/tarn/runtime"
)

// A preview masks a secret before it cuts a long cell: none of the
// secret's characters show, even where the cell is longer than 40.
func TestPreviewMasksBeforeCutting(t *testing.T) {
	secret := "tarn-preview-secret-0123456789abcdef0123456789"
	path := writeStringsIPC(t, []string{secret, "x" + secret + strings.Repeat("y", 50)})
	text, err := previewArrow(path, 5, rt.NewMasker(secret))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "tarn-preview") || !strings.Contains(text, "x***yyy") {
		t.Fatalf("preview:\n%s", text)
	}
	if text, _ := previewArrow(path, 5, nil); !strings.Contains(text, "tarn-preview-secret-") {
		t.Fatalf("preview without secrets:\n%s", text)
	}
}

// writeStringsIPC writes an Arrow IPC file of one string column t holding
// values, in one batch, and returns its path.
func writeStringsIPC(t *testing.T, values []string) string {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "t", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(values, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "out.arrow")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// The last rows of an output (a negative count).
func TestPreviewLastRows(t *testing.T) {
	path := writeStringsIPC(t, []string{"first", "second", "third"})
	text, err := previewArrow(path, -2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "first") || !strings.Contains(text, "second") || !strings.Contains(text, "third") || !strings.Contains(text, "(2 of 3 rows)") {
		t.Fatalf("the last 2 rows:\n%s", text)
	}
}

// An output written by user code whose string offsets go backwards (each
// within the data, which arrow-go's reader checks) is refused with an
// error naming the column, not read past its buffers (a panic, which
// would end the server that runs the step), for the first rows and the
// last.
func TestPreviewMalformed(t *testing.T) {
	path := writeStringsIPC(t, []string{"aa", "bb", "cc"})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte{0, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0})
	if at < 0 {
		t.Fatal("the string offsets are not in the file")
	}
	data[at+4] = 4 // offsets 0 4 4 6 ...
	data[at+8] = 2 // ... 0 4 2 6: the second string ends before it starts
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rows := range []int{5, -2} {
		if text, err := previewArrow(path, rows, nil); err == nil || !strings.Contains(err.Error(), `column "t" is malformed`) {
			t.Fatalf("preview %d of a malformed output: %q, %v; want the column's error", rows, text, err)
		}
	}
}
