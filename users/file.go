package users

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/atomicfile"
)

// FileStore is a Store in a JSON file (users.json in a home), rewritten
// atomically under an exclusive lock on PATH.lock, so processes sharing
// the home add users without losing one another's.
type FileStore struct {
	Path string
}

var _ Store = (*FileStore)(nil)

type userFile struct {
	Users []Record `json:"users"`
}

func (s *FileStore) load() (*userFile, error) {
	var f userFile
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return &f, nil
	}
	if err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "read users: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "users file %s is corrupt: %v", s.Path, err)
	}
	return &f, nil
}

// locked runs f holding the file's lock (shared to read, exclusive to
// write).
func (s *FileStore) locked(how int, f func() error) error {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
		return tarn.Errorf(tarn.EINTERNAL, "users: %w", err)
	}
	lock, err := os.OpenFile(s.Path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return tarn.Errorf(tarn.EINTERNAL, "lock users: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), how); err != nil {
		return tarn.Errorf(tarn.EINTERNAL, "lock users: %w", err)
	}
	return f()
}

// read returns the file's users under the shared lock.
func (s *FileStore) read(ctx context.Context) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var f *userFile
	err := s.locked(syscall.LOCK_SH, func() (err error) {
		f, err = s.load()
		return err
	})
	if err != nil {
		return nil, err
	}
	return f.Users, nil
}

// Add implements Store.
func (s *FileStore) Add(ctx context.Context, r Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.locked(syscall.LOCK_EX, func() error {
		f, err := s.load()
		if err != nil {
			return err
		}
		if f.index(r.Name) >= 0 {
			return Exists(r.Name)
		}
		f.Users = append(f.Users, r)
		return s.save(f)
	})
}

// Remove implements Store.
func (s *FileStore) Remove(ctx context.Context, name string) error {
	return s.update(ctx, name, func(f *userFile, i int) error {
		if f.Users[i].Admin && f.admins() == 1 {
			return LastAdmin(name)
		}
		f.Users = append(f.Users[:i], f.Users[i+1:]...)
		return nil
	})
}

// SetTokenHash implements Store.
func (s *FileStore) SetTokenHash(ctx context.Context, name, h string) error {
	return s.update(ctx, name, func(f *userFile, i int) error {
		f.Users[i].TokenHash = h
		return nil
	})
}

// update changes the user named name (NotFound) under the exclusive
// lock and writes the file again.
func (s *FileStore) update(ctx context.Context, name string, change func(f *userFile, i int) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.locked(syscall.LOCK_EX, func() error {
		f, err := s.load()
		if err != nil {
			return err
		}
		i := f.index(name)
		if i < 0 {
			return NotFound(name)
		}
		if err := change(f, i); err != nil {
			return err
		}
		return s.save(f)
	})
}

func (s *FileStore) save(f *userFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.Path, b, 0o600)
}

func (f *userFile) index(name string) int {
	for i, u := range f.Users {
		if u.Name == name {
			return i
		}
	}
	return -1
}

func (f *userFile) admins() int {
	n := 0
	for _, u := range f.Users {
		if u.Admin {
			n++
		}
	}
	return n
}

// List implements Store.
func (s *FileStore) List(ctx context.Context) ([]Record, error) {
	records, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(records, func(i, j int) bool { return records[i].Name < records[j].Name })
	return records, nil
}

// ByTokenHash implements Store, comparing every hash in constant time.
func (s *FileStore) ByTokenHash(ctx context.Context, h string) (*Record, error) {
	records, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	var found *Record
	for i := range records {
		if subtle.ConstantTimeCompare([]byte(records[i].TokenHash), []byte(h)) == 1 {
			found = &records[i]
		}
	}
	if found == nil {
		return nil, ErrNotFound
	}
	return found, nil
}

// Close implements Store (nothing to release).
func (s *FileStore) Close() error { return nil }
