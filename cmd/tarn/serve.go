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
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/pipeline"
	"github.com/tarnhq/tarn/query"
	"github.com/tarnhq/tarn/server"
	"github.com/tarnhq/tarn/table/icerest"
	"github.com/tarnhq/tarn/ui"
)

func (a *app) serveCommand() *cobra.Command {
	var addr string
	var insecure bool
	var protected []string
	var maxUploadMiB int64
	var grace time.Duration
	var keepJobs int
	var sb sandboxFlags
	var readyFile string
	var jobVisibility, icebergCreds string
	var maxQueries, queryThreads, maxProjectFiles int
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
(docs/ICEBERG_REST.md).

GET / is the web UI (sign in with a token; see docs/UI.md): it does what
the API lets its user do. GET /healthz and /readyz answer for load balancers. SIGINT or SIGTERM stops
the server: it lets running jobs finish for --grace, then cancels the rest
(a cancelled run publishes nothing). Jobs left running by a server that was
killed are marked failed at the next start.`,
		Example: `  tarn serve --home /data/lake
  tarn serve --addr 0.0.0.0:8181 --protected-branch main --protected-branch prod
  tarn serve --insecure-local          # a one-person server on 127.0.0.1, no tokens`,
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
			jobs := lh.Jobs()
			jobs.Runs = lh.Services().Runs // runs submitted with --detach
			if n, err := jobs.Recover(ctx); err != nil {
				return err
			} else if n > 0 {
				fmt.Fprintf(a.stderr, "marked %d job(s) left running by a stopped server as failed\n", n)
			}
			// Uploads and exports of jobs a killed server left behind.
			for _, dir := range local.Home(home).ServerScratch() {
				os.RemoveAll(dir)
			}
			if keepJobs > 0 {
				if n, err := jobs.Prune(ctx, keepJobs); err != nil {
					return err
				} else if n > 0 {
					fmt.Fprintf(a.stderr, "removed the records of %d old job(s) (--keep-jobs %d)\n", n, keepJobs)
				}
			}
			if !insecure {
				if users, err := lh.Users().ListUsers(ctx); err == nil && len(users) == 0 {
					fmt.Fprintf(a.stderr, "no users yet: create an admin with `tarn user add NAME --admin --home %s`\n", home)
				}
			}
			srv := &server.Server{Services: lh.Services(), Jobs: jobs, Users: lh.Users(), Insecure: insecure, Protected: protected,
				JobVisibility: visibility, MaxQueries: maxQueries, MaxProjectFiles: maxProjectFiles, MaxUpload: maxUploadMiB << 20, Home: home,
				UploadDir: local.Home(home).Uploads(), ExportDir: local.Home(home).Exports(), Log: a.stderr, UI: ui.Handler()}
			tables := lh.Tables()
			srv.Iceberg = icerest.New(tables, icerest.Options{TableConfig: icerest.StorageConfig(tables.Warehouse(), tables.IOProperties(), credentials)})
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return tarn.Errorf(tarn.EINVALID, "cannot listen on %s: %v", addr, err)
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
			mode := "tokens required"
			if insecure {
				mode = "insecure-local: no tokens"
			}
			fmt.Fprintf(a.stderr, "tarn serve: listening on http://%s (home %s, %s)\n", ln.Addr(), home, mode)
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
			jobs.Wait(grace)
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
	f.IntVar(&maxQueries, "max-queries", 4, "queries and exports that run at once; more wait queued (0: no limit)")
	f.IntVar(&queryThreads, "query-threads", max(1, runtime.NumCPU()/2), "DuckDB threads of one query (0: all cores)")
	f.Var(&queryMemory, "query-memory", "memory of one query (DuckDB's memory_limit; 0: DuckDB's default, 80% of RAM)")
	f.Var(&queryDisk, "query-disk", "disk one query may spill to beyond its memory (0: no limit)")
	f.Var(&maxResult, "max-result", "largest query result streamed to a client, as Arrow (0: no limit)")
	f.Var(&maxExport, "max-export", "largest result file a query writes (--out; 0: no limit)")
	f.StringVar(&readyFile, "ready-file", "", "once listening, write {\"url\", \"addr\", \"pid\", \"home\"} as JSON to this file (atomically; removed at exit): how scripts and tests find a server on port 0")
	f.StringVar(&icebergCreds, "iceberg-credentials", string(icerest.CredentialsNone), "storage credentials the Iceberg REST catalog hands engines for an S3 warehouse: none (they bring their own) or static (the server's keys)")
	f.IntVar(&keepJobs, "keep-jobs", 10000, "at start, keep the records and logs of this many newest jobs (0: all)")
	sb.register(f)
	return cmd
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
