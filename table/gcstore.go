package table

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/atomicfile"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
)

// warehouseStore is what garbage collection and the history horizon need
// of the warehouse's storage, by paths relative to the warehouse: a local
// folder (localStore) or an S3 bucket and prefix (s3Store).
type warehouseStore interface {
	// now is the storage's clock, the one modification times are in (an
	// object store's differs from this machine's). It is read before the
	// listing starts, and may be a little early, never late.
	now(ctx context.Context) (time.Time, error)
	// list returns every file under the warehouse.
	list(ctx context.Context) ([]tarn.GCFile, error)
	// read returns a file's content (an error wrapping fs.ErrNotExist when
	// there is none) and a version tag for writeIf.
	read(ctx context.Context, rel string) (data []byte, version string, err error)
	// writeIf replaces a file atomically, if it is still at version (""
	// for a file that must not exist); errVersionMoved when it is not.
	writeIf(ctx context.Context, rel string, data []byte, version string) error
	// exists reports whether a file is there.
	exists(ctx context.Context, rel string) (bool, error)
	// remove removes files (a missing one is no error) and returns those
	// it could not remove, as "path: reason".
	remove(ctx context.Context, rels []string) []string
	// uploads lists the incomplete multipart uploads of an object store
	// (none on a local disk, where a write is a file renamed into place).
	uploads(ctx context.Context) ([]s3fetch.Upload, error)
	// abort aborts incomplete uploads and returns those it could not, as
	// "path: reason".
	abort(ctx context.Context, ups []s3fetch.Upload) []string
}

// errVersionMoved: a conditional write found the file changed.
var errVersionMoved = errors.New("the file changed meanwhile")

var _ warehouseStore = localStore("")

// store returns the warehouse's storage.
func (s *Service) store(ctx context.Context) (warehouseStore, error) {
	if root, ok := localPath(s.warehouse); ok {
		return localStore(root), nil
	}
	return s.s3Store(ctx)
}

// warehouseRel is loc relative to the warehouse (false when it is
// elsewhere). s3a:// and s3n:// name the same objects as s3://.
func (s *Service) warehouseRel(loc string) (string, bool) {
	if p, ok := localPath(loc); ok {
		root, ok := localPath(s.warehouse)
		if !ok {
			return "", false
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			return "", false
		}
		return filepath.ToSlash(rel), true
	}
	for _, scheme := range []string{"s3a://", "s3n://"} {
		if rest, ok := strings.CutPrefix(loc, scheme); ok {
			loc = "s3://" + rest
		}
	}
	rel, ok := strings.CutPrefix(loc, s.warehouse+"/")
	if !ok || rel == "" {
		return "", false
	}
	return rel, true
}

// localStore is a warehouse in a local folder.
type localStore string

func (l localStore) now(context.Context) (time.Time, error) { return time.Now(), nil }

func (localStore) uploads(context.Context) ([]s3fetch.Upload, error) { return nil, nil }

func (localStore) abort(context.Context, []s3fetch.Upload) []string { return nil }

func (l localStore) list(ctx context.Context) ([]tarn.GCFile, error) {
	root := string(l)
	var files []tarn.GCFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed meanwhile
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if os.IsNotExist(err) {
			return nil
		} else if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, tarn.GCFile{Path: filepath.ToSlash(rel), Bytes: info.Size(), Modified: info.ModTime().UTC()})
		return nil
	})
	if err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "gc: list the warehouse %s: %v", root, err)
	}
	return files, nil
}

func (l localStore) path(rel string) string { return filepath.Join(string(l), filepath.FromSlash(rel)) }

func (l localStore) read(_ context.Context, rel string) ([]byte, string, error) {
	data, err := os.ReadFile(l.path(rel))
	if err != nil {
		return nil, "", err
	}
	return data, string(data), nil
}

func (l localStore) writeIf(_ context.Context, rel string, data []byte, version string) error {
	p := l.path(rel)
	// A local warehouse has one writer of gc's records at a time in
	// practice; the check narrows the window and keeps the contract.
	cur, err := os.ReadFile(p)
	switch {
	case err != nil && !os.IsNotExist(err):
		return err
	case err == nil && string(cur) != version, err != nil && version != "":
		return errVersionMoved
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, data, 0o644)
}

func (l localStore) exists(_ context.Context, rel string) (bool, error) {
	_, err := os.Stat(l.path(rel))
	if os.IsNotExist(err) {
		return false, nil
	}
	return err == nil, err
}

func (l localStore) remove(ctx context.Context, rels []string) []string {
	// A few unlinks at once: a file system's latency, not the CPU, is what
	// bounds them.
	const workers = 8
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
	)
	next := make(chan string)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rel := range next {
				err := ctx.Err()
				if err == nil {
					if err = os.Remove(l.path(rel)); os.IsNotExist(err) {
						err = nil
					}
				}
				if err != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %v", rel, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, rel := range rels {
		next <- rel
	}
	close(next)
	wg.Wait()
	sort.Strings(failed)
	return failed
}
