package cache_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarnhq/tarn/cache"
)

// dirRemote is a remote tier in a local folder (the S3 one, in table, runs
// in the integration tier): objects are files, written to a temporary
// name and renamed, as an object store's PUT is atomic.
type dirRemote struct {
	dir     string
	puts    []string
	touches []string
}

var _ cache.Remote = (*dirRemote)(nil)

func (d *dirRemote) Get(_ context.Context, name, dst string) (bool, error) {
	in, err := os.Open(filepath.Join(d.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return false, err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err == nil, err
}

func (d *dirRemote) Put(_ context.Context, name, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	p := filepath.Join(d.dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p+".tmp", data, 0o644); err != nil {
		return err
	}
	d.puts = append(d.puts, name)
	return os.Rename(p+".tmp", p)
}

func (d *dirRemote) Touch(name string) { d.touches = append(d.touches, name) }

func (d *dirRemote) Where() string { return d.dir }

// TestStore_Remote: two stores (two servers' homes) with one remote tier:
// an entry stored and shared by one is fetched by the other (checksum
// verified, then local), its data uploaded before its meta.json; an entry
// whose remote data does not match is refused and not kept; a remote
// entry without its meta.json is a miss.
func TestStore_Remote(t *testing.T) {
	ctx := context.Background()
	remote := &dirRemote{dir: t.TempDir()}
	a, _ := cache.Open(t.TempDir())
	b, _ := cache.Open(t.TempDir())
	a.SetRemote(remote)
	b.SetRemote(remote)
	put(t, a, key('a'), 1000)
	if err := a.SetTables(key('a'), "ns.t", cache.Files{Paths: []string{"s3://b/w/ns/t/data/f.parquet"}}); err != nil {
		t.Fatal(err)
	}
	if e, err := b.Fetch(ctx, key('a')); e != nil || err != nil {
		t.Fatalf("fetched before it was shared: %+v %v", e, err)
	}
	if err := a.Share(ctx, key('a')); err != nil {
		t.Fatal(err)
	}
	if strings.Join(remote.puts, " ") != "entries/aa/"+key('a')+"/data.arrow entries/aa/"+key('a')+"/meta.json" {
		t.Fatalf("uploads in the wrong order: %v", remote.puts)
	}
	e, err := b.Fetch(ctx, key('a'))
	if err != nil || e == nil || !e.Remote || e.Fetched != 1000 || e.Rows != 3 || e.Tables["ns.t"].Paths[0] != "s3://b/w/ns/t/data/f.parquet" {
		t.Fatalf("fetch from the remote tier: %+v %v", e, err)
	}
	if data, _ := os.ReadFile(e.Path()); len(data) != 1000 || !strings.HasPrefix(e.Path(), b.Dir()) {
		t.Fatalf("not in the local tier: %s (%d bytes)", e.Path(), len(data))
	}
	if e, err := b.Fetch(ctx, key('a')); err != nil || e == nil || e.Remote || e.Fetched != 0 {
		t.Fatalf("second fetch is not local: %+v %v", e, err)
	}
	// Each hit, from the remote tier or the local one, records a use
	// there; a miss and a local store's own writes do not.
	used := "entries/aa/" + key('a') + "/used"
	if strings.Join(remote.touches, " ") != used+" "+used {
		t.Fatalf("uses recorded: %v, want the download's and the local hit's", remote.touches)
	}
	if _, err := a.Fetch(ctx, key('f')); err != nil || len(remote.touches) != 2 {
		t.Fatalf("a miss recorded a use: %v %v", remote.touches, err)
	}

	// A flipped byte in the remote data: refused, nothing stored locally.
	c, _ := cache.Open(t.TempDir())
	c.SetRemote(remote)
	obj := filepath.Join(remote.dir, "entries", "aa", key('a'), "data.arrow")
	os.WriteFile(obj, []byte(strings.Repeat("x", 999)+"y"), 0o644)
	if e, err := c.Fetch(ctx, key('a')); e != nil || !errors.Is(err, cache.ErrCorrupt) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("corrupt remote entry: %+v %v", e, err)
	}
	if c.Has(key('a')) {
		t.Fatal("a corrupt remote entry was kept")
	}
	os.WriteFile(obj, []byte(strings.Repeat("x", 10)), 0o644)
	if e, err := c.Fetch(ctx, key('a')); e != nil || !errors.Is(err, cache.ErrCorrupt) || !strings.Contains(err.Error(), "not 1000 bytes") {
		t.Fatalf("truncated remote entry: %+v %v", e, err)
	}

	// Data uploaded, meta.json not (a server killed between the two PUTs).
	os.MkdirAll(filepath.Join(remote.dir, "entries", "bb", key('b')), 0o755)
	os.WriteFile(filepath.Join(remote.dir, "entries", "bb", key('b'), "data.arrow"), []byte("xxxxxxxxxx"), 0o644)
	if e, err := c.Fetch(ctx, key('b')); e != nil || err != nil {
		t.Fatalf("an entry without meta.json was served: %+v %v", e, err)
	}

	// Without a remote tier, Share does nothing and Fetch is Get.
	d, _ := cache.Open(t.TempDir())
	if err := d.Share(ctx, key('a')); err != nil {
		t.Fatal(err)
	}
	if e, err := d.Fetch(ctx, key('a')); e != nil || err != nil {
		t.Fatalf("no remote: %+v %v", e, err)
	}
}
