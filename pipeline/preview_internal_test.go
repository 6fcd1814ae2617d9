package pipeline

import (
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
	schema := arrow.NewSchema([]arrow.Field{{Name: "t", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{secret, "x" + secret + strings.Repeat("y", 50)}, nil)
	rec := b.NewRecord()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "out.arrow")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.Close()
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
