package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/readyfile"
	"github.com/tarnhq/tarn/jobs"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/pipeline"
	"github.com/tarnhq/tarn/query"
	"github.com/tarnhq/tarn/server"
	"github.com/tarnhq/tarn/table"
	"github.com/tarnhq/tarn/table/icerest"
	"github.com/tarnhq/tarn/ui"
)

func (a *app) serveCommand() *cobra.Command {
	var addr string
	var insecure bool
	var protected []string
	var maxUploadMiB int64
	var grace time.Duration
	var keepJobs, maxRuns int
	var jobLease, icebergWriteLease time.Duration
	var sb sandboxFlags
	var readyFile string
	var jobVisibility, icebergCreds string
	var importFrom []string
	var maxQueries, queryThreads, maxProjectFiles, maxImportFiles int
	queryMemory, queryDisk, maxResult, maxExport := byteSize(2<<30), byteSize(4<<30), byteSize(1<<30), byteSize(4<<30)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the lakehouse over HTTP so a team runs every command against it",
		Long: `Serve the lakehouse home (--home or $TARN_HOME) over HTTP. Clients set
TARN_ENDPOINT (or --endpoint, or ` + "`tarn config set endpoint URL`" + `) and every
command works against the server unchanged; ` + "`tarn run`" + ` uploads the project and
runs it here, next to the data, streaming the logs back.

Every request needs a bearer token (create users with ` + "`tarn user add NAME`" + `),
unless --insecure-local, which serves everyone as an admin and is refused on
an address other than loopback. Users write to their own branches (NAME.*)
and into protected branches (--protected-branch, default main) only by
merging; admins write anywhere. A user sees, follows and cancels their own
jobs (runs, queries, imports: their SQL and logs); admins see every job
(--job-visibility all shows every job to everyone).

Each query runs within --query-memory, --query-disk and --query-threads, at
most --max-queries at once (more wait queued); a streamed result is at most
--max-result, a result file --max-export. SQL reads the warehouse only. Each
limit's error names its flag.

The Iceberg REST catalog is served at /iceberg: Spark, PyIceberg, DuckDB,
Trino and iceberg-go use the catalog URI http://HOST:PORT/iceberg with a
tarn ref as the warehouse and a tarn token (or the credential USER:TOKEN);
their writes are commits on that branch under the same rules
(docs/ICEBERG_REST.md). An engine writes its data files before it
commits them: after it loads a table on a branch it may write, tarn gc
keeps the files made since for --iceberg-write-lease, whatever its
--older-than.

GET / is the web UI (sign in with a token; see docs/UI.md): it does what
the API lets its user do. GET /healthz and /readyz answer for load balancers. SIGINT or SIGTERM stops
the server: it lets running jobs finish for --grace, then cancels the rest
(a cancelled run publishes nothing); queued runs stay queued.

With --catalog postgres://... (or catalog: in the home's config.yml)
several servers share one lakehouse: any answers any request, a run
submitted to one is queued in the database and done by whichever has a
free slot (--max-runs each), and ` + "`tarn job logs --follow`" + ` and ` + "`tarn job cancel`" + `
work through any of them. The first server on an empty database creates
the lakehouse; the others join it. For now they share one home folder
(its warehouse, uploads and caches) on one machine. A server holds its
jobs under a lease (--job-lease): the jobs of one that is killed are
marked failed by the others once the lease runs out; a server alone on
its home marks its previous life's jobs failed when it starts. Failed
jobs are not retried: a run publishes by one atomic merge, so such a run
published nothing.`,
		Example: `  tarn serve --home /data/lake
  tarn serve --addr 0.0.0.0:8181 --protected-branch main --protected-branch prod
  tarn serve --insecure-local          # a one-person server on 127.0.0.1, no tokens
  tarn serve --catalog postgres://tarn:secret@db:5432/tarn --max-runs 2   # one of several servers`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return &usageError{fmt.Sprintf("--addr %q: use HOST:PORT, e.g. 127.0.0.1:8181", addr)}
			}
			if insecure && !isLoopback(host) {
				return tarn.Errorf(tarn.EINVALID, "--insecure-local serves everyone as an admin, so it only listens on loopback (127.0.0.1, ::1 or localhost), not %q; create users with `tarn user add` instead", host)
			}
			visibility, err := server.ParseVisibility(jobVisibility)
			if err != nil {
				return err
			}
			credentials, err := icerest.ParseCredentialPolicy(icebergCreds)
			if err != nil {
				return err
			}
			for _, p := range importFrom {
				if !strings.HasPrefix(p, "s3://") || len(strings.SplitN(strings.TrimPrefix(p, "s3://"), "/", 2)[0]) == 0 {
					return tarn.Errorf(tarn.EINVALID, "--import-from %s: give a bucket's prefix, s3://BUCKET/ or s3://BUCKET/PREFIX/", tarn.Quote(p))
				}
			}
			home, err := a.homeDir()
			if err != nil {
				return err
			}
			a.home = home
			cfg, err := sb.config()
			if err != nil {
				return err
			}
			cfg = a.localConfig(cfg)
			cfg.Home, cfg.QueryIdle, cfg.Confine, cfg.RunCache, cfg.QueryThreads = home, 4, true, a.runCache, queryThreads
			if maxRuns < 1 {
				return &usageError{fmt.Sprintf("--max-runs %d: a server runs at least one run at a time", maxRuns)}
			}
			if icebergWriteLease < time.Second {
				return &usageError{fmt.Sprintf("--iceberg-write-lease %s: use at least 1s (the longest an engine may take between loading a table and committing what it wrote)", icebergWriteLease)}
			}
			if jobLease < time.Second {
				return &usageError{fmt.Sprintf("--job-lease %s: use at least 1s (servers renew their jobs' leases every lease/20)", jobLease)}
			}
			cfg.Jobs = jobs.Options{MaxRuns: maxRuns, Lease: jobLease, Log: a.stderr}
			cfg.QueryLimits = query.Limits{Memory: int64(queryMemory), Disk: int64(queryDisk), Result: int64(maxResult), Export: int64(maxExport)}
			lh, err := local.Open(ctx, cfg)
			if err != nil {
				return err
			}
			defer lh.Close()
			sandbox, err := lh.Sandbox(ctx)
			if err != nil {
				return err
			}
			if !sandbox.Strong() {
				fmt.Fprintf(a.stderr, "WARNING: --allow-weak-isolation: user code is NOT confined: %s\n", sandbox.Describe())
			}
			fmt.Fprintf(a.stderr, "tarn serve: user code runs in: %s\n", sandbox.Describe())
			if err := a.announceStores(lh, home); err != nil {
				return err
			}
			runner := lh.Jobs()
			if err := a.tidyJobs(ctx, lh, keepJobs); err != nil {
				return err
			}
			if !insecure {
				if users, err := lh.Users().ListUsers(ctx); err == nil && len(users) == 0 {
					where := "--home " + home
					if lh.Shared() {
						where = "--catalog URL (the same database)"
					}
					fmt.Fprintf(a.stderr, "no users yet: create an admin with `tarn user add NAME --admin %s`\n", where)
				}
			}
			srv := &server.Server{Services: lh.Services(), Jobs: runner, Users: lh.Users(), Insecure: insecure, Protected: protected, ImportSources: importFrom,
				JobVisibility: visibility, MaxQueries: maxQueries, MaxProjectFiles: maxProjectFiles, MaxImportFiles: maxImportFiles, MaxUpload: maxUploadMiB << 20, Home: home,
				UploadDir: local.Home(home).Uploads(), ExportDir: local.Home(home).Exports(), Log: a.stderr, UI: ui.Handler()}
			if ru := lh.RunUploads(); ru != nil {
				srv.Projects = ru // servers with homes of their own
			}
			tables := lh.Tables()
			engineIO, err := tables.EngineIOProperties(ctx, credentials == icerest.CredentialsStatic)
			if err != nil {
				return err
			}
			srv.Iceberg = icerest.New(tables, icerest.Options{TableConfig: icerest.StorageConfig(tables.Warehouse(), engineIO, credentials), WriteLease: icebergWriteLease})
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return tarn.Errorf(tarn.EINVALID, "cannot listen on %s: %v", addr, err)
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
			mode := "tokens required"
			if insecure {
				mode = "insecure-local: no tokens"
			}
			fmt.Fprintf(a.stderr, "tarn serve: listening on http://%s (home %s, catalog %s, %s)\n", ln.Addr(), home, lh.Catalog(), mode)
			fmt.Fprintf(a.stderr, "tarn serve: Iceberg REST catalog at http://%s/iceberg (warehouse: a branch, tag or commit)\n", ln.Addr())
			if readyFile != "" {
				if err := readyfile.Write(readyFile, ln.Addr().String(), home); err != nil {
					ln.Close()
					return tarn.Errorf(tarn.EINVALID, "--ready-file %s: %v", readyFile, err)
				}
				defer os.Remove(readyFile)
			}
			served := make(chan error, 1)
			go func() { served <- hs.Serve(ln) }()
			if a.onListen != nil {
				a.onListen("http://" + ln.Addr().String() + "/")
			}
			select {
			case err := <-served:
				return tarn.Errorf(tarn.EINTERNAL, "serve: %v", err)
			case <-ctx.Done():
			}
			fmt.Fprintf(a.stderr, "tarn serve: stopping (running jobs get %s to finish)\n", grace)
			shutdown := make(chan struct{})
			go func() {
				sctx, cancel := context.WithTimeout(context.Background(), grace+5*time.Second)
				defer cancel()
				hs.Shutdown(sctx)
				close(shutdown)
			}()
			runner.Wait(grace)
			<-shutdown
			if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8181", "address to listen on (HOST:PORT; port 0 picks a free one)")
	f.BoolVar(&insecure, "insecure-local", false, "no tokens: everyone is an admin (loopback addresses only)")
	f.StringSliceVar(&protected, "protected-branch", []string{tarn.DefaultBranch}, "branches users change only by merge (repeatable)")
	f.Int64Var(&maxUploadMiB, "max-upload", 256, "largest upload (files of an import, a project) in MiB")
	f.DurationVar(&grace, "grace", 30*time.Second, "on shutdown, how long running jobs may finish before they are cancelled")
	f.StringVar(&jobVisibility, "job-visibility", string(server.VisibleOwn), "whose jobs a user sees: own (admins see all) or all")
	f.IntVar(&maxProjectFiles, "max-project-files", server.DefaultMaxProjectFiles, "most files and folders a project archive (tarn run) may have")
	f.IntVar(&maxImportFiles, "max-import-files", server.DefaultMaxImportFiles, "most files one import (table create/import) may upload")
	f.IntVar(&maxQueries, "max-queries", 4, "queries and exports that run at once; more wait queued (0: no limit)")
	f.IntVar(&queryThreads, "query-threads", max(1, runtime.NumCPU()/2), "DuckDB threads of one query (0: all cores)")
	f.Var(&queryMemory, "query-memory", "memory of one query (DuckDB's memory_limit; 0: DuckDB's default, 80% of RAM)")
	f.Var(&queryDisk, "query-disk", "disk one query may spill to beyond its memory (0: no limit)")
	f.Var(&maxResult, "max-result", "largest query result streamed to a client, as Arrow (0: no limit)")
	f.Var(&maxExport, "max-export", "largest result file a query writes (--out; 0: no limit)")
	f.StringVar(&readyFile, "ready-file", "", "once listening, write {\"url\", \"addr\", \"pid\", \"home\"} as JSON to this file (atomically; removed at exit): how scripts and tests find a server on port 0")
	f.IntVar(&maxRuns, "max-runs", 1, "runs this server executes at once; more wait queued (for any server of the lakehouse)")
	f.DurationVar(&jobLease, "job-lease", 30*time.Second, "how long a job stays this server's without a renewal: after that another server ends it as failed (a killed server's jobs)")
	f.StringSliceVar(&importFrom, "import-from", nil, "s3:// prefixes users may import from with tarn table create/import --from s3://... (repeatable; the server reads them with its own credentials; default: none)")
	f.DurationVar(&icebergWriteLease, "iceberg-write-lease", icerest.DefaultWriteLease, "how long after an engine loads a table on a branch it may write (Iceberg REST) tarn gc keeps the files made since, for the commit that may follow")
	f.StringVar(&icebergCreds, "iceberg-credentials", string(icerest.CredentialsNone), "storage credentials the Iceberg REST catalog hands engines for an S3 warehouse: none (they bring their own) or static (the server's keys)")
	f.IntVar(&keepJobs, "keep-jobs", 10000, "at start, keep the records and logs of this many newest jobs (0: all)")
	sb.register(f)
	return cmd
}

// A server keeps queued runs' projects in the warehouse's bucket.
var _ server.ProjectStore = (*table.RunUploads)(nil)

// announceStores says where the catalog, users, jobs and tables live, and
// refuses a shared lakehouse whose tables this machine cannot reach.
func (a *app) announceStores(lh *local.Lakehouse, home string) error {
	fmt.Fprintf(a.stderr, "tarn serve: catalog, users and jobs in %s\n", lh.Catalog())
	if w := lh.Warehouse(); table.IsRemote(w) {
		fmt.Fprintf(a.stderr, "tarn serve: tables in %s, read through the local cache %s (at most %s: cache.objects_max_size), their metadata files through %s of memory (cache.metadata_max_size)\n",
			lh.Services().Warehouse, local.Home(home).ObjectCache(), table.FormatBytes(lh.Tables().ObjectCacheBound()), table.FormatBytes(lh.Tables().MetadataCache().Stats().MaxBytes))
		fmt.Fprintf(a.stderr, "tarn serve: step cache in %s, shared with every server in %s/%s\n", local.Home(home).Cache(), w, table.CacheTierDir)
		fmt.Fprintf(a.stderr, "tarn serve: projects of queued runs in %s/%s, for whichever server runs them\n", w, table.RunUploadsDir)
	}
	if !lh.Shared() {
		return nil
	}
	// Read (or made) now, so a home holding another key pair is refused
	// at start rather than at its first run with a secret.
	keys, err := lh.SecretKeys()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "tarn serve: key pair of secret parameters %s in the catalog database, shared with every server\n", keys.ID())
	if w := lh.Warehouse(); w != local.Home(home).Warehouse() && !table.IsRemote(w) {
		if info, err := os.Stat(w); err != nil || !info.IsDir() {
			return tarn.Errorf(tarn.EINVALID, "the lakehouse in %s keeps its tables in %s (the warehouse of the home of its first server), which this machine does not have: start this server on that home (--home), or mount that folder at the same path here",
				lh.Catalog(), w)
		}
		fmt.Fprintf(a.stderr, "tarn serve: tables in %s (the lakehouse's warehouse, chosen by its first server)\n", w)
	}
	fmt.Fprintf(a.stderr, "tarn serve: shared with the other servers on that database: runs go to whichever has a free slot (--max-runs); a server that stops answering for --job-lease loses its jobs to the others\n")
	return nil
}

// tidyJobs cleans up after servers that stopped: alone on its home, a
// server ends the jobs its previous life held and sweeps the scratch
// folders (but the uploads of queued runs); sharing a database, it
// leaves other servers' jobs to their leases and removes only old
// scratch. Then it prunes old job records beyond keep.
func (a *app) tidyJobs(ctx context.Context, lh *local.Lakehouse, keep int) error {
	runner := lh.Jobs()
	if !lh.Shared() {
		if n, err := runner.Recover(ctx); err != nil {
			return err
		} else if n > 0 {
			fmt.Fprintf(a.stderr, "marked %d job(s) left running by a stopped server as failed\n", n)
		}
	}
	queued, err := runner.Store().Cleanups(ctx)
	if err != nil {
		return err
	}
	local.Home(lh.Home).SweepScratch(queued, lh.Shared())
	if keep > 0 {
		if n, err := runner.Prune(ctx, keep); err != nil {
			return err
		} else if n > 0 {
			fmt.Fprintf(a.stderr, "removed the records of %d old job(s) (--keep-jobs %d)\n", n, keep)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// byteSize is a size flag: "2GiB", "512MiB", a number of bytes, or 0 for
// no limit.
type byteSize int64

func (b *byteSize) String() string {
	if *b == 0 {
		return "0"
	}
	return strings.ReplaceAll(tarn.FormatBytes(int64(*b)), " ", "")
}

func (b *byteSize) Set(s string) error {
	if strings.TrimSpace(s) == "0" {
		*b = 0
		return nil
	}
	n, err := pipeline.ParseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

func (b *byteSize) Type() string { return "size" }
