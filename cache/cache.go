// Package cache stores results of pipeline steps and lake-table scans,
// keyed by content, in the lakehouse home: every run on the same home (and
// so every user of one tarn serve server) shares them.
//
// An entry is a directory entries/<key[:2]>/<key>/ holding data.arrow (an
// Arrow IPC file), meta.json (what it is, its CRC-32C checksum, its size)
// and used (whose modification time is the last use, for least-recently-
// used eviction). An entry is built in tmp/ and renamed into place, so a
// reader sees it whole or not at all. Its checksum is computed as its data
// is written (by the worker that wrote a step's output, by the export of
// a scan), never by reading it back; a hit verifies it, except for a large
// entry whose file is still the one verified (same inode, size and
// modification time: see TrustAbove), which costs no read. An entry that
// does not match is removed and reported as a miss.
package cache

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tarnhq/tarn"
)

// Kinds of entries.
const (
	KindStep = "step"
	KindScan = "scan"
)

// DataFile is the name of an entry's Arrow IPC file.
const DataFile = "data.arrow"

// Meta describes an entry.
type Meta struct {
	Key     string `json:"key"`
	Kind    string `json:"kind"` // step or scan
	Name    string `json:"name"` // model, or table for scans
	Project string `json:"project,omitempty"`
	Rows    int64  `json:"rows"`
	Bytes   int64  `json:"bytes"`
	// Checksum is the data's CRC-32C in hex, or "sum64:HEX" (see Sum64).
	Checksum string `json:"crc32c"`
	// Verified identifies the data file as it was when its checksum held.
	Verified *Fingerprint `json:"verified,omitempty"`
	Created  time.Time    `json:"created"`
	// Seconds is what computing the entry cost (what a hit saves).
	Seconds float64 `json:"seconds"`
	// Tables lists the Parquet data files written for this result, by
	// table, so that a hit can publish them again without rewriting.
	Tables map[string]Files `json:"tables,omitempty"`
}

// Fingerprint identifies a file's version without reading it.
type Fingerprint struct {
	Inode   uint64 `json:"inode"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
}

// TrustAbove is the size from which a hit trusts an entry's data file
// when its fingerprint is the one recorded when its checksum was last
// verified (or computed): smaller entries are checked on every hit.
const TrustAbove = 64 << 20

// Files are data files holding an entry's rows, with the Iceberg field ids
// they were written with.
type Files struct {
	Paths    []string       `json:"paths,omitempty"`
	FieldIDs map[string]int `json:"field_ids,omitempty"`
	// Metadata is the table's metadata location right after the result
	// was written: a table still there holds exactly the result.
	Metadata string `json:"metadata,omitempty"`
}

// Entry is a stored entry.
type Entry struct {
	Meta
	Dir      string    `json:"dir"`
	LastUsed time.Time `json:"last_used"`
	// Remote says that Fetch downloaded the entry from the remote tier
	// (Fetched bytes of data) to serve it.
	Remote  bool  `json:"-"`
	Fetched int64 `json:"-"`
}

// Path returns the entry's Arrow IPC file.
func (e *Entry) Path() string { return filepath.Join(e.Dir, DataFile) }

// ErrCorrupt is returned (wrapped) by Get for an entry whose data does not
// match its checksum; the entry is removed.
var ErrCorrupt = errors.New("corrupt cache entry")

// Store is a cache directory.
type Store struct {
	dir    string
	mu     sync.Mutex // Reserve
	remote Remote     // nil: the local directory only
}

// Open opens (creating) a cache directory.
func Open(dir string) (*Store, error) {
	for _, d := range []string{"entries", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, tarn.Errorf(tarn.EINTERNAL, "create cache directory: %v", err)
		}
	}
	return &Store{dir: dir}, nil
}

// Dir returns the cache directory.
func (s *Store) Dir() string { return s.dir }

// EntriesDir is the directory holding every entry (workers get it bound
// read-only).
func (s *Store) EntriesDir() string { return filepath.Join(s.dir, "entries") }

func (s *Store) entryDir(key string) string {
	return filepath.Join(s.dir, "entries", key[:2], key)
}

func validKey(key string) error {
	if len(key) < 16 || strings.Trim(key, "0123456789abcdef") != "" {
		return tarn.Errorf(tarn.EINVALID, "invalid cache key %q", key)
	}
	return nil
}

// Get returns the entry for key, its checksum verified, and marks it used.
// A missing entry is (nil, nil); a corrupt one is removed and reported
// with an error wrapping ErrCorrupt.
func (s *Store) Get(key string) (*Entry, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	e, err := s.read(s.entryDir(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil && !s.trusted(e) {
		var sum string
		sum, err = checksum(e.Path(), e.Checksum)
		if err == nil && sum != e.Checksum {
			err = fmt.Errorf("checksum %s, expected %s", sum, e.Checksum)
		}
		if err == nil && e.Bytes >= TrustAbove {
			e.Verified = fingerprint(e.Path())
			writeJSON(filepath.Join(e.Dir, "meta.json"), e.Meta)
		}
	}
	if err != nil {
		os.RemoveAll(s.entryDir(key))
		return nil, fmt.Errorf("%w %s: %v", ErrCorrupt, key[:12], err)
	}
	now := time.Now()
	os.Chtimes(filepath.Join(e.Dir, "used"), now, now)
	e.LastUsed = now
	return e, nil
}

// trusted says whether a large entry's file is the one whose checksum
// held (see TrustAbove).
func (s *Store) trusted(e *Entry) bool {
	if e.Bytes < TrustAbove || e.Verified == nil {
		return false
	}
	now := fingerprint(e.Path())
	return now != nil && *now == *e.Verified
}

func fingerprint(path string) *Fingerprint {
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return &Fingerprint{Inode: sys.Ino, Size: st.Size(), MtimeNs: st.ModTime().UnixNano()}
}

// Has reports whether an entry for key is stored (without verifying it).
func (s *Store) Has(key string) bool {
	if validKey(key) != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(s.entryDir(key), "meta.json"))
	return err == nil
}

func (s *Store) read(dir string) (*Entry, error) {
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	e := &Entry{Dir: dir}
	if err := json.Unmarshal(data, &e.Meta); err != nil {
		return nil, fmt.Errorf("meta.json: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "used")); err == nil {
		e.LastUsed = st.ModTime()
	}
	return e, nil
}

// Put stores the Arrow IPC file src as the entry for meta.Key: a hard link
// when src is on the cache's file system (see RunDir), a copy otherwise;
// src is left in place. meta.Checksum, when set, is src's checksum as its
// writer computed it (a link then reads nothing). Storing a key that
// exists keeps the existing entry.
func (s *Store) Put(meta Meta, src string) (*Entry, error) {
	tmp, err := s.stage(meta.Key)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if os.Link(src, filepath.Join(tmp, DataFile)) == nil {
		return s.commitData(tmp, meta)
	}
	meta.Checksum = "" // a copy checksums what it copies
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(tmp, DataFile))
	if err != nil {
		return nil, err
	}
	h := crc32.New(castagnoli)
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("copy into the cache: %w", err)
	}
	meta.Bytes, meta.Checksum = n, hex.EncodeToString(h.Sum(nil))
	return s.commit(tmp, meta)
}

// Adopt moves the Arrow IPC file src (on the cache's file system) into a
// new entry for meta.Key; its checksum is meta.Checksum when set (computed
// as it was written), else computed here.
func (s *Store) Adopt(meta Meta, src string) (*Entry, error) {
	tmp, err := s.stage(meta.Key)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Rename(src, filepath.Join(tmp, DataFile)); err != nil {
		return nil, err
	}
	return s.commitData(tmp, meta)
}

// commitData records the size and checksum of tmp's data file (read only
// when meta has none) and commits tmp as the entry.
func (s *Store) commitData(tmp string, meta Meta) (*Entry, error) {
	data := filepath.Join(tmp, DataFile)
	if meta.Checksum == "" {
		sum, err := checksumFile(data)
		if err != nil {
			return nil, err
		}
		meta.Checksum = sum
	}
	st, err := os.Stat(data)
	if err != nil {
		return nil, err
	}
	meta.Bytes = st.Size()
	meta.Verified = fingerprint(data)
	return s.commit(tmp, meta)
}

// RunDir returns a new directory on the cache's file system for a run's
// step outputs: Put links them into entries without a copy. The caller
// removes it when the run ends.
func (s *Store) RunDir() (string, error) { return s.tempDir() }

// stage validates a key and returns a new temporary directory in which its
// entry is built (commit renames it into place).
func (s *Store) stage(key string) (string, error) {
	if err := validKey(key); err != nil {
		return "", err
	}
	return s.tempDir()
}

// TempFile returns a new path in the cache's temporary directory (same
// file system as the entries), for a file to Adopt.
func (s *Store) TempFile(name string) (string, error) {
	dir, err := s.tempDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

func (s *Store) tempDir() (string, error) {
	var b [8]byte
	rand.Read(b[:])
	dir := filepath.Join(s.dir, "tmp", fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(b[:])))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", tarn.Errorf(tarn.EINTERNAL, "cache: %v", err)
	}
	return dir, nil
}

func (s *Store) commit(tmp string, meta Meta) (*Entry, error) {
	if meta.Created.IsZero() {
		meta.Created = time.Now().UTC()
	}
	if err := writeJSON(filepath.Join(tmp, "meta.json"), meta); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "used"), nil, 0o644); err != nil {
		return nil, err
	}
	dst := s.entryDir(meta.Key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if e, rerr := s.read(dst); rerr == nil {
			return e, nil // stored meanwhile by another run: same key, same content
		}
		return nil, fmt.Errorf("store cache entry: %w", err)
	}
	return s.read(dst)
}

// SetTables records the data files written for an entry's rows in table.
func (s *Store) SetTables(key, table string, files Files) error {
	if err := validKey(key); err != nil {
		return err
	}
	dir := s.entryDir(key)
	e, err := s.read(dir)
	if err != nil {
		return err
	}
	if e.Tables == nil {
		e.Tables = map[string]Files{}
	}
	e.Tables[table] = files
	return writeJSON(filepath.Join(dir, "meta.json"), e.Meta)
}

// List returns every entry, most recently used first.
func (s *Store) List() ([]*Entry, error) {
	var out []*Entry
	shards, err := os.ReadDir(filepath.Join(s.dir, "entries"))
	if err != nil {
		return nil, err
	}
	for _, shard := range shards {
		keys, _ := os.ReadDir(filepath.Join(s.dir, "entries", shard.Name()))
		for _, k := range keys {
			if e, err := s.read(filepath.Join(s.dir, "entries", shard.Name(), k.Name())); err == nil {
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsed.After(out[j].LastUsed) })
	return out, nil
}

// Stats summarizes the cache.
type Stats struct {
	Dir      string `json:"dir"`
	Entries  int    `json:"entries"`
	Steps    int    `json:"steps"`
	Scans    int    `json:"scans"`
	Bytes    int64  `json:"bytes"`
	MaxBytes int64  `json:"max_bytes"`
	// SavedSeconds is the compute time stored (what hitting every entry
	// once would save).
	SavedSeconds float64 `json:"stored_compute_seconds"`
}

// Stats counts the entries.
func (s *Store) Stats(maxBytes int64) (*Stats, error) {
	list, err := s.List()
	if err != nil {
		return nil, err
	}
	st := &Stats{Dir: s.dir, Entries: len(list), MaxBytes: maxBytes}
	for _, e := range list {
		st.Bytes += e.Bytes
		st.SavedSeconds += e.Seconds
		if e.Kind == KindScan {
			st.Scans++
		} else {
			st.Steps++
		}
	}
	return st, nil
}

// GC removes least-recently-used entries until the cache holds at most
// maxBytes, sparing entries used within keep (a run may be reading them),
// and removes temporary directories left by killed processes. It returns
// the removed entries.
func (s *Store) GC(maxBytes int64, keep time.Duration) ([]*Entry, error) {
	s.sweepTemp()
	list, err := s.List()
	if err != nil {
		return nil, err
	}
	var total int64
	for _, e := range list {
		total += e.Bytes
	}
	var removed []*Entry
	now := time.Now()
	for i := len(list) - 1; i >= 0 && total > maxBytes; i-- { // least recently used first
		e := list[i]
		if now.Sub(e.LastUsed) < keep {
			continue
		}
		if err := os.RemoveAll(e.Dir); err != nil {
			return removed, err
		}
		total -= e.Bytes
		removed = append(removed, e)
	}
	return removed, nil
}

// Reserve makes room for need more bytes under maxBytes (0: no bound) by
// removing least-recently-used entries not used within keep, as GC does,
// and reports whether the room is there: a run asks before it stores an
// entry, so the cache keeps its limit during a run, not only after it.
func (s *Store) Reserve(maxBytes, need int64, keep time.Duration) (bool, error) {
	if maxBytes <= 0 {
		return true, nil
	}
	if need > maxBytes {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list, err := s.List()
	if err != nil {
		return false, err
	}
	var total int64
	for _, e := range list {
		total += e.Bytes
	}
	now := time.Now()
	for i := len(list) - 1; i >= 0 && total+need > maxBytes; i-- {
		e := list[i]
		if now.Sub(e.LastUsed) < keep {
			continue
		}
		if err := os.RemoveAll(e.Dir); err != nil {
			return false, err
		}
		total -= e.Bytes
	}
	return total+need <= maxBytes, nil
}

// Clear removes every entry.
func (s *Store) Clear() (int, error) {
	list, err := s.List()
	if err != nil {
		return 0, err
	}
	for _, e := range list {
		if err := os.RemoveAll(e.Dir); err != nil {
			return 0, err
		}
	}
	s.sweepTemp()
	return len(list), nil
}

// sweepTemp removes temporary directories of processes that are gone.
func (s *Store) sweepTemp() {
	dirs, _ := os.ReadDir(filepath.Join(s.dir, "tmp"))
	for _, d := range dirs {
		pid, _, _ := strings.Cut(d.Name(), "-")
		if alive(pid) {
			continue
		}
		os.RemoveAll(filepath.Join(s.dir, "tmp", d.Name()))
	}
}

func alive(pid string) bool {
	if pid == "" {
		return false
	}
	_, err := os.Stat(filepath.Join("/proc", pid))
	return err == nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sum64Prefix marks a Sum64 checksum.
const sum64Prefix = "sum64:"

// checksum computes the checksum of path with the algorithm of want.
func checksum(path, want string) (string, error) {
	if strings.HasPrefix(want, sum64Prefix) {
		return Sum64File(path)
	}
	return checksumFile(path)
}

// Sum64File is the checksum step workers compute as they write their
// output (python/tarn/_arrow.py Sum64): the file's bytes as little-endian
// 64-bit words, the last one zero-padded, added modulo 2^64; "sum64:" and
// 16 hex digits. It detects torn and zeroed writes and flipped bits at
// memory speed; it is not a defence against deliberate change.
func Sum64File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var total uint64
	buf := make([]byte, 1<<20) // whole words: only the last read is short
	for {
		n, err := io.ReadFull(f, buf)
		chunk := buf[:n]
		words := len(chunk) / 8 * 8
		for i := 0; i < words; i += 8 {
			total += binary.LittleEndian.Uint64(chunk[i:])
		}
		if words < len(chunk) {
			var last [8]byte
			copy(last[:], chunk[words:])
			total += binary.LittleEndian.Uint64(last[:])
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Sprintf("%s%016x", sum64Prefix, total), nil
		}
		if err != nil {
			return "", err
		}
	}
}

func checksumFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
