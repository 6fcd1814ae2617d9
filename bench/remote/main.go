// Command remote measures what `tarn serve` costs over embedded mode, in
// one run, on loopback: the same `tarn run` of a small project and the
// same `tarn query` (TPC-H Q1 over a synthetic lineitem of SF1 size)
// through the CLI, embedded and remote, alternating; and the transfer rate
// of a large query result streamed as Arrow IPC through the HTTP client,
// against the same result read from the embedded engine.
//
//	go run ./bench/remote [-rounds 5] [-rows 6000000] [-big 40000000] [-json]
//
// See README.md for how to read the figures.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/client"
	"github.com/tarnhq/tarn/local"
)

type config struct {
	rounds int
	rows   int
	big    int
	tarn   *string
}

var kit = benchkit.New("remote")

func main() {
	var cfg config
	fs := kit.Flags
	fs.IntVar(&cfg.rounds, "rounds", 5, "alternating rounds per comparison")
	fs.IntVar(&cfg.rows, "rows", 6_000_000, "rows of the synthetic lineitem (6M: TPC-H SF1)")
	fs.IntVar(&cfg.big, "big", 40_000_000, "rows of the large result whose transfer is timed (4 columns of 8 bytes)")
	cfg.tarn = kit.TarnFlag()
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

// q1 is TPC-H Q1 over the synthetic lineitem.
const q1 = `select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty, sum(l_extendedprice) as sum_base_price,
  sum(l_extendedprice * (1 - l_discount)) as sum_disc_price, sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
  avg(l_quantity) as avg_qty, avg(l_extendedprice) as avg_price, avg(l_discount) as avg_disc, count(*) as count_order
from lineitem where l_shipdate <= date '1998-12-01' - interval 90 day
group by l_returnflag, l_linestatus order by l_returnflag, l_linestatus`

// genLineitem has the columns Q1 reads, with TPC-H's value ranges.
const genLineitem = `select range as l_orderkey,
  (1 + range %% 50)::decimal(15,2) as l_quantity,
  (900 + (range * 7919) %% 100000 / 1.0)::decimal(15,2) as l_extendedprice,
  ((range %% 11) / 100.0)::decimal(15,2) as l_discount,
  ((range %% 9) / 100.0)::decimal(15,2) as l_tax,
  ['A','N','R'][1 + range %% 3] as l_returnflag,
  ['F','O'][1 + range %% 2] as l_linestatus,
  date '1992-01-02' + (range %% 2526)::int as l_shipdate
from range(%d)`

const projectYAML = "name: bench_remote\ndefaults:\n  python: \"3.11\"\n  timeout: 600\n"

const model = `import tarn
import pyarrow as pa
import pyarrow.compute as pc

@tarn.model(materialization_strategy="REPLACE")
def flags(lineitem=tarn.Model("lineitem", columns=["l_returnflag", "l_quantity"])):
    print(f"{lineitem.num_rows} rows", flush=True)
    return lineitem.group_by("l_returnflag").aggregate([("l_quantity", "sum")])
`

// figure is one comparison: remote vs embedded medians.
type figure struct {
	Name      string    `json:"name"`
	Embedded  []float64 `json:"embedded_s"`
	Remote    []float64 `json:"remote_s"`
	MedianEmb float64   `json:"median_embedded_s"`
	MedianRem float64   `json:"median_remote_s"`
	Ratio     float64   `json:"ratio"`
	Target    float64   `json:"target_ratio,omitempty"`
}

type transfer struct {
	Rows         int64   `json:"rows"`
	ArrowBytes   int64   `json:"arrow_bytes"`
	EmbeddedGBps float64 `json:"embedded_gb_s"`
	RemoteGBps   float64 `json:"remote_gb_s"`
	// TransportGBps is the server and the client alone: batches held in
	// memory, encoded as Arrow IPC, sent over loopback HTTP and decoded.
	TransportGBps float64 `json:"transport_gb_s"`
	Target        float64 `json:"target_remote_gb_s"`
}

type report struct {
	Host      string   `json:"host"`
	Rounds    int      `json:"rounds"`
	Rows      int      `json:"lineitem_rows"`
	Figures   []figure `json:"figures"`
	Transfer  transfer `json:"transfer"`
	Generated string   `json:"generated"`
}

func run(ctx context.Context, cfg config) error {
	tmp, err := kit.WorkDir("")
	if err != nil {
		return err
	}
	bin, err := kit.Tarn(ctx, *cfg.tarn, tmp)
	if err != nil {
		return err
	}
	home := filepath.Join(tmp, "home")
	b := &bench{cfg: cfg, bin: bin, tmp: tmp, home: home}

	kit.Logf("generating lineitem (%d rows) and importing it", cfg.rows)
	parquet := filepath.Join(tmp, "lineitem.parquet")
	if _, err := b.tarn(ctx, nil, "query", fmt.Sprintf(genLineitem, cfg.rows), "--out", parquet); err != nil {
		return err
	}
	if _, err := b.tarn(ctx, nil, "table", "create", "lineitem", "--from", parquet); err != nil {
		return err
	}
	project := filepath.Join(tmp, "project")
	os.MkdirAll(filepath.Join(project, "models"), 0o755)
	os.WriteFile(filepath.Join(project, "tarn_project.yml"), []byte(projectYAML), 0o644)
	os.WriteFile(filepath.Join(project, "models", "flags.py"), []byte(model), 0o644)
	kit.Logf("first run (builds the environment)")
	if _, err := b.tarn(ctx, nil, "run", "-p", project); err != nil {
		return err
	}

	srv, url, err := b.serve()
	if err != nil {
		return err
	}
	defer srv()
	remote := []string{"TARN_ENDPOINT=" + url}

	rep := report{Host: "", Rounds: cfg.rounds, Rows: cfg.rows, Generated: time.Now().UTC().Format(time.RFC3339)}
	compare := func(name string, target float64, args ...string) error {
		f := figure{Name: name, Target: target}
		for i := 0; i < cfg.rounds; i++ {
			for _, variant := range [][]string{nil, remote} {
				if i%2 == 1 {
					variant = map[bool][]string{true: remote, false: nil}[variant == nil]
				}
				d, err := b.tarn(ctx, variant, args...)
				if err != nil {
					return err
				}
				if variant == nil {
					f.Embedded = append(f.Embedded, d.Seconds())
				} else {
					f.Remote = append(f.Remote, d.Seconds())
				}
			}
		}
		f.MedianEmb, f.MedianRem = benchkit.Median(f.Embedded), benchkit.Median(f.Remote)
		f.Ratio = f.MedianRem / f.MedianEmb
		kit.Logf("%s: embedded %.3f s, remote %.3f s, ratio %.2f", name, f.MedianEmb, f.MedianRem, f.Ratio)
		rep.Figures = append(rep.Figures, f)
		return nil
	}
	// --no-cache: the step runs every time (the figure is running a project
	// next to the data); the cached run is reported beside it.
	if err := compare("tarn run --no-cache (1 Python model over lineitem)", 1.1, "run", "-p", project, "--no-cache"); err != nil {
		return err
	}
	if err := compare("tarn run (served from the cache)", 0, "run", "-p", project); err != nil {
		return err
	}
	if err := compare("tarn query Q1 -o json", 0, "query", q1, "-o", "json"); err != nil {
		return err
	}
	if rep.Transfer, err = b.transfer(ctx, url); err != nil {
		return err
	}
	rep.Host = benchkit.Host()
	return kit.Report(rep, rep.print)
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "bench/remote: embedded vs tarn serve on loopback, %d rounds alternating, medians (%s)\n\n", rep.Rounds, rep.Host)
	fmt.Fprintf(w, "%-52s %10s %10s %7s %7s\n", "command", "embedded", "remote", "ratio", "target")
	for _, f := range rep.Figures {
		target := "-"
		if f.Target > 0 {
			target = fmt.Sprintf("≤ %.2f", f.Target)
		}
		fmt.Fprintf(w, "%-52s %9.3fs %9.3fs %7.2f %7s\n", f.Name, f.MedianEmb, f.MedianRem, f.Ratio, target)
	}
	t := rep.Transfer
	fmt.Fprintf(w, "\nlarge result (%d rows, %s as Arrow): embedded engine %.2f GB/s, through the server as Arrow IPC %.2f GB/s\n",
		t.Rows, tarn.FormatBytes(t.ArrowBytes), t.EmbeddedGBps, t.RemoteGBps)
	fmt.Fprintf(w, "server + client alone (batches from memory, Arrow IPC over loopback HTTP): %.2f GB/s (target ≥ %.1f)\n", t.TransportGBps, t.Target)
}

type bench struct {
	cfg       config
	bin       string // the tarn binary
	tmp, home string
}

// tarn runs the CLI and returns its wall time.
func (b *bench) tarn(ctx context.Context, env []string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = append(append(os.Environ(), "TARN_HOME="+b.home, "TARN_CONFIG="+filepath.Join(b.tmp, "none.yml")), env...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &errb
	started := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("tarn %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return time.Since(started), nil
}

// serve starts tarn serve over the bench's home, with the same engine
// settings as embedded: remote vs embedded measures the transport, not a
// shared server's query limits.
func (b *bench) serve() (stop func(), url string, err error) {
	url, stop, err = benchkit.Serve(b.bin, b.tmp, b.home,
		"--query-threads=0", "--query-memory=0", "--query-disk=0", "--max-result=0", "--max-export=0", "--max-queries=0")
	return stop, url, err
}

// transfer reads a large result through the embedded engine and through
// the server (the same home), alternating, and returns Arrow bytes per
// second of each (medians). The time runs from the request to the last
// batch, so it includes DuckDB producing the result.
func (b *bench) transfer(ctx context.Context, url string) (transfer, error) {
	sql := fmt.Sprintf("select range as a, range * 2 as b, range * 3 as c, range * 4 as d from range(%d)", b.cfg.big)
	lh, err := local.Open(ctx, local.Config{Home: b.home})
	if err != nil {
		return transfer{}, err
	}
	defer lh.Close()
	remote, err := client.New(client.Config{Endpoint: url})
	if err != nil {
		return transfer{}, err
	}
	defer remote.Close()
	out := transfer{Target: 1}
	var emb, rem []float64
	for i := 0; i < max(3, b.cfg.rounds/2); i++ {
		for _, svc := range []*tarn.Services{lh.Services(), remote} {
			started := time.Now()
			res, err := svc.Query.Query(ctx, tarn.QueryRequest{SQL: sql, Ref: "main"})
			if err != nil {
				return out, err
			}
			var rows, bytes int64
			for res.Records.Next() {
				rec := res.Records.RecordBatch()
				rows += rec.NumRows()
				bytes += arrowBytes(rec)
			}
			err = res.Records.Err()
			res.Close()
			if err != nil {
				return out, err
			}
			gbps := float64(bytes) / time.Since(started).Seconds() / 1e9
			out.Rows, out.ArrowBytes = rows, bytes
			if svc == remote {
				rem = append(rem, gbps)
			} else {
				emb = append(emb, gbps)
			}
		}
	}
	out.EmbeddedGBps, out.RemoteGBps = benchkit.Median(emb), benchkit.Median(rem)
	if out.TransportGBps, err = b.transport(ctx, b.cfg.big); err != nil {
		return out, err
	}
	kit.Logf("transfer: embedded %.2f GB/s, remote %.2f GB/s, server+client alone %.2f GB/s", out.EmbeddedGBps, out.RemoteGBps, out.TransportGBps)
	return out, nil
}
