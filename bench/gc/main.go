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
// With -s3 s3://BUCKET/PREFIX the same runs on a warehouse in a bucket of
// about -s3-files files (the floor is then a ListObjectsV2 listing), and on
// local disk with as many, for the ratio S3 / local.
//
//	go run ./bench/gc [-files 100000] [-partitions 5000] [-repeats 3] [-s3 s3://BUCKET/PREFIX] [-s3-files 10000] [-json]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tarnhq/tarn/bench/internal/benchkit"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
)

var kit = benchkit.New("gc")

type config struct {
	files, partitions, repeats int
	s3Files                    int
	warehouse                  string // s3://BUCKET/PREFIX for the S3 run
	tarn                       *string
}

// report is the figures of one run: a lakehouse on local disk or in a
// bucket.
type report struct {
	Store         string  `json:"store"` // "local" or "s3"
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
	fs.IntVar(&cfg.s3Files, "s3-files", 10000, "about how many files the S3 lakehouse has")
	fs.StringVar(&cfg.warehouse, "s3", "", "also run on this S3 warehouse (s3://BUCKET/PREFIX; the endpoint and keys from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), with -s3-files files, and on local disk with as many")
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

// summary is the whole benchmark's output.
type summary struct {
	Host string    `json:"host"`
	Runs []*report `json:"runs"`
	// S3OverLocal is, at the S3 run's file count, the S3 run's dry-run
	// and collection times over the local run's (0 without -s3).
	S3DryRunOverLocal  float64 `json:"s3_dry_run_over_local,omitempty"`
	S3CollectOverLocal float64 `json:"s3_collect_over_local,omitempty"`
}

func run(ctx context.Context, cfg config) error {
	if cfg.files < 2 || cfg.partitions < 1 || cfg.repeats < 1 || cfg.s3Files < 2 {
		return benchkit.Usagef("-files and -s3-files must be at least 2, -partitions and -repeats at least 1")
	}
	var bucket *s3fetch.Bucket
	if cfg.warehouse != "" {
		u, err := url.Parse(cfg.warehouse)
		if err != nil || u.Scheme != "s3" || u.Host == "" {
			return benchkit.Usagef("-s3 %q: give s3://BUCKET/PREFIX", cfg.warehouse)
		}
		// A fresh prefix per run: the listing must see this run's objects only.
		u.Path = strings.TrimSuffix(u.Path, "/") + fmt.Sprintf("/bench-gc-%d", time.Now().UnixNano())
		cfg.warehouse = u.String()
		bucket, err = s3fetch.OpenBucket(ctx, s3fetch.Config{Endpoint: os.Getenv("AWS_ENDPOINT_URL"), Region: os.Getenv("AWS_REGION"),
			AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}, u.Host, u.Path)
		if err != nil {
			return err
		}
	}
	sum := summary{Host: benchkit.Host()}
	local, err := measure(ctx, cfg, cfg.files, "", nil)
	if err != nil {
		return err
	}
	sum.Runs = append(sum.Runs, local)
	if bucket != nil {
		same := local
		if cfg.s3Files != cfg.files {
			if same, err = measure(ctx, cfg, cfg.s3Files, "", nil); err != nil {
				return err
			}
			sum.Runs = append(sum.Runs, same)
		}
		remote, err := measure(ctx, cfg, cfg.s3Files, cfg.warehouse, bucket)
		if err != nil {
			return err
		}
		sum.Runs = append(sum.Runs, remote)
		sum.S3DryRunOverLocal = remote.DryRunMs / same.DryRunMs
		sum.S3CollectOverLocal = remote.CollectMs / same.CollectMs
	}
	return kit.Report(sum, func(w io.Writer) {
		fmt.Fprintf(w, "host: %s\n", sum.Host)
		for _, rep := range sum.Runs {
			floor := "listing (WalkDir + stat)"
			if rep.Store == "s3" {
				floor = "listing (ListObjectsV2, 1,000 a page)"
			}
			fmt.Fprintf(w, "%s: lakehouse of %d files (%d tables of %d partitions, built in %.0f s); %d referenced, %d of a deleted branch\n",
				rep.Store, rep.Files, rep.Tables, cfg.partitions, rep.BuildS, rep.Referenced, rep.Removed)
			fmt.Fprintf(w, "  %s: %.0f ms; gc --dry-run: %.0f ms (median of %d), peak RSS %.0f MB: dry run/listing %.2f\n",
				floor, rep.ListMs, rep.DryRunMs, cfg.repeats, rep.DryRunRSSMB, rep.DryRunOverLst)
			fmt.Fprintf(w, "  gc removing %d files: %.0f ms, peak RSS %.0f MB; verify --history after: %.0f ms, clean\n",
				rep.Removed, rep.CollectMs, rep.CollectRSSMB, rep.VerifyMs)
		}
		if sum.S3DryRunOverLocal > 0 {
			fmt.Fprintf(w, "S3 / local at %d files: gc --dry-run %.2f×, gc %.2f×\n", cfg.s3Files, sum.S3DryRunOverLocal, sum.S3CollectOverLocal)
		}
	})
}

// measure builds a lakehouse of about files files, on local disk or (with
// warehouse and its bucket) in a bucket, and times the listing, gc's dry
// run and a collection.
func measure(ctx context.Context, cfg config, files int, warehouse string, bucket *s3fetch.Bucket) (*report, error) {
	dir, err := kit.WorkDir("")
	if err != nil {
		return nil, err
	}
	bin, err := kit.Tarn(ctx, *cfg.tarn, dir)
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "home")
	global := []string{"--home", home}
	if warehouse != "" {
		global = append(global, "--warehouse", warehouse)
	}
	tarn := func(args ...string) (string, time.Duration, float64, error) {
		cmd := exec.CommandContext(ctx, bin, append(global, args...)...)
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
	tables := max(2, (files+perTable-1)/perTable)
	rep := &report{Store: "local", Tables: tables}
	if bucket != nil {
		rep.Store = "s3"
	}
	csv := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("id,p,v\n")
	for i := 0; i < cfg.partitions*2; i++ {
		fmt.Fprintf(&b, "%d,%d,v%d\n", i, i%cfg.partitions, i)
	}
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	started := time.Now()
	if _, _, _, err := tarn("branch", "create", "scratch"); err != nil {
		return nil, err
	}
	for i := 0; i < tables; i++ {
		ref := "main"
		if i%2 == 1 {
			ref = "scratch" // deleted below: its tables' files are garbage
		}
		if _, _, _, err := tarn("table", "create", fmt.Sprintf("t%d", i), "--from", csv, "--partition-by", "p", "--ref", ref); err != nil {
			return nil, err
		}
		kit.Logf("%s: table %d of %d (%d partitions) on %s", rep.Store, i+1, tables, cfg.partitions, ref)
	}
	if _, _, _, err := tarn("branch", "rm", "scratch"); err != nil {
		return nil, err
	}
	rep.BuildS = time.Since(started).Seconds()
	list := func() (int, error) { return walk(filepath.Join(home, "warehouse")) }
	if bucket != nil {
		list = func() (int, error) { return listBucket(ctx, bucket) }
		// Object times have whole seconds: what was written in the second
		// a collection starts is young even at --older-than 0s.
		time.Sleep(1100 * time.Millisecond)
	}

	var lists []float64
	for i := 0; i < cfg.repeats; i++ {
		started := time.Now()
		n, err := list()
		if err != nil {
			return nil, err
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
			return nil, err
		}
		if err := json.Unmarshal([]byte(out), &plan); err != nil {
			return nil, fmt.Errorf("gc --dry-run output: %v", err)
		}
		dry = append(dry, benchkit.Ms(took))
		rep.DryRunRSSMB = max(rep.DryRunRSSMB, rss)
	}
	rep.DryRunMs = benchkit.Median(dry)
	rep.DryRunOverLst = rep.DryRunMs / rep.ListMs
	if plan.Files != rep.Files || len(plan.Removed) == 0 || plan.Referenced+len(plan.Removed) > plan.Files {
		return nil, fmt.Errorf("%s: gc --dry-run saw %d files (%d referenced, %d to remove), the listing %d", rep.Store, plan.Files, plan.Referenced, len(plan.Removed), rep.Files)
	}
	rep.Referenced = plan.Referenced

	out, took, rss, err := tarn("gc", "--older-than", "0s", "-o", "json")
	if err != nil {
		return nil, err
	}
	var done gcReport
	if err := json.Unmarshal([]byte(out), &done); err != nil {
		return nil, fmt.Errorf("gc output: %v", err)
	}
	if len(done.Removed) != len(plan.Removed) || len(done.Failed) > 0 {
		return nil, fmt.Errorf("%s: gc removed %d files (failed %v), the dry run said %d", rep.Store, len(done.Removed), done.Failed, len(plan.Removed))
	}
	rep.Removed, rep.CollectMs, rep.CollectRSSMB = len(done.Removed), benchkit.Ms(took), rss

	if _, took, _, err = tarn("verify", "--history"); err != nil {
		return nil, fmt.Errorf("after gc: %w", err)
	}
	rep.VerifyMs = benchkit.Ms(took)
	rows, _, _, err := tarn("query", "select count(*) as n from t0", "-o", "csv")
	if err != nil {
		return nil, err
	}
	if !strings.Contains(rows, fmt.Sprint(cfg.partitions*2)) {
		return nil, fmt.Errorf("%s: t0 after gc: %s, want %d rows", rep.Store, rows, cfg.partitions*2)
	}
	if bucket != nil {
		// The bucket is shared: leave nothing of this run in it.
		objs, err := bucket.List(ctx)
		if err == nil {
			keys := make([]string, len(objs))
			for i, o := range objs {
				keys[i] = o.Key
			}
			bucket.Delete(ctx, keys)
		}
	}
	return rep, nil
}

// walk counts the files under dir, with a stat of each, as a collection
// of a local warehouse must.
func walk(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, err := d.Info(); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// listBucket counts the objects under the warehouse's prefix that gc
// counts (tarn's own state under .tarn/ aside), listed as gc lists them.
func listBucket(ctx context.Context, bucket *s3fetch.Bucket) (int, error) {
	objs, err := bucket.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, ".tarn/") {
			n++
		}
	}
	return n, nil
}
