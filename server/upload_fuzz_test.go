package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
)

func tarGz(t testing.TB, entries map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range entries {
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			h = &tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// FuzzUntar: a project archive of any bytes unpacks or is refused with
// EINVALID, never a panic, and nothing ever lands outside the project's
// folder, nor a link inside it, nor more than the limits allow.
func FuzzUntar(f *testing.F) {
	f.Add(tarGz(f, map[string]string{"tarn_project.yml": "name: x\n", "models/": "", "models/m.py": "import tarn\n"}))
	f.Add(tarGz(f, map[string]string{"../escape.py": "x"}))
	f.Add(tarGz(f, map[string]string{"/abs.py": "x"}))
	f.Add(tarGz(f, map[string]string{"a": "x", "a/b": "y"}))
	f.Add([]byte("not gzip"))
	lim := archiveLimits{bytes: 1 << 16, entries: 64, depth: 8}
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "project")
		err := untar(bytes.NewReader(data), dir, lim)
		if err != nil && tarn.ErrorCode(err) != tarn.EINVALID {
			t.Fatalf("untar: %v is not EINVALID", err)
		}
		var total int64
		entries := 0
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == root {
				return nil
			}
			if p != dir && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
				t.Fatalf("untar wrote %s, outside the project", p)
			}
			info, _ := os.Lstat(p)
			if info.Mode()&fs.ModeSymlink != 0 {
				t.Fatalf("untar made a link: %s", p)
			}
			if info.Mode().IsRegular() {
				entries++
				total += info.Size()
			}
			return nil
		})
		if total > lim.bytes || entries > lim.entries {
			t.Fatalf("untar unpacked %d bytes in %d files past the limits %+v", total, entries, lim)
		}
	})
}
