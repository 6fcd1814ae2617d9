package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
)

func (a *app) gcCommand() *cobra.Command {
	var olderThan, runsOlderThan, keepHistory string
	var dryRun, list bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove files no branch, tag or commit of their history needs",
		Long: `Remove the warehouse's files that no table version of any commit reachable
from a branch or a tag references — data files, manifests, manifest lists and
metadata files of dropped or replaced tables, of deleted branches and of
writes that failed or crashed — once older than --older-than (default 7d,
judged by the file's modification time). A table that only a tag or an old
commit of a branch still reaches stays, and so does every commit's history
unless a retention window is set: ` + "`tarn verify --history`" + ` passes after a
collection. Commits no ref reaches any more (of a deleted branch, or one
moved back) keep their files while younger than --older-than too, judged by
the commit's time: the default keeps everything a ref reaches plus 7 days of
unreachable commits, so ` + "`tarn branch create NAME --from HASH`" + ` brings a
deleted branch back within a week.

Retention: --keep-history D (or gc.keep_history in the home's config.yml;
the flag wins, "all" keeps everything; default: keep everything) expires the
history older than D. Each branch and tag keeps its head, every commit
younger than D and its newest commit older than D (so the state at the
window's start stays readable); the files only expired commits need go
(still past --older-than and never a write in progress's). Reading an
expired commit (tarn query --ref main~500) fails saying the history before
that time was expired by gc; ` + "`tarn verify --history`" + ` skips it.

It is safe while writers run: a write in progress holds a lease (a small file
under the warehouse's .tarn/writes/), and no file younger than the oldest
live lease is removed, whatever --older-than says. Leases of crashed writers
expire after 90 seconds and are removed. Files other engines write through
the Iceberg REST catalog before committing hold no lease: only --older-than
protects them. When a table version cannot be read nothing is removed. Interrupted, a later run finishes the job.

The branches failed runs leave for inspection (run/YYYYMMDD-HHMMSS-xxxxxx;
a successful run deletes its own) are deleted first once the run started
longer ago than --runs-older-than (default 7d); the files only they reached
then go too. ` + "`tarn branch ls`" + ` hides them unless --all.

--dry-run lists what would be removed and how much it frees, removing
nothing. Local and S3 warehouses (s3://BUCKET/PREFIX: the objects under the
prefix are listed, their ages are the server's LastModified, and they are
removed in batches of 1,000). On S3 the multipart uploads that never
completed under the prefix (a writer killed mid-upload leaves its parts
stored and billed, but no object) are aborted too, by the same rule: once
started longer ago than --older-than and before the oldest live write.`,
		Example: `  tarn gc --dry-run
  tarn gc --older-than 1d
  tarn gc --keep-history 30d --dry-run -o json
  tarn gc --older-than 0s --dry-run --list -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			age, err := flagAge("--older-than", olderThan, tarn.DefaultGCAge)
			if err != nil {
				return err
			}
			runAge, err := flagAge("--runs-older-than", runsOlderThan, tarn.DefaultRunBranchAge)
			if err != nil {
				return err
			}
			keep, err := tarn.ParseKeepHistory(keepHistory)
			if err != nil {
				return tarn.Errorf(tarn.EINVALID, "--keep-history: %s", tarn.ErrorMessage(err))
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			gc, ok := a.svc.Tables.(tarn.Collector)
			if !ok {
				return tarn.Errorf(tarn.EINVALID, "this lakehouse's table service cannot collect garbage")
			}
			rep, err := gc.CollectGarbage(ctx, tarn.GCRequest{OlderThan: age, RunsOlderThan: runAge, KeepHistory: keep, DryRun: dryRun})
			if err != nil {
				return err
			}
			if err := a.emit(rep, func(w io.Writer) {
				verb := "removed"
				if rep.DryRun {
					verb = "would remove"
				}
				fmt.Fprintf(w, "%s %d files (%s) of %d (%s); %d referenced by %d commits, %d unreferenced but younger than %s or a write in progress (%d live)\n",
					verb, len(rep.Removed), tarn.FormatBytes(rep.RemovedBytes), rep.Files, tarn.FormatBytes(rep.Bytes),
					rep.Referenced, rep.Commits, rep.Young, rep.OlderThan, rep.LiveWrites)
				if rep.UnreachableCommits > 0 {
					fmt.Fprintf(w, "  kept %d commits no branch or tag reaches (deleted or moved branches), younger than %s\n", rep.UnreachableCommits, rep.OlderThan)
				}
				if rep.HistoryHorizon != nil {
					fmt.Fprintf(w, "  history kept for %s: %d commits before %s %s\n", rep.KeepHistory, rep.ExpiredCommits,
						rep.HistoryHorizon.Format(time.RFC3339), map[bool]string{true: "would be expired", false: "expired"}[rep.DryRun])
				}
				kinds := map[string]int{}
				bytes := map[string]int64{}
				var order []string
				for _, f := range rep.Removed {
					if kinds[f.Kind] == 0 {
						order = append(order, f.Kind)
					}
					kinds[f.Kind]++
					bytes[f.Kind] += f.Bytes
				}
				for _, k := range order {
					fmt.Fprintf(w, "  %-13s %6d files  %s\n", k, kinds[k], tarn.FormatBytes(bytes[k]))
				}
				if list {
					for _, f := range rep.Removed {
						fmt.Fprintf(w, "  %s  %s  %s\n", f.Kind, tarn.FormatBytes(f.Bytes), f.Path)
					}
				}
				if len(rep.Uploads) > 0 {
					var parts int64
					for _, u := range rep.Uploads {
						parts += u.Bytes
					}
					fmt.Fprintf(w, "  %s %d incomplete uploads (%s of parts), started more than %s ago by writers that never finished\n",
						map[bool]string{true: "would abort", false: "aborted"}[rep.DryRun], len(rep.Uploads), tarn.FormatBytes(parts), rep.OlderThan)
					if list {
						for _, u := range rep.Uploads {
							fmt.Fprintf(w, "  upload  %s  %s  (started %s)\n", tarn.FormatBytes(u.Bytes), u.Path, u.Modified.Format(time.RFC3339))
						}
					}
				}
				for _, r := range rep.ExpiredRuns {
					fmt.Fprintf(w, "  %s branch %s (a failed run's, older than %s)\n", map[bool]string{true: "would delete", false: "deleted"}[rep.DryRun], r, tarn.FormatAge(runAge))
				}
				if c := rep.SharedCache; c != nil {
					fmt.Fprintf(w, "shared step cache (.tarn/cache): %d entries, %s of %s (cache.shared_max_size); %s %d entries (%s), oldest first; %d incomplete uploads\n",
						c.Entries, tarn.FormatBytes(c.Bytes), tarn.FormatBytes(c.MaxBytes), verb, c.RemovedEntries, tarn.FormatBytes(c.RemovedBytes), c.Incomplete)
				}
				for _, f := range rep.Failed {
					fmt.Fprintf(w, "could not remove %s\n", f)
				}
				for _, why := range rep.Skipped {
					fmt.Fprintf(w, "not checked: %s\n", why)
				}
			}); err != nil {
				return err
			}
			if len(rep.Failed) > 0 {
				return tarn.Errorf(tarn.EINTERNAL, "gc could not remove %d file(s); run it again", len(rep.Failed))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&olderThan, "older-than", "", "remove unreferenced files older than this (7d, 36h, 90m; default 7d)")
	cmd.Flags().StringVar(&runsOlderThan, "runs-older-than", "", "delete the branches of failed runs (run/...) started longer ago (default 7d)")
	cmd.Flags().StringVar(&keepHistory, "keep-history", "", "expire history older than this (30d; all: keep everything; default gc.keep_history of config.yml, else all)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed; remove nothing")
	cmd.Flags().BoolVar(&list, "list", false, "print every file removed (text output)")
	return cmd
}

// flagAge reads an age flag: def when not given, "0s" as now (1ns: 0 is
// the services' default).
func flagAge(flag, v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := tarn.ParseAge(v)
	if err != nil {
		return 0, tarn.Errorf(tarn.EINVALID, "%s: %s", flag, tarn.ErrorMessage(err))
	}
	if d == 0 {
		d = 1
	}
	return d, nil
}
