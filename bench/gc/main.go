// Command gc measures `tarn gc` on a lakehouse of many files, in one run:
// it builds a local lakehouse of about -files files (tables imported with
// -partitions partitions each, so one file per partition; half of them on
// a branch that is then deleted, so their files are garbage), then times
//
//   - the floor: listing the warehouse with filepath.WalkDir and a stat of
//     every file, as any collection must;
//   - `tarn gc --dry-run --older-than 0s` (list, walk every commit's
//     tables and manifests, decide), median of -repeats, and its peak RSS;
//   - `tarn gc --older-than 0s`, removing the deleted branch's files, and
//     its peak RSS; `tarn verify --history` must then pass and the kept
//     tables hold their rows.
//
// The figure is dry-run time / listing time (how much the reachability
// walk costs over the listing), with the peak memory of each collection.
//
//	go run ./bench/gc [-files 100000] [-partitions 5000] [-repeats 3] [-json]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tarnhq/tarn/bench/internal/benchkit"
)

var kit = benchkit.New("gc")

type config struct {
	files, partitions, repeats int
	tarn                       *string
}

type report struct {
	Host          string  `json:"host"`
	Files         int     `json:"files"`
	Referenced    int     `json:"referenced"`
	Removed       int     `json:"removed"`
	Tables        int     `json:"tables"`
	BuildS        float64 `json:"build_s"`
	ListMs        float64 `json:"list_ms"`
	DryRunMs      float64 `json:"dry_run_ms"`
	DryRunRSSMB   float64 `json:"dry_run_peak_rss_mb"`
	CollectMs     float64 `json:"collect_ms"`
	CollectRSSMB  float64 `json:"collect_peak_rss_mb"`
	DryRunOverLst float64 `json:"dry_run_over_list"`
	VerifyMs      float64 `json:"verify_history_ms"`
}

func main() {
	var cfg config
	fs := kit.Flags
	fs.IntVar(&cfg.files, "files", 100000, "about how many files the lakehouse has")
	fs.IntVar(&cfg.partitions, "partitions", 5000, "partitions (so data files) per imported table")
	fs.IntVar(&cfg.repeats, "repeats", 3, "dry runs timed (median)")
	cfg.tarn = kit.TarnFlag()
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

// gcReport is the part of `tarn gc -o json` read here.
type gcReport struct {
	Files      int        `json:"files"`
	Referenced int        `json:"referenced"`
	Removed    []struct{} `json:"removed"`
	Failed     []string   `json:"failed"`
}

func run(ctx context.Context, cfg config) error {
	if cfg.files < 2 || cfg.partitions < 1 || cfg.repeats < 1 {
		return benchkit.Usagef("-files must be at least 2, -partitions and -repeats at least 1")
	}
	dir, err := kit.WorkDir("")
	if err != nil {
		return err
	}
	bin, err := kit.Tarn(ctx, *cfg.tarn, dir)
	if err != nil {
		return err
	}
	home := filepath.Join(dir, "home")
	tarn := func(args ...string) (string, time.Duration, float64, error) {
		cmd := exec.CommandContext(ctx, bin, append([]string{"--home", home}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		started := time.Now()
		err := cmd.Run()
		took := time.Since(started)
		if err != nil {
			return "", 0, 0, fmt.Errorf("tarn %s: %v: %s", strings.Join(args, " "), err, errb.String())
		}
		rss := 0.0
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = float64(ru.Maxrss) / 1024 // KiB on Linux
		}
		return out.String(), took, rss, nil
	}

	// Each table: one data file per partition, a manifest, a manifest
	// list and a metadata file.
	perTable := cfg.partitions + 3
	tables := max(2, (cfg.files+perTable-1)/perTable)
	rep := report{Host: benchkit.Host(), Tables: tables}
	csv := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("id,p,v\n")
	for i := 0; i < cfg.partitions*2; i++ {
		fmt.Fprintf(&b, "%d,%d,v%d\n", i, i%cfg.partitions, i)
	}
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		return err
	}
	started := time.Now()
	if _, _, _, err := tarn("branch", "create", "scratch"); err != nil {
		return err
	}
	for i := 0; i < tables; i++ {
		ref := "main"
		if i%2 == 1 {
			ref = "scratch" // deleted below: its tables' files are garbage
		}
		if _, _, _, err := tarn("table", "create", fmt.Sprintf("t%d", i), "--from", csv, "--partition-by", "p", "--ref", ref); err != nil {
			return err
		}
		kit.Logf("table %d of %d (%d partitions) on %s", i+1, tables, cfg.partitions, ref)
	}
	if _, _, _, err := tarn("branch", "rm", "scratch"); err != nil {
		return err
	}
	rep.BuildS = time.Since(started).Seconds()
	wh := filepath.Join(home, "warehouse")

	var lists []float64
	for i := 0; i < cfg.repeats; i++ {
		started := time.Now()
		n := 0
		err := filepath.WalkDir(wh, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if _, err := d.Info(); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return err
		}
		lists = append(lists, benchkit.Ms(time.Since(started)))
		rep.Files = n
	}
	rep.ListMs = benchkit.Median(lists)

	var dry []float64
	var plan gcReport
	for i := 0; i < cfg.repeats; i++ {
		out, took, rss, err := tarn("gc", "--dry-run", "--older-than", "0s", "-o", "json")
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(out), &plan); err != nil {
			return fmt.Errorf("gc --dry-run output: %v", err)
		}
		dry = append(dry, benchkit.Ms(took))
		rep.DryRunRSSMB = max(rep.DryRunRSSMB, rss)
	}
	rep.DryRunMs = benchkit.Median(dry)
	rep.DryRunOverLst = rep.DryRunMs / rep.ListMs
	if plan.Files != rep.Files || len(plan.Removed) == 0 || plan.Referenced+len(plan.Removed) > plan.Files {
		return fmt.Errorf("gc --dry-run saw %d files (%d referenced, %d to remove), the listing %d", plan.Files, plan.Referenced, len(plan.Removed), rep.Files)
	}
	rep.Referenced = plan.Referenced

	out, took, rss, err := tarn("gc", "--older-than", "0s", "-o", "json")
	if err != nil {
		return err
	}
	var done gcReport
	if err := json.Unmarshal([]byte(out), &done); err != nil {
		return fmt.Errorf("gc output: %v", err)
	}
	if len(done.Removed) != len(plan.Removed) || len(done.Failed) > 0 {
		return fmt.Errorf("gc removed %d files (failed %v), the dry run said %d", len(done.Removed), done.Failed, len(plan.Removed))
	}
	rep.Removed, rep.CollectMs, rep.CollectRSSMB = len(done.Removed), benchkit.Ms(took), rss

	if _, took, _, err = tarn("verify", "--history"); err != nil {
		return fmt.Errorf("after gc: %w", err)
	}
	rep.VerifyMs = benchkit.Ms(took)
	rows, _, _, err := tarn("query", "select count(*) as n from t0", "-o", "csv")
	if err != nil {
		return err
	}
	if !strings.Contains(rows, fmt.Sprint(cfg.partitions*2)) {
		return fmt.Errorf("t0 after gc: %s, want %d rows", rows, cfg.partitions*2)
	}
	return kit.Report(rep, func(w io.Writer) {
		fmt.Fprintf(w, "host: %s\n", rep.Host)
		fmt.Fprintf(w, "lakehouse of %d files (%d tables of %d partitions, built in %.0f s); %d referenced, %d of a deleted branch\n",
			rep.Files, rep.Tables, cfg.partitions, rep.BuildS, rep.Referenced, rep.Removed)
		fmt.Fprintf(w, "listing (WalkDir + stat): %.0f ms; gc --dry-run: %.0f ms (median of %d), peak RSS %.0f MB: dry run/listing %.2f\n",
			rep.ListMs, rep.DryRunMs, cfg.repeats, rep.DryRunRSSMB, rep.DryRunOverLst)
		fmt.Fprintf(w, "gc removing %d files: %.0f ms, peak RSS %.0f MB; verify --history after: %.0f ms, clean\n",
			rep.Removed, rep.CollectMs, rep.CollectRSSMB, rep.VerifyMs)
	})
}
