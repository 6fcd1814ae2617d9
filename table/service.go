package table

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/objcache"
)

// Service runs table operations over the versioned catalog and a warehouse.
type Service struct {
	cat       *catalog.Catalog
	warehouse string // URL: file:///abs/path or s3://bucket/prefix
	ioProps   iceberg.Properties
	cacheDir  string // local copies of an object store's files, for DuckDB
	objOpts   objcache.Options
	objMu     sync.Mutex
	objects   *objcache.Cache // opened on first use
	fetcher   objcache.Fetcher
	stageDir  string // copies of input objects (s3://) while they are imported
	crash     func(point string)
	bulk      BulkWriter
	leases    *leaseSet
	keep      time.Duration // gc.keep_history (0: keep all history)
	// liveUploads lists the uploads of unfinished jobs (Config.UploadsInUse).
	liveUploads func(ctx context.Context) ([]string, error)
	gcObjects   s3Client  // gc's client of an s3:// warehouse, made on first use
	uploader    s3Uploads // puts pipeline outputs written locally into an s3:// warehouse
	// What resolutions read of manifests and manifest lists (see liveFiles).
	manifests     *pathCache[manifestFiles]
	manifestLists *pathCache[[]iceberg.ManifestFile]
	meta          *MetadataCache // bytes of the immutable metadata files of an object store
	sharedMax     int64          // bound of the step cache's tier in the bucket (0: the default)
	horizon       horizonCache   // the recorded history horizon, as writes read it
	engines       engineWrites   // leases of other engines' writes through the REST catalog
}

// Config configures a Service.
type Config struct {
	// Warehouse is where table files go: an absolute path, file:// or s3:// URL.
	Warehouse string
	// IOProperties are iceberg-go FileIO properties (s3.endpoint, ...).
	IOProperties map[string]string
	// CacheDir holds local copies of the files of a warehouse in an
	// object store, which DuckDB reads (it cannot read s3:// here).
	CacheDir string
	// ObjectCache bounds the cache in CacheDir (objcache.Options: its
	// size, default 20 GiB, and how long a used entry is kept at least).
	ObjectCache objcache.Options
	// StageDir holds copies of input objects in a bucket (--from
	// s3://...) while they are imported ("": the system's temporary
	// folder).
	StageDir string
	// CrashPoint, when set, is called at each named point between two
	// steps of a write ("after-data-write", "after-metadata-write",
	// "before-catalog-commit"): the crash-safety tests kill the process
	// there (cmd/tarn sets it from TARN_CRASH_AT).
	CrashPoint func(point string)
	// Bulk, when set, writes the data files of unpartitioned imports on
	// local disk (see BulkWriter).
	Bulk BulkWriter
	// KeepHistory is the lakehouse's retention window of history
	// (gc.keep_history; 0 keeps everything): see tarn.GCRequest.
	KeepHistory time.Duration
	// UploadsInUse, when set, returns the uploads unfinished jobs hold
	// (jobs.Store.Cleanups): gc keeps those of the projects of queued
	// runs in the bucket (RunUploads) and removes the others once older
	// than its age. Unset, gc leaves every run upload alone.
	UploadsInUse func(ctx context.Context) ([]string, error)
	// Metadata caches the immutable metadata files of tables in an
	// object store (nil: the process's cache of MetadataMax bytes,
	// shared by every service of that bound; see ProcessMetadataCache).
	Metadata *MetadataCache
	// MetadataMax bounds the process's metadata cache when Metadata is
	// nil (cache.metadata_max_size; 0: DefaultMetadataBytes, 64 MiB).
	MetadataMax int64
	// SharedCacheMax bounds the step cache's tier in the bucket of an
	// s3:// warehouse (cache.shared_max_size; 0: 100 GiB), which
	// CollectGarbage enforces.
	SharedCacheMax int64
}

// NewService returns a table service. It becomes the catalog's Resolver
// (see Service.Resolve): merges and resolving commits combine tables that
// both sides only appended to.
func NewService(cat *catalog.Catalog, cfg Config) *Service {
	wh := strings.TrimSuffix(cfg.Warehouse, "/")
	if strings.HasPrefix(wh, "/") {
		wh = "file://" + wh
	}
	props := iceberg.Properties{}
	for k, v := range cfg.IOProperties {
		props[k] = v
	}
	if IsRemote(wh) {
		s3Properties(props)
	}
	s := &Service{cat: cat, warehouse: wh, ioProps: props, cacheDir: cfg.CacheDir, objOpts: cfg.ObjectCache, stageDir: cfg.StageDir, crash: cfg.CrashPoint, bulk: cfg.Bulk, keep: cfg.KeepHistory, sharedMax: cfg.SharedCacheMax, liveUploads: cfg.UploadsInUse}
	s.leases = &leaseSet{svc: s}
	if s.meta = cfg.Metadata; s.meta == nil {
		s.meta = ProcessMetadataCache(cfg.MetadataMax)
	}
	s.manifests, s.manifestLists = newPathCache[manifestFiles](), newPathCache[[]iceberg.ManifestFile]()
	cat.SetResolver(s)
	return s
}

// Catalog returns the versioned catalog the service writes to.
func (s *Service) Catalog() *catalog.Catalog { return s.cat }

// MetadataCache returns the cache of the object store's metadata files
// the service reads through.
func (s *Service) MetadataCache() *MetadataCache { return s.meta }

// Warehouse returns where table files go (a file:// or s3:// URL).
func (s *Service) Warehouse() string { return s.warehouse }

// IOProperties returns a copy of the FileIO properties (s3.endpoint, ...).
func (s *Service) IOProperties() map[string]string { return maps.Clone(s.ioProps) }

func (s *Service) tableLocation(ident tarn.TableIdent) string {
	return s.warehouse + "/" + ident.Namespace + "/" + ident.Name
}

// inWarehouse reports whether loc names a place inside the warehouse
// (not the warehouse itself): a table's files may go nowhere else.
func (s *Service) inWarehouse(loc string) bool {
	if strings.HasPrefix(loc, "file://") && !strings.HasPrefix(loc, "file:///") && !strings.HasPrefix(loc, "file://localhost/") {
		return false // a file URL naming another host
	}
	if p, ok := localPath(loc); ok {
		root, ok := localPath(s.warehouse)
		return ok && strings.HasPrefix(filepath.Clean(p), filepath.Clean(root)+"/")
	}
	rest, ok := strings.CutPrefix(loc, s.warehouse+"/")
	return ok && rest != "" && !slices.Contains(strings.Split(rest, "/"), "..")
}

// checkLocations refuses table metadata that would have files written
// outside the warehouse: the table's location, the data and metadata
// folders its properties set, and metaLoc, its metadata file ("" for
// none yet).
func (s *Service) checkLocations(ident tarn.TableIdent, meta icetable.Metadata, metaLoc string) error {
	for _, l := range []struct{ what, loc string }{
		{"location", meta.Location()},
		{icetable.WriteDataPathKey, meta.Properties()[icetable.WriteDataPathKey]},
		{icetable.WriteMetadataPathKey, meta.Properties()[icetable.WriteMetadataPathKey]},
		{"metadata file", metaLoc},
	} {
		if l.loc != "" && !s.inWarehouse(l.loc) {
			return tarn.Errorf(tarn.EINVALID, "table %s: %s %s is outside the lakehouse's warehouse: leave it unset, and tarn puts the table's files in the warehouse",
				ident, l.what, tarn.Quote(l.loc))
		}
	}
	return nil
}

func (s *Service) newTable(id icetable.Identifier, meta icetable.Metadata, loc string, cat icetable.CatalogIO) *icetable.Table {
	return icetable.New(id, meta, loc, s.fsFunc(loc, cat), cat)
}

func (s *Service) loadTable(ctx context.Context, id icetable.Identifier, loc string, cat icetable.CatalogIO) (*icetable.Table, error) {
	t, err := icetable.NewFromLocation(ctx, id, loc, s.fsFunc(loc, cat), cat)
	if err != nil {
		return nil, s.metadataError(ctx, strings.Join(id, "."), loc, err)
	}
	return t, nil
}

// metadataError is the error of reading the metadata of table name at
// loc: not found, saying so, when gc expired that history.
func (s *Service) metadataError(ctx context.Context, name, loc string, err error) error {
	if expired := s.expiredError(ctx, name+" at "+loc, loc); expired != nil {
		return expired
	}
	return fmt.Errorf("read metadata of %s at %s: %w", name, loc, err)
}

// expiredError is the not-found error of what (a read of loc) when gc
// expired the history that held loc; nil when it did not.
func (s *Service) expiredError(ctx context.Context, what, loc string) error {
	if h := s.expiredBefore(ctx, loc); h != nil {
		return tarn.Errorf(tarn.ENOTFOUND, "%s: the history before %s was expired by gc (gc.keep_history); this version of the table is gone",
			what, h.UTC().Format(time.RFC3339)).About(tarn.ResourceTable)
	}
	return nil
}

// crashPoint calls the CrashPoint hook at a named point of a write.
func (s *Service) crashPoint(name string) error {
	if s.crash != nil {
		s.crash(name)
	}
	return nil
}

// translate turns iceberg-go catalog errors into tarn errors.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case tarn.ErrorCode(err) != tarn.EINTERNAL:
		return err
	case errors.Is(err, icecat.ErrNoSuchTable):
		return tarn.Errorf(tarn.ENOTFOUND, "%s: %w", what, err).About(tarn.ResourceTable)
	case errors.Is(err, icecat.ErrNoSuchNamespace):
		return tarn.Errorf(tarn.ENOTFOUND, "%s: %w", what, err).About(tarn.ResourceNamespace)
	case errors.Is(err, icecat.ErrTableAlreadyExists):
		return tarn.Errorf(tarn.EEXISTS, "%s: %w", what, err).About(tarn.ResourceTable)
	case errors.Is(err, icecat.ErrNamespaceAlreadyExists):
		return tarn.Errorf(tarn.EEXISTS, "%s: %w", what, err).About(tarn.ResourceNamespace)
	case errors.Is(err, icetable.ErrCommitFailed):
		return tarn.Errorf(tarn.ECONFLICT, "%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// TableNotFound builds the not-found error for a table at a commit, with
// close names.
func (s *Service) TableNotFound(ctx context.Context, commit *tarn.Commit, ref string, ident tarn.TableIdent) error {
	entries, keys, err := s.cat.Entries(ctx, commit)
	if err != nil {
		return err
	}
	if entries[tarn.NamespaceKey(ident.Namespace)] == nil {
		return s.namespaceNotFound(keys, entries, ref, ident.Namespace)
	}
	var names []string
	for _, k := range keys {
		if entries[k].Kind == tarn.EntryTable {
			ns, name := tarn.ParseKey(k)
			if ns == ident.Namespace {
				names = append(names, name)
			} else {
				names = append(names, k)
			}
		}
	}
	return tarn.Errorf(tarn.ENOTFOUND, "table %s not found at %s%s", ident, ref, tarn.Suggest(ident.Name, names)).About(tarn.ResourceTable)
}

func (s *Service) namespaceNotFound(keys []string, entries map[string]*tarn.Entry, ref, ns string) error {
	var names []string
	for _, k := range keys {
		if entries[k].Kind == tarn.EntryNamespace {
			names = append(names, k)
		}
	}
	return tarn.Errorf(tarn.ENOTFOUND, "namespace %q not found at %s%s", ns, ref, tarn.Suggest(ns, names)).About(tarn.ResourceNamespace)
}

// ListNamespaces lists the namespaces at a ref.
func (s *Service) ListNamespaces(ctx context.Context, ref string) ([]tarn.Namespace, error) {
	commit, err := s.cat.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	entries, keys, err := s.cat.Entries(ctx, commit)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	var out []tarn.Namespace
	for _, k := range keys {
		if entries[k].Kind == tarn.EntryTable {
			ns, _ := tarn.ParseKey(k)
			counts[ns]++
		}
	}
	for _, k := range keys {
		if entries[k].Kind == tarn.EntryNamespace {
			out = append(out, tarn.Namespace{Name: k, Tables: counts[k]})
		}
	}
	return out, nil
}

// CreateNamespace creates a namespace on a branch (one commit).
func (s *Service) CreateNamespace(ctx context.Context, branch, ns string, info tarn.CommitInfo) (*tarn.Commit, error) {
	if err := tarn.ValidateNamespace(ns); err != nil {
		return nil, err
	}
	ss, err := s.OpenSession(ctx, branch)
	if err != nil {
		return nil, err
	}
	if err := ss.CreateNamespace(ctx, icetable.Identifier{ns}, nil); err != nil {
		if errors.Is(err, icecat.ErrNamespaceAlreadyExists) {
			return nil, tarn.Errorf(tarn.EEXISTS, "namespace %q already exists on %s", ns, branch).About(tarn.ResourceNamespace)
		}
		return nil, err
	}
	if info.Message == "" {
		info.Message = "create namespace " + ns
	}
	return ss.Flush(ctx, info)
}

// DropNamespace drops a namespace on a branch; with force its tables too.
func (s *Service) DropNamespace(ctx context.Context, branch, ns string, force bool, info tarn.CommitInfo) (*tarn.Commit, error) {
	if ns == tarn.DefaultNamespace {
		return nil, tarn.Errorf(tarn.EINVALID, "namespace %q is the default namespace and cannot be deleted", ns)
	}
	if err := tarn.ValidateNamespace(ns); err != nil {
		return nil, err
	}
	ss, err := s.OpenSession(ctx, branch)
	if err != nil {
		return nil, err
	}
	all, err := ss.entries(ctx)
	if err != nil {
		return nil, err
	}
	if all[tarn.NamespaceKey(ns)] == nil {
		keys := sortedKeys(all)
		return nil, s.namespaceNotFound(keys, all, branch, ns)
	}
	var tables []string
	for _, k := range sortedKeys(all) {
		if n, name := tarn.ParseKey(k); n == ns && name != "" {
			tables = append(tables, k)
		}
	}
	if len(tables) > 0 && !force {
		return nil, tarn.Errorf(tarn.EINVALID, "namespace %q on %s is not empty (%d tables: %s); drop them first or use --force",
			ns, branch, len(tables), strings.Join(tables[:min(5, len(tables))], ", ")).About(tarn.ResourceNamespace).Because(tarn.ReasonNotEmpty)
	}
	for _, k := range tables {
		ss.set(k, nil)
	}
	ss.set(tarn.NamespaceKey(ns), nil)
	if info.Message == "" {
		info.Message = "drop namespace " + ns
	}
	return ss.Flush(ctx, info)
}

func sortedKeys(m map[string]*tarn.Entry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// MetadataJSON returns a table metadata file as an Iceberg REST
// LoadTable answer holds it: its bytes, less the snapshots history
// retention expired (withoutExpired), whose files gc may have removed.
func (s *Service) MetadataJSON(ctx context.Context, loc string) ([]byte, error) {
	data, err := s.readMetadataFile(ctx, loc)
	if err != nil {
		return nil, err
	}
	if h := s.historyHorizon(ctx); h != nil {
		return withoutExpired(data, *h)
	}
	return data, nil
}

// readMetadataFile returns the bytes of a table metadata file.
func (s *Service) readMetadataFile(ctx context.Context, loc string) ([]byte, error) {
	if p, ok := localPath(loc); ok {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read table metadata: %w", err)
		}
		return data, nil
	}
	fsys, err := s.loadFS(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", loc, err)
	}
	f, err := fsys.Open(loc)
	if err != nil {
		return nil, fmt.Errorf("read table metadata: %w", err)
	}
	defer f.Close()
	return io.ReadAll(f)
}
