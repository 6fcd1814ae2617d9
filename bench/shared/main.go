// Command shared measures what sharing a lakehouse costs and gives: the
// latency of a catalog commit on PostgreSQL against the embedded SQLite
// store (interleaved blocks, p50 and p99, ratio), and the runs per
// minute of two `tarn serve` on one database against one, for small runs
// submitted at once, alternately to the servers (each run checked to
// have run exactly once).
//
//	go run ./bench/shared -postgres $(scripts/postgres.sh dsn)
//	go run ./bench/shared -only commits -commits 2000
//	go run ./bench/shared -only servers -runs 8 -rounds 3 -json
//
// See README.md for how to read the figures.
package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tarnhq/tarn/bench/internal/benchkit"
)

type config struct {
	postgres string
	only     string
	tarn     *string

	commits, block, tables int

	runs, rounds int
}

var kit = benchkit.New("shared")

func main() {
	var cfg config
	fs := kit.Flags
	fs.StringVar(&cfg.postgres, "postgres", os.Getenv("TARN_TEST_POSTGRES"), "PostgreSQL URL to measure on (default $TARN_TEST_POSTGRES); each figure uses a fresh schema in it")
	fs.StringVar(&cfg.only, "only", "", "run one figure: commits or servers (default both)")
	fs.IntVar(&cfg.commits, "commits", 1000, "commits: timed commits on each store")
	fs.IntVar(&cfg.block, "block", 50, "commits: commits per block (the stores alternate block by block)")
	fs.IntVar(&cfg.tables, "tables", 100, "commits: tables in the catalog (each commit changes one)")
	fs.IntVar(&cfg.runs, "runs", 8, "servers: runs submitted at once")
	fs.IntVar(&cfg.rounds, "rounds", 2, "servers: rounds (one server, then two, alternating)")
	cfg.tarn = kit.TarnFlag()
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

type report struct {
	Host      string         `json:"host"`
	Commits   *commitFigure  `json:"commits,omitempty"`
	Servers   *serversFigure `json:"servers,omitempty"`
	Generated string         `json:"generated"`
}

func run(ctx context.Context, cfg config) error {
	if cfg.postgres == "" {
		return benchkit.Usagef("-postgres URL is needed: scripts/postgres.sh start, then go run ./bench/shared -postgres $(scripts/postgres.sh dsn)")
	}
	if cfg.only != "" && cfg.only != "commits" && cfg.only != "servers" {
		return benchkit.Usagef("-only %q: use commits or servers", cfg.only)
	}
	if cfg.commits < 1 || cfg.block < 1 || cfg.tables < 1 || cfg.runs < 1 || cfg.rounds < 1 {
		return benchkit.Usagef("-commits, -block, -tables, -runs and -rounds must be at least 1")
	}
	tmp, err := kit.WorkDir("")
	if err != nil {
		return err
	}
	rep := report{Host: benchkit.Host(), Generated: time.Now().UTC().Format(time.RFC3339)}
	if cfg.only != "servers" {
		if rep.Commits, err = commitLatency(ctx, cfg, tmp); err != nil {
			return err
		}
	}
	if cfg.only != "commits" {
		bin, err := kit.Tarn(ctx, *cfg.tarn, tmp)
		if err != nil {
			return err
		}
		if rep.Servers, err = servers(ctx, cfg, bin, tmp); err != nil {
			return err
		}
	}
	return kit.Report(rep, rep.print)
}

// schemaURL returns base with a fresh schema (tarn creates it).
func schemaURL(base, what string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", benchkit.Usagef("-postgres: %v", err)
	}
	q := u.Query()
	q.Set("search_path", fmt.Sprintf("bench_%s_%d", what, time.Now().UnixNano()))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "bench/shared (%s)\n", rep.Host)
	if c := rep.Commits; c != nil {
		fmt.Fprintf(w, "\ncatalog commit latency, %d commits each (blocks of %d alternating), one table of %d changed per commit:\n", c.Commits, c.Block, c.Tables)
		fmt.Fprintf(w, "  %-12s %9s %9s %9s\n", "store", "p50", "p99", "mean")
		for _, s := range []storeLatency{c.SQLite, c.Postgres} {
			fmt.Fprintf(w, "  %-12s %7.2fms %7.2fms %7.2fms   %s\n", strings.Fields(s.Store)[0], s.P50ms, s.P99ms, s.MeanMs, s.Store)
		}
		fmt.Fprintf(w, "  PostgreSQL / SQLite: p50 %.2f×, p99 %.2f×\n", c.RatioP50, c.RatioP99)
	}
	if s := rep.Servers; s != nil {
		fmt.Fprintf(w, "\n%d small runs submitted at once, alternately to the servers (--max-runs 1 each), %d rounds:\n", s.Runs, s.Rounds)
		fmt.Fprintf(w, "  %-8s %10s %14s %13s   %s\n", "servers", "runs/min", "wall (median)", "most at once", "every run exactly once")
		for _, c := range []serversCase{s.One, s.Two} {
			fmt.Fprintf(w, "  %-8d %10.1f %13.1fs %13d   %s\n", c.Servers, c.RunsPerMinute, c.MedianWallS, c.MostAtOnce, yes(c.ExactlyOnce))
		}
		fmt.Fprintf(w, "  two / one: %.2f× the runs per minute\n", s.Ratio)
	}
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
