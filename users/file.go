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
		for _, u := range f.Users {
			if u.Name == r.Name {
				return Exists(r.Name)
			}
		}
		f.Users = append(f.Users, r)
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.Write(s.Path, b, 0o600)
	})
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
