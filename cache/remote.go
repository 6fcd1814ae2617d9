package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// Remote is a second tier of the cache behind the local directory: an
// object store that every server of a lakehouse reads and writes (for an
// s3:// warehouse, WAREHOUSE/.tarn/cache/). An entry there is two
// objects under entries/<key[:2]>/<key>/: data.arrow, then meta.json,
// written last, so an entry is only seen once its data is whole; and an
// empty object "used", rewritten when a server uses the entry, so that
// trimming the tier can go by last use.
type Remote interface {
	// Get copies the object name into the new local file dst, reporting
	// false (and writing nothing) when there is no such object.
	Get(ctx context.Context, name, dst string) (bool, error)
	// Put stores the local file src as the object name, whole or not at
	// all (a reader never sees a partial object).
	Put(ctx context.Context, name, src string) error
	// Touch records a use of the object name: it writes name (empty),
	// at most once per tier, in the background and best effort (a tier
	// that cannot record uses is still read); closing the tier waits a
	// little for the writes.
	Touch(name string)
	// Where names the tier for messages (its URL and server).
	Where() string
}

// UsedObject is the object of an entry in the remote tier whose
// modification time is the entry's last use by any server.
const UsedObject = "used"

// SetRemote puts r behind the store: Fetch looks there on a local miss
// and Share uploads entries to it.
func (s *Store) SetRemote(r Remote) { s.remote = r }

// Remote returns the store's remote tier, nil when it has none.
func (s *Store) Remote() Remote { return s.remote }

// remoteName is the name of one of an entry's objects in the remote tier.
func remoteName(key, file string) string { return path.Join("entries", key[:2], key, file) }

// Fetch is Get, and on a local miss it looks in the remote tier: an entry
// there is downloaded into the local directory, its size and checksum
// verified against its meta.json, and served (Entry.Fetched says how many
// bytes came over the network, Entry.Remote that it was fetched). A remote entry that does not verify is
// reported with an error wrapping ErrCorrupt and not stored.
//
// Either way, a hit records its use in the remote tier (Remote.Touch), so
// that the tier is trimmed least recently used first: a server that keeps
// using its local copy keeps the shared one too.
func (s *Store) Fetch(ctx context.Context, key string) (*Entry, error) {
	e, err := s.Get(key)
	if e != nil && s.remote != nil {
		s.remote.Touch(remoteName(key, UsedObject))
	}
	if e != nil || err != nil || s.remote == nil {
		return e, err
	}
	tmp, err := s.stage(key)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	metaFile := filepath.Join(tmp, "meta.remote.json")
	ok, err := s.remote.Get(ctx, remoteName(key, "meta.json"), metaFile)
	if err != nil || !ok {
		return nil, remoteErr(s.remote, "read", err)
	}
	data, err := os.ReadFile(metaFile)
	if err != nil {
		return nil, err
	}
	var meta Meta
	if err := json.Unmarshal(data, &meta); err != nil || meta.Key != key {
		return nil, fmt.Errorf("%w %s in %s: its meta.json is not this entry's (%v)", ErrCorrupt, key[:12], s.remote.Where(), err)
	}
	dataFile := filepath.Join(tmp, DataFile)
	ok, err = s.remote.Get(ctx, remoteName(key, DataFile), dataFile)
	if err == nil && !ok {
		err = errors.New("its data.arrow is missing")
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s in %s: %v", ErrCorrupt, key[:12], s.remote.Where(), err)
	}
	if st, err := os.Stat(dataFile); err != nil || st.Size() != meta.Bytes {
		return nil, fmt.Errorf("%w %s in %s: data.arrow is not %d bytes", ErrCorrupt, key[:12], s.remote.Where(), meta.Bytes)
	}
	sum, err := checksum(dataFile, meta.Checksum)
	if err == nil && sum != meta.Checksum {
		err = fmt.Errorf("checksum %s, expected %s", sum, meta.Checksum)
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s in %s: %v", ErrCorrupt, key[:12], s.remote.Where(), err)
	}
	os.Remove(metaFile)
	meta.Verified = fingerprint(dataFile)
	e, err = s.commit(tmp, meta)
	if err != nil {
		return nil, err
	}
	e.Remote, e.Fetched = true, meta.Bytes
	s.remote.Touch(remoteName(key, UsedObject))
	return e, nil
}

// Share uploads the local entry for key to the remote tier (nothing
// without one): its data, then its meta.json, which makes it visible.
// An entry shared again (its tables recorded since) is replaced whole.
func (s *Store) Share(ctx context.Context, key string) error {
	if s.remote == nil {
		return nil
	}
	if err := validKey(key); err != nil {
		return err
	}
	e, err := s.read(s.entryDir(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // evicted meanwhile
	}
	if err != nil {
		return err
	}
	// The meta.json shared is a snapshot written now (the local one may
	// change under a reader), without the local file's fingerprint.
	meta := e.Meta
	meta.Verified = nil
	tmp, err := s.tempDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	metaFile := filepath.Join(tmp, "meta.json")
	if err := writeJSON(metaFile, meta); err != nil {
		return err
	}
	if err := s.remote.Put(ctx, remoteName(key, DataFile), e.Path()); err != nil {
		return remoteErr(s.remote, "write", err)
	}
	if err := s.remote.Put(ctx, remoteName(key, "meta.json"), metaFile); err != nil {
		return remoteErr(s.remote, "write", err)
	}
	return nil
}

// remoteErr says which tier could not be read or written (nil stays nil).
func remoteErr(r Remote, op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s the shared cache %s: %w", op, r.Where(), err)
}
