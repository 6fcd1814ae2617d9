package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

type report struct {
	Go         string         `json:"go"`
	OS         string         `json:"os"`
	Arch       string         `json:"arch"`
	CPUs       int            `json:"cpus"`
	GOMAXPROCS int            `json:"gomaxprocs"`
	Dir        string         `json:"dir"`
	Kept       bool           `json:"kept"`
	Started    time.Time      `json:"started"`
	ElapsedS   float64        `json:"elapsed_s"`
	Config     map[string]any `json:"config"`

	BranchCreate *branchFigure `json:"branch_create,omitempty"`
	CommitScale  *commitFigure `json:"commit_vs_catalog_size,omitempty"`
	TableSize    *tableFigure  `json:"branch_vs_table_size,omitempty"`
	Merge        *mergeFigure  `json:"merge,omitempty"`
}

// overRatio lists the size ratios (which should be near 1) above limit.
func (r *report) overRatio(limit float64) []string {
	var bad []string
	if f := r.CommitScale; f != nil && f.RatioP50 > limit {
		bad = append(bad, fmt.Sprintf("commit on %d vs %d tables: %.2f", f.LargeTables, f.SmallTables, f.RatioP50))
	}
	if f := r.TableSize; f != nil && f.RatioP50 > limit {
		bad = append(bad, fmt.Sprintf("branch create on big vs small table: %.2f", f.RatioP50))
	}
	return bad
}

func (r *report) print(w io.Writer, cfg *config) {
	fmt.Fprintf(w, "tarn catalog benchmark\n")
	fmt.Fprintf(w, "  %s %s/%s, %d CPUs (GOMAXPROCS %d), started %s, ran %.0fs\n",
		r.Go, r.OS, r.Arch, r.CPUs, r.GOMAXPROCS, r.Started.Format(time.RFC3339), r.ElapsedS)
	fmt.Fprintf(w, "  stack: sqlstore.OpenSQLite (WAL, synchronous=FULL) + catalog.Open + table.NewService, a fresh lakehouse per side\n")
	fmt.Fprintf(w, "  timings: pN = N-th percentile (nearest rank); the two sides of a comparison run interleaved (A B, B A, ...)\n")
	fmt.Fprintf(w, "  size ratios should stay near 1 (-check fails above %.2f)\n", cfg.maxRate)

	if f := r.BranchCreate; f != nil {
		section(w, "1. Branch create: catalog.CreateRef(branch, NAME, \"main\")")
		t := distTable(w)
		distRow(t, "CreateRef", f.Create)
		distRow(t, "floor: store.Apply creating one ref", f.Floor)
		t.Flush()
		fmt.Fprintf(w, "   p50 ratio CreateRef / floor: %.2f   (the rest of a branch create is resolving \"main\")\n", f.RatioP50)
	}

	if f := r.CommitScale; f != nil {
		section(w, fmt.Sprintf("2. Commit changing 1 table (catalog.Commit, one change): catalog of %d vs %d tables", f.SmallTables, f.LargeTables))
		t := distTable(w)
		distRow(t, fmt.Sprintf("catalog of %d tables", f.SmallTables), f.Small)
		distRow(t, fmt.Sprintf("catalog of %d tables", f.LargeTables), f.Large)
		t.Flush()
		fmt.Fprintf(w, "   p50 ratio %d / %d tables: %.2f   %s\n", f.LargeTables, f.SmallTables, f.RatioP50, verdict(f.RatioP50, cfg.maxRate))
		fmt.Fprintf(w, "   (building the %d-table catalog in commits of 1000 changes took %.1fs)\n", f.LargeTables, f.BuildLargeS)
	}

	if f := r.TableSize; f != nil {
		section(w, fmt.Sprintf("3. Branch create on a lakehouse holding a %s vs a %s table (real Iceberg tables from CSV)", mbText(f.Small.InputMB), mbText(f.Big.InputMB)))
		t := &grid{w: w}
		t.add("", "CSV input", "files", "rows", "table data", "data files", "generate", "infer", "write", "import", "import rate")
		for _, x := range []struct {
			name string
			ti   tableInfo
		}{{"small table", f.Small}, {"big table", f.Big}} {
			t.add(x.name, mbText(x.ti.InputMB), fmt.Sprint(x.ti.InputFiles), thousands(x.ti.Rows), mbText(x.ti.TableMB),
				fmt.Sprint(x.ti.DataFiles), secs(x.ti.GenerateS), secs(x.ti.InferS), secs(x.ti.WriteS), secs(x.ti.ImportS),
				fmt.Sprintf("%.1f MB/s", x.ti.ImportMBps))
		}
		t.Flush()
		fmt.Fprintf(w, "   import = ingest.Expand + ingest.Infer (reads every row) + table.Service.Create (writes Parquet, one catalog commit)\n")
		t = distTable(w)
		distRow(t, fmt.Sprintf("CreateRef, %s table on main", mbText(f.Small.InputMB)), f.BranchSmall)
		distRow(t, fmt.Sprintf("CreateRef, %s table on main", mbText(f.Big.InputMB)), f.BranchBig)
		t.Flush()
		fmt.Fprintf(w, "   p50 ratio big / small: %.2f   %s\n", f.RatioP50, verdict(f.RatioP50, cfg.maxRate))
	}

	if f := r.Merge; f != nil {
		section(w, fmt.Sprintf("4. Merge (catalog.Merge) of a branch that changed %d of %d tables, fresh branch each time", f.Changed, f.Tables))
		t := distTable(w)
		distRow(t, fmt.Sprintf("three-way (main changed %d others)", f.Changed), f.ThreeWay)
		distRow(t, "fast-forward (main unchanged)", f.FastForward)
		distRow(t, fmt.Sprintf("for scale: commit of %d changes", f.Changed), f.Commit)
		t.Flush()
		fmt.Fprintf(w, "   p50 ratio three-way merge / commit of %d changes: %.2f\n", f.Changed, f.RatioP50Commit)
		fmt.Fprintf(w, "   main's history grew from generation %d to %d during the runs; three-way p50 of the first / last quarter: %s / %s\n",
			f.MainCommitsFrom, f.MainCommitsTo, fmtMs(f.ThreeWayFirstQP50), fmtMs(f.ThreeWayLastQP50))
	}
}

func section(w io.Writer, title string) { fmt.Fprintf(w, "\n%s\n", title) }

// grid prints rows of cells aligned in columns: the first column left, the
// others right.
type grid struct {
	w    io.Writer
	rows [][]string
}

func (g *grid) add(cells ...string) { g.rows = append(g.rows, cells) }

func (g *grid) Flush() {
	var widths []int
	for _, r := range g.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range g.rows {
		var b strings.Builder
		b.WriteString("   ")
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(g.w, b.String())
	}
	g.rows = nil
}

func distTable(w io.Writer) *grid {
	g := &grid{w: w}
	g.add("", "n", "p50", "p90", "p99", "min", "max")
	return g
}

func distRow(g *grid, label string, d dist) {
	g.add(label, fmt.Sprint(d.N), fmtMs(d.P50), fmtMs(d.P90), fmtMs(d.P99), fmtMs(d.Min), fmtMs(d.Max))
}

func verdict(r, limit float64) string {
	if r <= limit {
		return fmt.Sprintf("ok (target ~1, limit %.2f)", limit)
	}
	return fmt.Sprintf("HIGH (target ~1, limit %.2f)", limit)
}

func secs(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.2fs", s)
	}
	return fmt.Sprintf("%.1fs", s)
}

func mbText(mb float64) string {
	switch {
	case mb >= 100:
		return fmt.Sprintf("%.0f MB", mb)
	case mb >= 10:
		return fmt.Sprintf("%.1f MB", mb)
	default:
		return fmt.Sprintf("%.2f MB", mb)
	}
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
