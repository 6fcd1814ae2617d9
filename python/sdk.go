// Package python embeds tarn's Python SDK (the `tarn` package) so that the
// binary can place it next to each worker environment without pip.
package python

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

//go:embed tarn/*.py tarn/py.typed
var sdk embed.FS

// Version is a content hash of the embedded SDK: environments and the
// extracted copy are keyed by it.
func Version() string {
	h := sha256.New()
	names, _ := fs.Glob(sdk, "tarn/*")
	sort.Strings(names)
	for _, n := range names {
		data, _ := sdk.ReadFile(n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Extract writes the SDK under dir/<version>/ (once; atomically) and
// returns the directory to put on PYTHONPATH.
func Extract(dir string) (string, error) {
	target := filepath.Join(dir, Version())
	if _, err := os.Stat(filepath.Join(target, "tarn", "__init__.py")); err == nil {
		return target, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, ".extract-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Join(tmp, "tarn"), 0o755); err != nil {
		return "", err
	}
	names, _ := fs.Glob(sdk, "tarn/*")
	for _, n := range names {
		data, err := sdk.ReadFile(n)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(tmp, n), data, 0o644); err != nil {
			return "", err
		}
	}
	// Sandboxed workers (another uid, when tarn runs as root) read it.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, target); err != nil {
		if _, serr := os.Stat(filepath.Join(target, "tarn", "__init__.py")); serr == nil {
			return target, nil // extracted concurrently
		}
		return "", fmt.Errorf("extract Python SDK: %w", err)
	}
	return target, nil
}
