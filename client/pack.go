package client

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/tarnhq/tarn"
)

// DefaultProjectLimit caps the packed size of a project.
const DefaultProjectLimit = 64 << 20

// alwaysSkipped are folders never uploaded.
var alwaysSkipped = map[string]bool{".git": true, ".venv": true, "venv": true, "__pycache__": true, "node_modules": true, ".tarn": true}

// ignoreRule is one line of a .gitignore.
type ignoreRule struct {
	pattern  string
	anchored bool // contains a slash: matched against the path from the root
	dirOnly  bool // ended with a slash
}

// readIgnore reads DIR/.gitignore. Supported: blank lines, # comments,
// NAME or glob (matched against every file or folder name at any depth),
// a pattern with a slash (matched against the path from the project root,
// a leading slash optional), a trailing slash (folders only) and ** as a
// whole path element in anchored patterns. Negation (!) is not supported
// and such lines are ignored.
func readIgnore(dir string) []ignoreRule {
	f, err := os.Open(filepath.Join(dir, ".gitignore"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var rules []ignoreRule
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
			continue
		}
		r := ignoreRule{}
		if strings.HasSuffix(line, "/") {
			r.dirOnly, line = true, strings.TrimSuffix(line, "/")
		}
		if strings.Contains(line, "/") {
			r.anchored, line = true, strings.TrimPrefix(line, "/")
		}
		r.pattern = line
		rules = append(rules, r)
	}
	return rules
}

func ignored(rules []ignoreRule, rel string, isDir bool) bool {
	base := path.Base(rel)
	for _, r := range rules {
		if r.dirOnly && !isDir {
			continue
		}
		if r.anchored {
			if matchPath(r.pattern, rel) {
				return true
			}
			continue
		}
		if ok, _ := path.Match(r.pattern, base); ok {
			return true
		}
	}
	return false
}

// matchPath matches slash-separated elements; "**" matches any number of them.
func matchPath(pattern, name string) bool {
	pp, np := strings.Split(pattern, "/"), strings.Split(name, "/")
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if i == len(pp) {
			return j == len(np)
		}
		if pp[i] == "**" {
			for k := j; k <= len(np); k++ {
				if match(i+1, k) {
					return true
				}
			}
			return false
		}
		if j == len(np) {
			return false
		}
		ok, _ := path.Match(pp[i], np[j])
		return ok && match(i+1, j+1)
	}
	return match(0, 0)
}

// Pack writes dir as tar.gz to w, without what .gitignore excludes and
// the folders in alwaysSkipped. Links are skipped. It fails with
// EINVALID once the packed size passes limit.
func Pack(dir string, w io.Writer, limit int64) error {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return tarn.Errorf(tarn.EINVALID, "project folder %s not found", dir)
	}
	rules := readIgnore(dir)
	cw := &countingWriter{w: w, limit: limit, dir: dir}
	gz := gzip.NewWriter(cw)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while packing (a scratch or upload file)
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() && alwaysSkipped[d.Name()] || ignored(rules, rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		var f *os.File
		if !d.IsDir() { // open first: a file removed meanwhile is skipped, not half-written
			if f, err = os.Open(p); errors.Is(err, fs.ErrNotExist) {
				return nil
			} else if err != nil {
				return err
			}
			defer f.Close()
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) && f != nil {
			info, err = f.Stat()
		}
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name, h.Uname, h.Gname = rel, "", ""
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		_, err = io.CopyN(tw, f, info.Size())
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if cw.over {
		return tarn.Errorf(tarn.EINVALID, "project %s is larger than %s packed: list data files and build outputs in its .gitignore, or keep data in tables", dir, tarn.FormatBytes(limit))
	}
	if err != nil && tarn.ErrorCode(err) == tarn.EINTERNAL {
		return tarn.Errorf(tarn.EINTERNAL, "pack project %s: %w", dir, err)
	}
	return err
}

type countingWriter struct {
	w     io.Writer
	n     int64
	limit int64
	over  bool
	dir   string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if c.limit > 0 && c.n > c.limit {
		c.over = true
		return 0, io.ErrShortWrite
	}
	return c.w.Write(p)
}
