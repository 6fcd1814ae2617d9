// Command ui measures the web UI in headless Chromium against tarn serve
// on loopback: the time from navigation to the first meaningful paint
// (the page's data drawn) of the branches page, of a table page over a
// 1M-row table (its first page of rows) and of the history of a ref with
// 10,000 commits (its first page of commits and their graph), each beside
// the time the same API calls take alone; and the bundle's size.
//
//	go run ./bench/ui [-rounds 5] [-rows 1000000] [-commits 10000] [-json]
//
// Chromium comes from $TARN_CHROMIUM or PATH (scripts/setup.sh installs
// Debian's). See README.md for how to read the figures.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/ui"
)

type config struct {
	rounds  int
	rows    int
	commits int
	tarn    *string
}

var kit = benchkit.New("ui")

func main() {
	var cfg config
	fs := kit.Flags
	fs.IntVar(&cfg.rounds, "rounds", 5, "page loads per figure")
	fs.IntVar(&cfg.rows, "rows", 1_000_000, "rows of the table whose page is loaded")
	fs.IntVar(&cfg.commits, "commits", 10_000, "commits of the history that is loaded")
	cfg.tarn = kit.TarnFlag()
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

type figure struct {
	Name     string    `json:"name"`
	Paint    []float64 `json:"paint_s"`
	API      []float64 `json:"api_s"`
	MedPaint float64   `json:"median_paint_s"`
	MedAPI   float64   `json:"median_api_s"`
	Ratio    float64   `json:"paint_over_api"`
	Target   float64   `json:"target_paint_s"`
}

type report struct {
	Host       string   `json:"host"`
	Rounds     int      `json:"rounds"`
	Rows       int      `json:"table_rows"`
	Commits    int      `json:"history_commits"`
	Figures    []figure `json:"figures"`
	BundleGzip int64    `json:"bundle_gzip_bytes"`
	BundleRaw  int64    `json:"bundle_bytes"`
	Generated  string   `json:"generated"`
}

// pages: the page, what shows it has painted its data, and the API calls
// it makes for that data.
var pages = []struct {
	name, hash, painted string
	api                 []string
}{
	{"branches page (#/refs)", "#/refs", `document.querySelectorAll('table.data tbody tr').length >= 2`,
		[]string{"/v1/whoami", "/v1/refs?heads=true"}},
	{"table page, {rows} rows (#/table/main/tarn.big)", "#/table/main/tarn.big", `document.querySelectorAll('table.grid tbody tr').length === 50`,
		[]string{"/v1/whoami", "/v1/tables/tarn.big?ref=main", "/v1/tables/tarn.big/rows?ref=main&limit=50"}},
	{"history, {commits} commits (#/log/deep)", "#/log/deep", `document.querySelectorAll('.logrow').length >= 200`,
		[]string{"/v1/whoami", "/v1/history?ref=deep&limit=200"}},
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
	kit.Logf("making a %d-row table and a branch with %d commits", cfg.rows, cfg.commits)
	parquet := filepath.Join(tmp, "big.parquet")
	gen := fmt.Sprintf("select range as id, 'name ' || range as name, (range %% 1000) / 10.0 as amount, timestamp '2026-01-01' + to_seconds(range) as at from range(%d)", cfg.rows)
	for _, args := range [][]string{{"query", gen, "--out", parquet}, {"table", "create", "big", "--from", parquet}, {"branch", "create", "deep"}} {
		if out, err := tarnCmd(ctx, bin, home, args...); err != nil {
			return fmt.Errorf("tarn %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := deepHistory(ctx, home, cfg.commits); err != nil {
		return err
	}

	url, stop, err := benchkit.Serve(bin, tmp, home)
	if err != nil {
		return err
	}
	defer stop()

	path := os.Getenv("TARN_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		return fmt.Errorf("no Chromium: scripts/setup.sh installs Debian's chromium (or set TARN_CHROMIUM)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(filepath.Join(tmp, "chromium")))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("start Chromium: %v", err)
	}

	rep := report{Rounds: cfg.rounds, Rows: cfg.rows, Commits: cfg.commits, Generated: time.Now().UTC().Format(time.RFC3339)}
	for _, p := range pages {
		f := figure{Name: strings.NewReplacer("{rows}", count(cfg.rows), "{commits}", count(cfg.commits)).Replace(p.name), Target: 1}
		// One load first: Chromium caches the assets, as for a user who has
		// opened the UI before; DuckDB has opened the table.
		for i := -1; i < cfg.rounds; i++ {
			d, err := paint(bctx, url, p.hash, p.painted)
			if err != nil {
				return fmt.Errorf("%s: %v", p.name, err)
			}
			a, err := apiTime(url, p.api)
			if err != nil {
				return fmt.Errorf("%s: %v", p.name, err)
			}
			if i >= 0 {
				f.Paint, f.API = append(f.Paint, d.Seconds()), append(f.API, a.Seconds())
			}
		}
		f.MedPaint, f.MedAPI = benchkit.Median(f.Paint), benchkit.Median(f.API)
		f.Ratio = f.MedPaint / f.MedAPI
		kit.Logf("%s: paint %.3f s, API alone %.3f s", f.Name, f.MedPaint, f.MedAPI)
		rep.Figures = append(rep.Figures, f)
	}
	rep.BundleRaw, rep.BundleGzip, err = bundleSize()
	if err != nil {
		return err
	}
	rep.Host = benchkit.Host()
	return kit.Report(rep, rep.print)
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "bench/ui: first meaningful paint in headless Chromium against tarn serve on loopback, %d loads each, medians (%s)\n\n", rep.Rounds, rep.Host)
	fmt.Fprintf(w, "%-52s %9s %9s %7s %8s %4s\n", "page", "paint", "API", "ratio", "target", "met")
	for _, f := range rep.Figures {
		fmt.Fprintf(w, "%-52s %8.3fs %8.3fs %7.2f %8s %4s\n", f.Name, f.MedPaint, f.MedAPI, f.Ratio, fmt.Sprintf("< %.0f s", f.Target), benchkit.Met(f.MedPaint < f.Target))
	}
	fmt.Fprintf(w, "\nratio: paint / the same API calls made alone in sequence (what the page adds: loading, decoding Arrow, drawing)\n")
	fmt.Fprintf(w, "bundle: %s, %s gzipped (target < 500 KiB gzipped: %s)\n", tarn.FormatBytes(rep.BundleRaw), tarn.FormatBytes(rep.BundleGzip),
		benchkit.Met(rep.BundleGzip < 500<<10))
}

// count is n with thousands separators.
func count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// paint loads the page from about:blank and returns the time until painted
// is true (polled every 5 ms).
func paint(ctx context.Context, url, hash, painted string) (time.Duration, error) {
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		return 0, err
	}
	started := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(url+hash)); err != nil {
		return 0, err
	}
	for deadline := started.Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+painted+")"))
		if err == nil && ok {
			return time.Since(started), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("never painted (%s): %v", painted, err)
		}
	}
}

// apiTime makes the calls one after another and returns their time.
func apiTime(url string, paths []string) (time.Duration, error) {
	started := time.Now()
	for _, p := range paths {
		res, err := http.Get(strings.TrimSuffix(url, "/") + p)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			return 0, fmt.Errorf("GET %s: %d %v", p, res.StatusCode, err)
		}
	}
	return time.Since(started), nil
}

// deepHistory gives branch deep n more commits (a namespace created, then
// dropped), through the services directly: the CLI would take a process each.
func deepHistory(ctx context.Context, home string, n int) error {
	lh, err := local.Open(ctx, local.Config{Home: home})
	if err != nil {
		return err
	}
	defer lh.Close()
	tables := lh.Services().Tables
	for i := 0; i < n; i += 2 {
		info := tarn.CommitInfo{Author: "bench", Message: fmt.Sprintf("commit %d", i)}
		if _, err := tables.CreateNamespace(ctx, "deep", "scratch", info); err != nil {
			return err
		}
		if i+1 < n {
			info.Message = fmt.Sprintf("commit %d", i+1)
			if _, err := tables.DropNamespace(ctx, "deep", "scratch", false, info); err != nil {
				return err
			}
		}
	}
	return nil
}

func tarnCmd(ctx context.Context, bin, home string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "TARN_HOME="+home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// bundleSize is the size of the embedded pages, raw and gzipped (each file
// on its own, as a server sends them).
func bundleSize() (raw, gz int64, err error) {
	err = fs.WalkDir(ui.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(ui.Files(), p)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		raw, gz = raw+int64(len(b)), gz+int64(buf.Len())
		return nil
	})
	return raw, gz, err
}
