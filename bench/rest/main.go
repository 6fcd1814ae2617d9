// Command rest prints the figures of tarn's Iceberg REST catalog: loadTable
// and commit latency through `tarn serve`'s /iceberg endpoint (iceberg-go's
// REST client, HTTP on loopback, a bearer token) next to the same
// operation through the Go API (a table.Session in process), on catalogs
// of 10 and 10,000 tables; and a query over a table carrying delete files
// (1% of rows deleted) next to the same table compacted.
//
//	go run ./bench/rest              # defaults: a few minutes on 2 cores
//	go run ./bench/rest -rounds 100 -rows 1000000
//	go run ./bench/rest -json
//
// The REST side imports iceberg-go's REST client, as an engine would: the
// figure is what an engine sees, and the Go API takes iceberg-go's types.
// See bench/rest/README.md for how to read the figures.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog/rest"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/server"
	"github.com/tarnhq/tarn/table"
	"github.com/tarnhq/tarn/table/icerest"
)

var kit = benchkit.New("rest")

type config struct {
	dir     string
	rounds  int
	sizes   []int
	rows    int
	queries int
}

func main() {
	cfg := &config{sizes: []int{10, 10000}}
	fs := kit.Flags
	fs.StringVar(&cfg.dir, "dir", "", "work directory (default: a new temporary one)")
	fs.IntVar(&cfg.rounds, "rounds", 200, "loadTable and commit calls per mode and catalog size")
	fs.IntVar(&cfg.rows, "rows", 2_000_000, "rows of the table the delete-file query reads")
	fs.IntVar(&cfg.queries, "queries", 7, "runs of each query per table")
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

// latency is the p50 and p99 of one operation in one mode, in ms.
type latency struct {
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
}

func latencyOf(ds []time.Duration) latency {
	return latency{P50: benchkit.Ms(benchkit.Median(ds)), P99: benchkit.Ms(benchkit.Percentile(ds, 99))}
}

// catalogFigures are the figures of one catalog size.
type catalogFigures struct {
	Tables     int     `json:"tables"`
	LoadREST   latency `json:"load_rest"`
	LoadGo     latency `json:"load_go"`
	CommitREST latency `json:"commit_rest"`
	CommitGo   latency `json:"commit_go"`
}

// queryFigures compare a table with delete files and its compaction.
type queryFigures struct {
	Query       string  `json:"query"`
	DeletesMs   float64 `json:"deletes_ms"`
	CompactMs   float64 `json:"compacted_ms"`
	Ratio       float64 `json:"ratio"`
	Planned     int     `json:"files_planned"`
	Total       int     `json:"files_total"`
	DeleteFiles int     `json:"delete_files"`
}

type report struct {
	Host     string           `json:"host"`
	Rounds   int              `json:"rounds"`
	Catalogs []catalogFigures `json:"catalogs"`
	Rows     int              `json:"rows"`
	Deleted  int              `json:"rows_deleted"`
	Queries  []queryFigures   `json:"queries"`
}

func run(ctx context.Context, cfg *config) error {
	dir, err := kit.WorkDir(cfg.dir)
	if err != nil {
		return err
	}
	rep := &report{Host: benchkit.Host(), Rounds: cfg.rounds, Rows: cfg.rows}
	if rep.Catalogs, err = catalogBench(ctx, dir, cfg.sizes, cfg.rounds); err != nil {
		return err
	}
	if rep.Queries, rep.Deleted, err = deletesBench(ctx, filepath.Join(dir, "deletes"), cfg.rows, cfg.queries); err != nil {
		return err
	}
	return kit.Report(rep, rep.print)
}

// served is a lakehouse home behind tarn serve's handler, with the
// Iceberg catalog mounted and a user's token.
type served struct {
	lake  *local.Lakehouse
	url   string
	token string
	close func()
}

func serve(ctx context.Context, dir string) (*served, error) {
	lh, err := local.Open(ctx, local.Config{Home: dir, Confine: true})
	if err != nil {
		return nil, err
	}
	srv := &server.Server{Services: lh.Services(), Jobs: lh.Jobs(), Users: lh.Users(), Home: dir, Iceberg: icerest.New(lh.Tables(), icerest.Options{})}
	hs := httptest.NewServer(srv.Handler())
	_, token, err := lh.Users().AddUser(ctx, tarn.NewUser{Name: "bench", Admin: true})
	if err != nil {
		hs.Close()
		lh.Close()
		return nil, err
	}
	return &served{lake: lh, url: hs.URL + "/iceberg", token: token, close: func() { hs.Close(); lh.Close() }}, nil
}

var target = icetable.Identifier{"bench", "target"}

// catalogSetup is one catalog of n tables behind tarn serve's handler.
type catalogSetup struct {
	n                                      int
	s                                      *served
	client                                 *rest.Catalog
	uuid                                   uuid.UUID
	loadREST, loadGo, commitREST, commitGo []time.Duration
}

// setupCatalog fills a catalog with n tables: one real, the others
// entries pointing at its metadata (the catalog stores pointers).
func setupCatalog(ctx context.Context, dir string, n int) (*catalogSetup, error) {
	kit.Logf("catalog of %d tables: setting up", n)
	s, err := serve(ctx, dir)
	if err != nil {
		return nil, err
	}
	cl, err := rest.NewCatalog(ctx, "tarn", s.url, rest.WithWarehouseLocation("main"), rest.WithOAuthToken(s.token))
	if err != nil {
		s.close()
		return nil, err
	}
	c := &catalogSetup{n: n, s: s, client: cl}
	if err := cl.CreateNamespace(ctx, icetable.Identifier{"bench"}, nil); err != nil {
		return c, err
	}
	schema := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64})
	tbl, err := cl.CreateTable(ctx, target, schema)
	if err != nil {
		return c, err
	}
	c.uuid = tbl.Metadata().TableUUID()
	changes := map[string]*tarn.Entry{}
	for i := 1; i < n; i++ {
		changes[fmt.Sprintf("bench.t%05d", i)] = &tarn.Entry{Kind: tarn.EntryTable, Metadata: tbl.MetadataLocation()}
	}
	if len(changes) > 0 {
		_, err = s.lake.Tables().Catalog().Commit(ctx, catalog.CommitRequest{Branch: tarn.DefaultBranch, Changes: changes,
			Info: tarn.CommitInfo{Author: "bench", Message: "fill the catalog"}})
	}
	return c, err
}

func (c *catalogSetup) close() {
	c.client.Close()
	c.s.close()
}

// round times loadTable and a metadata-only commit of the real table
// once through REST and once through the Go API (a session per call, as
// the endpoint opens one per request), in the order given.
func (c *catalogSetup) round(ctx context.Context, i int, restFirst bool) error {
	tables := c.s.lake.Tables()
	for _, viaREST := range []bool{restFirst, !restFirst} {
		reqs := []icetable.Requirement{icetable.AssertTableUUID(c.uuid)}
		updates := []icetable.Update{icetable.NewSetPropertiesUpdate(iceberg.Properties{"bench.round": fmt.Sprint(i, viaREST)})}
		var err error
		start := time.Now()
		if viaREST {
			_, err = c.client.LoadTable(ctx, target)
			c.loadREST = append(c.loadREST, time.Since(start))
		} else {
			var ss *table.Session
			if ss, err = tables.OpenSession(ctx, tarn.DefaultBranch); err == nil {
				_, err = ss.LoadTable(ctx, target)
			}
			c.loadGo = append(c.loadGo, time.Since(start))
		}
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		start = time.Now()
		if viaREST {
			_, _, err = c.client.CommitTable(ctx, target, reqs, updates)
			c.commitREST = append(c.commitREST, time.Since(start))
		} else {
			var ss *table.Session
			if ss, err = tables.OpenSession(ctx, tarn.DefaultBranch); err == nil {
				if _, _, err = ss.CommitTable(ctx, target, reqs, updates); err == nil {
					_, err = ss.Flush(ctx, tarn.CommitInfo{Author: "bench", Message: "iceberg: update bench.target"})
				}
			}
			c.commitGo = append(c.commitGo, time.Since(start))
		}
		if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	return nil
}

// catalogBench times every catalog size, REST and Go API, interleaved
// round by round so that the shared machine's drift hits all alike.
func catalogBench(ctx context.Context, dir string, sizes []int, rounds int) ([]catalogFigures, error) {
	var setups []*catalogSetup
	defer func() {
		for _, c := range setups {
			c.close()
		}
	}()
	for _, n := range sizes {
		c, err := setupCatalog(ctx, filepath.Join(dir, "catalog-"+strconv.Itoa(n)), n)
		if c != nil {
			setups = append(setups, c)
		}
		if err != nil {
			return nil, err
		}
	}
	kit.Logf("catalogs: %d rounds", rounds)
	for i := range rounds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for j, c := range setups {
			if err := c.round(ctx, i, (i+j)%2 == 0); err != nil {
				return nil, err
			}
		}
	}
	var out []catalogFigures
	for _, c := range setups {
		out = append(out, catalogFigures{Tables: c.n, LoadREST: latencyOf(c.loadREST), LoadGo: latencyOf(c.loadGo),
			CommitREST: latencyOf(c.commitREST), CommitGo: latencyOf(c.commitGo)})
	}
	return out, nil
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "Iceberg REST catalog (%s), %d calls per mode and size; p50 / p99 in ms\n\n", r.Host, r.Rounds)
	fmt.Fprintf(w, "%-8s %-10s %17s %17s %11s\n", "tables", "operation", "REST", "Go API", "REST/Go p50")
	for _, c := range r.Catalogs {
		for _, op := range []struct {
			name    string
			rest, g latency
		}{{"loadTable", c.LoadREST, c.LoadGo}, {"commit", c.CommitREST, c.CommitGo}} {
			fmt.Fprintf(w, "%-8d %-10s %8.2f / %6.2f %8.2f / %6.2f %10.2fx\n", c.Tables, op.name, op.rest.P50, op.rest.P99, op.g.P50, op.g.P99, op.rest.P50/op.g.P50)
		}
	}
	if len(r.Catalogs) == 2 {
		a, b := r.Catalogs[0], r.Catalogs[1]
		fmt.Fprintf(w, "\n%d vs %d tables, p50 through REST: loadTable %.2fx, commit %.2fx (target ≈ 1)\n", b.Tables, a.Tables,
			b.LoadREST.P50/a.LoadREST.P50, b.CommitREST.P50/a.CommitREST.P50)
	}
	fmt.Fprintf(w, "\ntarn query over %d rows with %d deleted (position delete files) vs the same rows compacted; median ms\n\n", r.Rows, r.Deleted)
	fmt.Fprintf(w, "%-76s %9s %9s %7s %s\n", "query", "deletes", "compact", "ratio", "files planned (delete files)")
	for _, q := range r.Queries {
		fmt.Fprintf(w, "%-76s %9.1f %9.1f %6.2fx %d of %d (%d)\n", q.Query, q.DeletesMs, q.CompactMs, q.Ratio, q.Planned, q.Total, q.DeleteFiles)
	}
}
