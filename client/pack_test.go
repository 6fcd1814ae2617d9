package client

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
)

func TestPack_GitIgnore(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		".gitignore":             "# data stays home\ndata/\n*.log\n/build\nnotes/**/secret.txt\n!keep.log\n",
		"tarn_project.yml":       "name: p\n",
		"models/a.py":            "x",
		"models/data/b.py":       "x", // data/ matches at any depth
		"data/big.csv":           "x",
		"run.log":                "x",
		"models/run.log":         "x",
		"build/out.txt":          "x",
		"models/build/keep.txt":  "x", // /build is anchored to the root
		"notes/a/b/secret.txt":   "x",
		"notes/readme.md":        "x",
		".git/config":            "x",
		".venv/bin/python":       "x",
		"models/__pycache__/a.c": "x",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	got := packedFiles(t, dir)
	want := []string{".gitignore", "models/a.py", "models/build/keep.txt", "notes/readme.md", "tarn_project.yml"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("packed %v, want %v", got, want)
	}
}

// packedFiles packs dir and returns the regular files in the archive, sorted.
func packedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := Pack(dir, &buf, 1<<20); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got := []string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			got = append(got, h.Name)
		}
	}
	sort.Strings(got)
	return got
}

// TestPack_Vectors runs testdata/pack, the cases python/tests/test_pack.py
// runs against the Python client's packing.
func TestPack_Vectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "pack", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		Cases []struct {
			Name      string   `json:"name"`
			GitIgnore *string  `json:"gitignore"`
			Files     []string `json:"files"`
			Packed    []string `json:"packed"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &vectors); err != nil || len(vectors.Cases) == 0 {
		t.Fatalf("testdata/pack/cases.json: %v", err)
	}
	for _, tc := range vectors.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.GitIgnore != nil {
				if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(*tc.GitIgnore), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range tc.Files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := packedFiles(t, dir); strings.Join(got, "\n") != strings.Join(tc.Packed, "\n") {
				t.Fatalf("packed %q, want %q", got, tc.Packed)
			}
		})
	}
}

func TestPack_Limit(t *testing.T) {
	dir := t.TempDir()
	blob := make([]byte, 256<<10)
	rand.Read(blob)
	os.WriteFile(filepath.Join(dir, "blob.bin"), blob, 0o644)
	err := Pack(dir, io.Discard, 64<<10)
	if tarn.ErrorCode(err) != tarn.EINVALID || !strings.Contains(err.Error(), "larger than 64.0 KiB") || !strings.Contains(err.Error(), ".gitignore") {
		t.Fatalf("err = %v", err)
	}
	if err := Pack(filepath.Join(dir, "nope"), io.Discard, 0); tarn.ErrorCode(err) != tarn.EINVALID {
		t.Fatalf("missing folder: %v", err)
	}
}
