package local

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/atomicfile"
	"github.com/tarnhq/tarn/objcache"
	"github.com/tarnhq/tarn/pipeline"
	"github.com/tarnhq/tarn/table"
	"gopkg.in/yaml.v3"
)

// Home is a lakehouse home: the one place that knows where each part of a
// lakehouse lives under its directory. Everything else asks it.
type Home string

// The parts of a home.
func (h Home) Dir() string       { return string(h) }
func (h Home) Warehouse() string { return filepath.Join(string(h), "warehouse") }  // Iceberg data and metadata
func (h Home) CatalogDB() string { return filepath.Join(string(h), "catalog.db") } // the SQLite catalog
func (h Home) UsersFile() string { return filepath.Join(string(h), "users.json") } // users and token hashes
func (h Home) JobsDir() string   { return filepath.Join(string(h), "jobs") }       // job records and logs
func (h Home) Uploads() string   { return filepath.Join(string(h), "uploads") }    // a server's uploads while used
func (h Home) Exports() string   { return filepath.Join(string(h), "exports") }    // a server's query exports while sent
func (h Home) QueryTemp() string { return filepath.Join(string(h), "tmp", "duckdb") }
func (h Home) Envs() string      { return filepath.Join(string(h), "envs") }       // Python environments by key
func (h Home) SDK() string       { return filepath.Join(string(h), "sdk") }        // the extracted Python SDK
func (h Home) Cache() string     { return filepath.Join(string(h), "cache") }      // step and scan cache
func (h Home) Sandbox() string   { return filepath.Join(string(h), "sandbox") }    // generated sandbox files, egress sockets
func (h Home) SecretKey() string { return filepath.Join(string(h), "secret.key") } // the key pair of secret parameters (0600)
func (h Home) ObjectCache() string {
	return filepath.Join(string(h), "cache", "objects") // local copies of an object store's table files
}
func (h Home) ConfigFile() string {
	return filepath.Join(string(h), "config.yml")
}

// QueryTempOf is the spill folder of one server among several on the
// home (named by jobs.NewOwner: HOST-PID-RANDOM).
func (h Home) QueryTempOf(server string) string { return filepath.Join(h.QueryTemp(), server) }

// scratchAge is how long a shared home's scratch entry must be left
// untouched before a starting server takes it for litter.
const scratchAge = time.Hour

// SweepScratch removes what stopped servers left in the home's scratch
// folders: uploads (but those in keep: the projects of queued runs),
// exports and query spills. When the home is shared by several servers
// (shared), another server may be using an entry: only uploads and
// exports untouched for an hour go, and the spill folders of servers of
// this host that no longer run. It returns how many entries it removed.
func (h Home) SweepScratch(keep []string, shared bool) int {
	kept := map[string]bool{}
	for _, k := range keep {
		kept[filepath.Clean(k)] = true
	}
	host, _ := os.Hostname()
	n := 0
	for _, dir := range []string{h.Uploads(), h.Exports(), h.QueryTemp()} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			switch {
			case kept[p]:
				continue
			case shared && dir == h.QueryTemp():
				if !deadServer(e.Name(), host) {
					continue
				}
			case shared:
				if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < scratchAge {
					continue
				}
			}
			if os.RemoveAll(p) == nil {
				n++
			}
		}
	}
	return n
}

// deadServer reports whether name (HOST-PID-RANDOM) is a server of this
// host whose process has ended.
func deadServer(name, host string) bool {
	rest, ok := strings.CutPrefix(name, host+"-")
	if !ok {
		return false
	}
	pidText, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 {
		return false
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

// HomeConfig is HOME/config.yml: settings of the lakehouse itself, shared
// by every user of a server over the home.
type HomeConfig struct {
	// Catalog is where the catalog, users and jobs live: a
	// postgres://USER:PASSWORD@HOST:PORT/DATABASE URL that several
	// servers share, or empty for the home's own files (SQLite). Flags
	// and TARN_CATALOG win over it.
	Catalog string `yaml:"catalog,omitempty"`
	// Warehouse is where new tables' files go: s3://BUCKET/PREFIX (an
	// S3 or S3-compatible object store, configured by the standard AWS
	// environment), or empty for the home's warehouse folder. Flags and
	// TARN_WAREHOUSE win over it.
	Warehouse string `yaml:"warehouse,omitempty"`
	// Cache bounds the caches: MaxSize the step and scan cache,
	// ObjectsMaxSize the local copies of an object store's table files
	// (cache/objects; default 20GiB), SharedMaxSize the step cache's
	// tier in the bucket of an s3:// warehouse (WAREHOUSE/.tarn/cache;
	// default 100GiB, enforced by tarn gc), MetadataMaxSize the memory
	// holding an object store's Iceberg metadata files (per process;
	// default 64MiB), as sizes like 50GiB.
	Cache struct {
		MaxSize         string `yaml:"max_size,omitempty"`
		ObjectsMaxSize  string `yaml:"objects_max_size,omitempty"`
		SharedMaxSize   string `yaml:"shared_max_size,omitempty"`
		MetadataMaxSize string `yaml:"metadata_max_size,omitempty"`
	} `yaml:"cache"`
	// GC holds garbage collection's settings: KeepHistory is the
	// retention window of history (7d, 36h, all; empty: keep everything).
	GC struct {
		KeepHistory string `yaml:"keep_history,omitempty"`
	} `yaml:"gc"`
}

// Config reads config.yml (empty when there is none).
func (h Home) Config() (*HomeConfig, error) {
	var c HomeConfig
	data, err := os.ReadFile(h.ConfigFile())
	if os.IsNotExist(err) {
		return &c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "%s: %v", h.ConfigFile(), err)
	}
	return &c, nil
}

// keepHistory is config.yml's gc.keep_history (0: keep everything).
func (h Home) keepHistory() (time.Duration, error) {
	c, err := h.Config()
	if err != nil {
		return 0, err
	}
	d, err := tarn.ParseKeepHistory(strings.TrimSpace(c.GC.KeepHistory))
	if err != nil {
		return 0, tarn.Errorf(tarn.EINVALID, "gc.keep_history in %s: %s", h.ConfigFile(), tarn.ErrorMessage(err))
	}
	if d < 0 {
		d = 0
	}
	return d, nil
}

// objectCacheBound is $TARN_CACHE_OBJECTS_MAX_SIZE, else config.yml's
// cache.objects_max_size (0: the default, 20 GiB).
func (h Home) objectCacheBound() (int64, error) {
	return h.sizeSetting("TARN_CACHE_OBJECTS_MAX_SIZE", "objects_max_size", func(c *HomeConfig) string { return c.Cache.ObjectsMaxSize })
}

// ObjectCacheBound is the bound of the object cache (ObjectCache):
// $TARN_CACHE_OBJECTS_MAX_SIZE, else cache.objects_max_size, else 20 GiB.
func (h Home) ObjectCacheBound() (int64, error) {
	n, err := h.objectCacheBound()
	if err == nil && n == 0 {
		n = objcache.DefaultMaxBytes
	}
	return n, err
}

// SharedCacheBound is the bound of the step cache's tier in the bucket
// of an s3:// warehouse (WAREHOUSE/.tarn/cache), which tarn gc enforces:
// $TARN_CACHE_SHARED_MAX_SIZE, else cache.shared_max_size, else 100 GiB.
func (h Home) SharedCacheBound() (int64, error) {
	n, err := h.sizeSetting("TARN_CACHE_SHARED_MAX_SIZE", "shared_max_size", func(c *HomeConfig) string { return c.Cache.SharedMaxSize })
	if err == nil && n == 0 {
		n = table.DefaultSharedCacheBytes
	}
	return n, err
}

// MetadataCacheBound is the bound of the in-memory cache of an object
// store's Iceberg metadata files (table.MetadataCache):
// $TARN_CACHE_METADATA_MAX_SIZE, else cache.metadata_max_size, else 64 MiB.
func (h Home) MetadataCacheBound() (int64, error) {
	n, err := h.sizeSetting("TARN_CACHE_METADATA_MAX_SIZE", "metadata_max_size", func(c *HomeConfig) string { return c.Cache.MetadataMaxSize })
	if err == nil && n == 0 {
		n = table.DefaultMetadataBytes
	}
	return n, err
}

// sizeSetting is a size from the environment variable env, else from
// config.yml's cache.key (0 when neither sets it).
func (h Home) sizeSetting(env, key string, get func(*HomeConfig) string) (int64, error) {
	s, where := os.Getenv(env), env
	if s == "" {
		c, err := h.Config()
		if err != nil {
			return 0, err
		}
		s, where = strings.TrimSpace(get(c)), "cache."+key+" in "+h.ConfigFile()
	}
	if s == "" {
		return 0, nil
	}
	n, err := pipeline.ParseBytes(s)
	if err != nil {
		return 0, tarn.Errorf(tarn.EINVALID, "%s: %v", where, err)
	}
	return n, nil
}

// SetConfig writes config.yml atomically.
func (h Home) SetConfig(c *HomeConfig) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return atomicfile.Write(h.ConfigFile(), data, 0o600) // it may hold a database password
}

// ActiveBranch is the branch `tarn checkout` chose (HOME/HEAD), main by
// default.
func (h Home) ActiveBranch() string {
	b, err := os.ReadFile(filepath.Join(string(h), "HEAD"))
	if err != nil {
		return tarn.DefaultBranch
	}
	if name := strings.TrimSpace(string(b)); name != "" {
		return name
	}
	return tarn.DefaultBranch
}

// SetActiveBranch records the branch `tarn checkout` chose.
func (h Home) SetActiveBranch(name string) error {
	return atomicfile.Write(filepath.Join(string(h), "HEAD"), []byte(name+"\n"), 0o644)
}
