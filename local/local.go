package local

import (
	"context"
	"os"
	"sync"

	"github.com/tarnhq/tarn/jobs"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/cache"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/objcache"
	"github.com/tarnhq/tarn/query"
	rt "github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/secret"
	"github.com/tarnhq/tarn/table"
	"github.com/tarnhq/tarn/users"
)

// The step cache's tier in an s3:// warehouse's bucket.
var _ cache.Remote = (*table.CacheTier)(nil)

// The projects of queued runs in an s3:// warehouse's bucket, removed by
// the runner that ends their job.
var _ jobs.Uploads = (*table.RunUploads)(nil)

// Config configures the embedded services.
type Config struct {
	// Home is the lakehouse home (absolute path).
	Home string
	// QueryIdle is how many idle query databases to keep (default 1, the
	// right number for one CLI command; a server wants more).
	QueryIdle int
	// Confine keeps SQL from reading or writing files outside the
	// warehouse (uploads, exports, users.json, the catalog): a server
	// sets it. An export then writes with a database of its own, which
	// may also use the folder of its file.
	Confine bool
	// QueryThreads limits DuckDB's threads per query (0: all cores).
	QueryThreads int
	// QueryLimits bound each query's memory, spill, result and export
	// (zero: no limits, as embedded). Their TempDir defaults to HOME/tmp/duckdb.
	QueryLimits query.Limits
	// RunCache, when set, opens the cache that serves unchanged steps and
	// scans of runs, and its bound in bytes (0: none). It is called when a
	// run starts.
	RunCache func() (*cache.Store, int64, error)
	// Sandbox configures the confinement of user code (its StateDir
	// defaults to HOME/sandbox). Shared is set by a server.
	Sandbox rt.SandboxConfig
	// StrongIsolation refuses to run user code unless bubblewrap confines
	// it, verified (a server sets it unless told otherwise).
	StrongIsolation bool
	// StepLimits are each step's process and disk limits, and the memory
	// limit of a model that sets none (0: none).
	StepLimits rt.Limits
	// MaxStepMemory is the most memory a model may ask for (0: any).
	MaxStepMemory int64
	// Packages says where environments' packages come from.
	Packages PackagePolicy
	// BuildLimits bound each environment build.
	BuildLimits rt.Limits
	// Internet says which models get the network, and how.
	Internet InternetPolicy
	// UV is the command that runs uv ("" finds it: uv on PATH, or
	// python3 -m uv).
	UV string
	// ImportMemory bounds the memory of the engine that writes imports
	// (default query.DefaultImportMemory).
	ImportMemory int64
	// CrashPoint is the table writes' crash-point hook (table.Config).
	CrashPoint func(point string)
	// Jobs configures the job runner: how many runs at once, the lease
	// of the jobs it holds (a server sets them).
	Jobs jobs.Options
	// Catalog is where the catalog, users and jobs live: a postgres://
	// URL (a database several servers share), or "" for the home's
	// config.yml to say (its catalog:), else the home's own files.
	Catalog string
	// Warehouse is where new tables' files go: s3://BUCKET/PREFIX, or ""
	// for the home's config.yml to say (its warehouse:), else the home's
	// warehouse folder. On a shared database the first server's choice
	// holds.
	Warehouse string
}

// Lakehouse is an open lakehouse home.
type Lakehouse struct {
	Home   string
	home   Home
	cfg    Config
	cat    *catalog.Catalog
	tables *table.Service
	engine *query.Engine
	jobs   *jobs.Manager
	users  *users.Service
	stores *stores
	// runUploads keeps queued runs' projects in the bucket (nil for a
	// warehouse on the local disk).
	runUploads *table.RunUploads

	sandboxOnce sync.Once
	sandbox     *rt.Sandbox
	sandboxErr  error
}

// Open opens (creating on first use) the lakehouse at cfg.Home, its
// catalog, users and jobs where cfg.Catalog (or the home's config.yml)
// says: the first server on an empty database creates the lakehouse,
// later ones join it.
func Open(ctx context.Context, cfg Config) (*Lakehouse, error) {
	home := Home(cfg.Home)
	if err := os.MkdirAll(home.Warehouse(), 0o755); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "create lakehouse home %s: %w", home, err)
	}
	st, err := openStores(ctx, home, cfg.Catalog, cfg.Warehouse)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Open(ctx, st.catalog)
	if err != nil {
		st.close()
		return nil, err
	}
	if st.shared {
		// The jobs of this server, and its query spills, by its name.
		if cfg.Jobs.Owner == "" {
			cfg.Jobs.Owner = jobs.NewOwner()
		}
		if cfg.QueryLimits.TempDir == "" && (cfg.QueryLimits.Memory > 0 || cfg.QueryLimits.Disk > 0) {
			cfg.QueryLimits.TempDir = home.QueryTempOf(cfg.Jobs.Owner)
		}
	}
	bulk := query.NewImporter(query.ImportOptions{Threads: cfg.QueryThreads, Memory: cfg.ImportMemory, TempDir: home.QueryTemp()})
	keep, err := home.keepHistory()
	if err != nil {
		st.close()
		return nil, err
	}
	objectsMax, err := home.objectCacheBound()
	if err != nil {
		st.close()
		return nil, err
	}
	sharedMax, err := home.SharedCacheBound()
	if err != nil {
		st.close()
		return nil, err
	}
	metaMax, err := home.MetadataCacheBound()
	if err != nil {
		st.close()
		return nil, err
	}
	tables := table.NewService(cat, table.Config{Warehouse: st.warehouse, CacheDir: home.ObjectCache(), ObjectCache: objcache.Options{MaxBytes: objectsMax}, StageDir: home.Uploads(), CrashPoint: cfg.CrashPoint, Bulk: bulk, KeepHistory: keep, SharedCacheMax: sharedMax, MetadataMax: metaMax,
		UploadsInUse: st.jobs.Cleanups})
	if err := tables.CheckWarehouse(ctx); err != nil {
		st.close()
		return nil, err
	}
	// The projects of queued runs, in an s3:// warehouse's bucket.
	runUploads, err := tables.RunUploads(ctx)
	if err != nil {
		st.close()
		return nil, err
	}
	if runUploads != nil {
		cfg.Jobs.Uploads = runUploads
	}
	idle := cfg.QueryIdle
	if idle == 0 {
		idle = 1
	}
	qopts := query.Options{MaxIdle: idle, Threads: cfg.QueryThreads, Limits: cfg.QueryLimits}
	if qopts.Limits.TempDir == "" && (qopts.Limits.Memory > 0 || qopts.Limits.Disk > 0) {
		qopts.Limits.TempDir = home.QueryTemp()
	}
	if cfg.Confine {
		qopts.AllowedDirs = []string{st.warehouse}
		if table.IsRemote(st.warehouse) {
			qopts.AllowedDirs = []string{home.ObjectCache()}
		}
	}
	l := &Lakehouse{Home: cfg.Home, home: home, cfg: cfg, cat: cat, tables: tables, engine: query.New(tables, qopts), stores: st, runUploads: runUploads}
	l.jobs = jobs.New(st.jobs, cfg.Jobs)
	l.users = &users.Service{Store: st.users}
	return l, nil
}

// Sandbox returns the sandbox that confines user code on this home (made
// once: it probes the host).
func (l *Lakehouse) Sandbox(ctx context.Context) (*rt.Sandbox, error) {
	l.sandboxOnce.Do(func() {
		cfg := l.cfg.Sandbox
		if cfg.StateDir == "" {
			cfg.StateDir = l.home.Sandbox()
		}
		l.sandbox, l.sandboxErr = rt.NewSandbox(ctx, cfg)
		if l.sandboxErr == nil && l.cfg.StrongIsolation && !l.sandbox.Strong() {
			l.sandboxErr = tarn.Errorf(tarn.EINVALID, "this server runs user code only in a verified bubblewrap sandbox, and the host offers %s: install bubblewrap (Debian: apt-get install bubblewrap) or start the server with --allow-weak-isolation", l.sandbox.Describe())
		}
	})
	return l.sandbox, l.sandboxErr
}

// Services returns the lakehouse's services.
func (l *Lakehouse) Services() *tarn.Services {
	return &tarn.Services{
		Refs:      l.cat,
		Tables:    l.tables,
		Query:     l.engine,
		Runs:      &runService{l: l},
		Jobs:      l.jobs,
		Users:     l.users,
		Secrets:   secretService{l: l},
		Mode:      "embedded",
		Location:  l.Home,
		Catalog:   l.stores.where,
		Warehouse: l.tables.Where(),
		Ready:     l.tables.CheckWarehouse,
		Closer:    l.Close,
	}
}

// Tables returns the lakehouse's table service (the Iceberg REST catalog
// of a server is built on it).
func (l *Lakehouse) Tables() *table.Service { return l.tables }

// SecretKeys returns the lakehouse's key pair, which opens the values of
// secret parameters: the one a shared catalog database holds, else the
// home's, created on first need.
func (l *Lakehouse) SecretKeys() (*secret.Keys, error) {
	if l.stores.keys != nil {
		return l.stores.keys.get(context.Background())
	}
	return secret.LoadOrCreate(l.home.SecretKey())
}

// secretService implements tarn.SecretService over the home's key pair.
type secretService struct{ l *Lakehouse }

var _ tarn.SecretService = secretService{}

func (s secretService) PublicKey(ctx context.Context) (*tarn.PublicKey, error) {
	k, err := s.l.SecretKeys()
	if err != nil {
		return nil, err
	}
	return k.PublicKey(), nil
}

// Jobs returns the lakehouse's job manager.
func (l *Lakehouse) Jobs() *jobs.Manager { return l.jobs }

// Close releases the catalog, the query engine and the job and user
// stores.
func (l *Lakehouse) Close() error {
	l.tables.EndEngineWrites()
	l.jobs.Close()
	l.engine.Close()
	if l.stores.shared && l.cfg.QueryLimits.TempDir != "" {
		os.Remove(l.cfg.QueryLimits.TempDir) // this server's spill folder, empty once its databases closed
	}
	l.stores.jobs.Close()
	l.stores.users.Close()
	if l.stores.db != nil {
		l.stores.db.Close()
	}
	return l.cat.Close()
}

// Catalog says where the catalog, users and jobs live: the home's SQLite
// file, or the database (its password hidden).
func (l *Lakehouse) Catalog() string { return l.stores.where }

// Shared reports whether the lakehouse lives in a database that other
// servers may share (they find each other's dead jobs by their leases).
func (l *Lakehouse) Shared() bool { return l.stores.shared }

// Warehouse is where the lakehouse's tables live: a folder, or
// s3://BUCKET/PREFIX.
func (l *Lakehouse) Warehouse() string { return l.stores.warehouse }

// RunUploads is where a server keeps the projects of queued runs when
// the warehouse is in a bucket (WAREHOUSE/.tarn/runs), so that servers
// need no shared home folder; nil for a warehouse on the local disk,
// whose servers keep them in the home's upload folder.
func (l *Lakehouse) RunUploads() *table.RunUploads { return l.runUploads }

// Users returns the lakehouse's users.
func (l *Lakehouse) Users() *users.Service { return l.users }
