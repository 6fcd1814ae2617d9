package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/client"
	"github.com/tarnhq/tarn/local"
)

// app is the state shared by all commands of one invocation.
type app struct {
	stdout, stderr io.Writer
	home           string
	output         string
	author         string
	endpoint       string
	catalog        string
	warehouse      string

	svc *tarn.Services
	// onListen, when set, is called with a server's URL once it listens
	// (tarn ui opens it in a browser).
	onListen func(url string)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "tarn",
		Short: "A versioned lakehouse: Iceberg tables with branches, commits, merges and time travel",
		Long: `tarn keeps Apache Iceberg tables in a catalog with git-like branches, tags,
commits, merges and time travel. With no configuration it works on an
embedded lakehouse in $TARN_HOME (default ~/.tarn). With an endpoint
(--endpoint, $TARN_ENDPOINT or ` + "`tarn config set endpoint URL`" + `) every
command works the same against a ` + "`tarn serve`" + ` server.

Where the catalog lives is a setting of the home (catalog: in
$TARN_HOME/config.yml), $TARN_CATALOG or --catalog (flags win): by default
the home's own SQLite file; a postgres:// URL puts the catalog, users and
jobs in a database that several ` + "`tarn serve`" + ` processes share.
Where new tables' files go is another (warehouse:, $TARN_WAREHOUSE or
--warehouse): by default the home's warehouse folder; s3://BUCKET/PREFIX
puts them in an S3 or S3-compatible object store, configured by the
standard AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION, AWS_ENDPOINT_URL for an S3-compatible server, addressed
path-style).

Refs: a branch (main), a tag (v1), a commit hash or a unique prefix of 8+
hex characters, REF~N (N-th first-parent ancestor), REF@{2026-05-19T06:11:33Z}
(the last commit at or before that time). Only branches can be written.

Exit codes: 0 ok, 1 internal error, 2 usage or invalid input, 3 not found,
4 conflict or already exists, 5 unauthorized or forbidden, 130 interrupted.`,
		Example: `  tarn table create trips --from data/trips.csv
  tarn branch create dev && tarn checkout dev
  tarn table import trips --from data/more_trips.csv
  tarn branch merge dev --into main
  tarn log -n 5`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Name() == "query" && cmd.Parent() == cmd.Root() {
				return checkQueryOutput(a.output)
			}
			if a.output != "text" && a.output != "json" {
				return &usageError{fmt.Sprintf("unknown output format %q: use -o text or -o json", a.output)}
			}
			return nil
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{fmt.Sprintf("%v; see `%s --help`", err, cmd.CommandPath())}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.home, "home", "", "lakehouse home directory (default $TARN_HOME or ~/.tarn)")
	pf.StringVarP(&a.output, "output", "o", "text", "output format: text or json (tarn query also: csv, jsonl, parquet, arrow)")
	pf.StringVar(&a.author, "author", "", "author recorded in commits (default $TARN_AUTHOR or the OS user)")
	pf.StringVar(&a.endpoint, "endpoint", "", "URL of a tarn server (default $TARN_ENDPOINT or the profile; none: embedded)")
	pf.StringVar(&a.catalog, "catalog", "", "where the lakehouse's catalog, users and jobs live: a postgres://USER:PASSWORD@HOST:PORT/DB URL that several servers share (default $TARN_CATALOG, then catalog: in the home's config.yml, else the home's own SQLite catalog)")
	pf.StringVar(&a.warehouse, "warehouse", "", "where new tables' files go: s3://BUCKET/PREFIX (S3 or S3-compatible, from the AWS environment: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...) (default $TARN_WAREHOUSE, then warehouse: in the home's config.yml, else the home's warehouse folder)")
	root.AddCommand(a.branchCommand(), a.tagCommand(), a.logCommand(), a.checkoutCommand(),
		a.namespaceCommand(), a.tableCommand(), a.statusCommand(), a.verifyCommand(), a.initCommand(), a.runCommand(), a.parameterCommand(), a.queryCommand(),
		a.cacheCommand(), a.gcCommand(), a.serveCommand(), a.uiCommand(), a.configCommand(), a.jobCommand(), a.userCommand(), a.versionCommand())
	return root
}

func (a *app) homeDir() (string, error) {
	h := a.home
	if h == "" {
		h = os.Getenv("TARN_HOME")
	}
	if h == "" {
		u, err := os.UserHomeDir()
		if err != nil {
			return "", tarn.Errorf(tarn.EINVALID, "cannot find a home directory: set TARN_HOME or --home")
		}
		h = filepath.Join(u, ".tarn")
	}
	return filepath.Abs(h)
}

// open opens the services: the embedded lakehouse (created on first use)
// or, with an endpoint configured, a client of that server. This is the
// only place that knows the difference.
func (a *app) open(ctx context.Context) error {
	if a.svc != nil {
		return nil
	}
	home, err := a.homeDir()
	if err != nil {
		return err
	}
	a.home = home
	endpoint, token, err := a.remote()
	if err != nil {
		return err
	}
	if endpoint != "" && a.catalog != "" {
		return &usageError{"--catalog opens a lakehouse here, --endpoint (or TARN_ENDPOINT, or the profile) talks to a server that has its own: use one of them"}
	}
	if endpoint != "" {
		// The home keeps only this client's state (the active branch).
		a.svc, err = client.New(client.Config{Endpoint: endpoint, Token: token})
		return err
	}
	lh, err := local.Open(ctx, a.localConfig(local.Config{Home: home, RunCache: a.runCache,
		Packages: local.PackagePolicy{IndexURL: os.Getenv("TARN_INDEX_URL"), FindLinks: os.Getenv("TARN_FIND_LINKS")}}))
	if err != nil {
		return err
	}
	a.svc = lh.Services()
	return nil
}

// localConfig adds to cfg what every embedded lakehouse of this process
// takes from its flags and the environment: where the catalog lives
// (--catalog, $TARN_CATALOG; local.Open falls back to the home's
// config.yml), the uv command ($TARN_UV) and the crash points of the
// crash-safety tests ($TARN_CRASH_AT: POINT kills the process there,
// stop:POINT stops it).
func (a *app) localConfig(cfg local.Config) local.Config {
	cfg.Catalog = a.catalog
	if cfg.Catalog == "" {
		cfg.Catalog = os.Getenv("TARN_CATALOG")
	}
	cfg.Warehouse = a.warehouse
	if cfg.Warehouse == "" {
		cfg.Warehouse = os.Getenv("TARN_WAREHOUSE")
	}
	cfg.UV = os.Getenv("TARN_UV")
	if at := os.Getenv("TARN_CRASH_AT"); at != "" {
		// "stop:POINT" stops the process there instead (SIGSTOP; a test
		// resumes it with SIGCONT): a write paused half way.
		at, stop := strings.CutPrefix(at, "stop:")
		cfg.CrashPoint = func(point string) {
			switch {
			case point != at:
			case stop:
				syscall.Kill(os.Getpid(), syscall.SIGSTOP)
			default:
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	return cfg
}

func (a *app) close() {
	a.svc.Close()
}

// activeBranch returns the checked-out branch (main by default).
func (a *app) activeBranch() string {
	home, err := a.homeDir()
	if err != nil {
		return tarn.DefaultBranch
	}
	return local.Home(home).ActiveBranch()
}

func (a *app) setActiveBranch(name string) error {
	return local.Home(a.home).SetActiveBranch(name)
}

// ref returns the flag value or the active branch.
func (a *app) ref(flag string) string {
	if flag != "" {
		return flag
	}
	return a.activeBranch()
}

func (a *app) commitInfo(message string) tarn.CommitInfo {
	author := a.author
	if author == "" {
		author = os.Getenv("TARN_AUTHOR")
	}
	if author == "" {
		if u, err := user.Current(); err == nil {
			author = u.Username
		}
	}
	if author == "" {
		author = "unknown"
	}
	return tarn.CommitInfo{Author: author, Message: message}
}

// progress prints a status line on stderr when it is a terminal and output
// is for humans.
func (a *app) progress(format string, args ...any) {
	if a.output == "json" {
		return
	}
	if f, ok := a.stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintf(a.stderr, format+"\n", args...)
		}
	}
}

func (a *app) parseTable(name string) (tarn.TableIdent, error) {
	return tarn.ParseTableIdent(name, tarn.DefaultNamespace)
}
