package local

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/jobs"
	"github.com/tarnhq/tarn/postgres"
	"github.com/tarnhq/tarn/secret"
	"github.com/tarnhq/tarn/users"
)

// stores are where a lakehouse keeps its state: the home's own files, or
// a database several servers share.
type stores struct {
	catalog   catalog.Store
	users     users.Store
	jobs      jobs.Store
	where     string // where the catalog lives, password hidden
	shared    bool
	warehouse string // where the tables live: a folder or s3://BUCKET/PREFIX
	// keys is the key pair of secret parameters of shared stores, which
	// the database holds, read (and on a new lakehouse made) on first
	// need; nil for the home's own file.
	keys *sharedKeys
	db   *postgres.DB // shared stores' handle on the database (nil: none)
}

// checkWarehouseURL accepts an absolute folder or s3://BUCKET[/PREFIX].
func checkWarehouseURL(w string) error {
	if filepath.IsAbs(w) {
		return nil
	}
	u, err := url.Parse(w)
	if err == nil && u.Scheme == "s3" && u.Host != "" && u.RawQuery == "" {
		return nil
	}
	return tarn.Errorf(tarn.EINVALID, "warehouse %s: use s3://BUCKET/PREFIX (an S3 or S3-compatible object store) or an absolute folder", tarn.Quote(w))
}

func (s *stores) close() {
	s.jobs.Close()
	s.users.Close()
	s.catalog.Close()
	if s.db != nil {
		s.db.Close()
	}
}

// openStores opens the stores url names: a postgres:// URL, or "" for
// what the home's config.yml says (its own files by default).
func openStores(ctx context.Context, home Home, url, warehouse string) (*stores, error) {
	from := "--catalog"
	hc, err := home.Config()
	if err != nil {
		return nil, err
	}
	if url == "" {
		url, from = strings.TrimSpace(hc.Catalog), "catalog: in "+home.ConfigFile()
	}
	if warehouse == "" {
		warehouse = strings.TrimSpace(hc.Warehouse)
	}
	if warehouse == "" {
		warehouse = home.Warehouse()
	} else if err := checkWarehouseURL(warehouse); err != nil {
		return nil, err
	}
	switch {
	case url == "" || url == "sqlite":
		cat, err := sqlstore.OpenSQLite(ctx, home.CatalogDB())
		if err != nil {
			return nil, err
		}
		return &stores{catalog: cat, users: &users.FileStore{Path: home.UsersFile()}, jobs: jobs.NewFileStore(home.JobsDir()),
			where: home.CatalogDB() + " (SQLite)", warehouse: warehouse}, nil
	case postgres.IsURL(url):
		db, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, err
		}
		// The first server decides where the tables live; the others use it.
		warehouse, err := db.Claim(ctx, "warehouse", warehouse)
		if err != nil {
			db.Close()
			return nil, err
		}
		return &stores{catalog: db.Catalog(), users: db.Users(), jobs: db.Jobs(), where: db.Where(), shared: true, warehouse: warehouse,
			keys: &sharedKeys{db: db, file: home.SecretKey()}, db: db}, nil
	}
	return nil, tarn.Errorf(tarn.EINVALID, "catalog %s (%s): use a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL, or leave it empty for the home's own SQLite catalog",
		tarn.Quote(postgres.Redact(url)), from)
}

// sharedKeys is the key pair of secret parameters that the database holds
// for every server of the lakehouse (a value sealed through one server
// opens on whichever runs it, and secret cache keys agree), read on first
// need: commands that need no key (tarn user add from an admin's own
// home) neither read nor make it.
type sharedKeys struct {
	db   *postgres.DB
	file string // the home's key file
	mu   sync.Mutex
	keys *secret.Keys // once read
}

// get returns the key pair. The first process to need it records its
// home's key file when it has one, so values sealed for that file still
// open, or else a new key pair. A home whose key file is another key pair
// is refused: values sealed for it would not open here.
func (s *sharedKeys) get(ctx context.Context) (*secret.Keys, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys != nil {
		return s.keys, nil
	}
	keys, err := claimKeys(ctx, s.db, s.file)
	if err != nil {
		return nil, err
	}
	s.keys = keys
	return keys, nil
}

func claimKeys(ctx context.Context, db *postgres.DB, file string) (*secret.Keys, error) {
	mine, err := secret.Load(file)
	hasFile := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if mine, err = secret.Generate(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	text, err := db.Claim(ctx, "secret_key", mine.Text())
	if err != nil {
		return nil, err
	}
	keys, err := secret.Parse(text, "in the catalog database "+db.Where()+" (tarn_meta)")
	if err != nil {
		return nil, err
	}
	if hasFile && keys.ID() != mine.ID() {
		return nil, tarn.Errorf(tarn.EINVALID, "the home's key file %s (key %s) is not the lakehouse's key pair of secret parameters, which the catalog database %s holds (key %s, recorded by another server first): secrets sealed for the file's key cannot be opened on this lakehouse. Move the file out of the home and start again; set again any secret parameter that was sealed for it",
			file, mine.ID(), db.Where(), keys.ID())
	}
	return keys, nil
}
