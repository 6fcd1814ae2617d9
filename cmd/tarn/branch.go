package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
)

func (a *app) branchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "branch",
		Short: "List, create, delete, rename, merge and compare branches",
		Long: `Branches are movable pointers to commits. Creating one copies no data.
Only branches can be written; main always exists.`,
		Example: `  tarn branch ls
  tarn branch create dev --from main
  tarn branch diff dev
  tarn branch merge dev --into main -m "publish cleaned trips"`,
	}
	cmd.AddCommand(a.branchLs(), a.branchGet(), a.branchCreate(), a.branchRm(), a.branchRename(), a.branchMerge(), a.branchDiff())
	return cmd
}

type refView struct {
	Name    string       `json:"name"`
	Kind    tarn.RefKind `json:"kind"`
	Commit  string       `json:"commit"`
	Active  bool         `json:"active,omitempty"`
	Message string       `json:"message"`
	Time    string       `json:"time"`
}

func (a *app) listRefs(ctx context.Context, kind tarn.RefKind, all bool) error {
	if err := a.open(ctx); err != nil {
		return err
	}
	refs, err := a.svc.Refs.ListRefs(ctx, kind)
	if err != nil {
		return err
	}
	active := a.activeBranch()
	views := []refView{}
	commits := map[string]*tarn.Commit{}
	hidden := 0
	for _, r := range refs {
		if kind == tarn.KindBranch && !all && strings.HasPrefix(r.Name, "run/") && r.Name != active {
			hidden++ // a failed run's, kept for inspection
			continue
		}
		c, err := a.svc.Refs.GetCommit(ctx, r.Commit)
		if err != nil {
			return err
		}
		commits[r.Commit] = c
		views = append(views, refView{Name: r.Name, Kind: r.Kind, Commit: r.Commit, Active: kind == tarn.KindBranch && r.Name == active,
			Message: c.Message, Time: c.Time.Format("2006-01-02T15:04:05Z07:00")})
	}
	return a.emit(views, func(w io.Writer) {
		t := newTable(w, " ", strings.ToUpper(string(kind)), "COMMIT", "UPDATED", "MESSAGE")
		for _, v := range views {
			mark := " "
			if v.Active {
				mark = "*"
			}
			t.row(mark, v.Name, tarn.ShortHash(v.Commit), ago(commits[v.Commit].Time), firstLine(v.Message))
		}
		t.flush()
		if hidden > 0 {
			fmt.Fprintf(w, "(%d run branches of failed runs not shown: --all lists them; `tarn gc` deletes those older than 7 days)\n", hidden)
		}
	})
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 72 {
		line = line[:69] + "..."
	}
	return line
}

func (a *app) branchLs() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use: "ls", Aliases: []string{"list"},
		Short: "List branches (* marks the active one)",
		Long: `List branches. The branches that failed runs keep for inspection (run/...)
are not listed unless --all.`,
		Example: "  tarn branch ls\n  tarn branch ls --all -o json",
		Args:    exactArgs(),
		RunE:    func(cmd *cobra.Command, args []string) error { return a.listRefs(cmd.Context(), tarn.KindBranch, all) },
	}
	cmd.Flags().BoolVar(&all, "all", false, "also list the run branches of failed runs (run/...)")
	return cmd
}

func (a *app) createRef(ctx context.Context, kind tarn.RefKind, name, from string, ifNotExists bool) error {
	if err := a.open(ctx); err != nil {
		return err
	}
	ref, err := a.svc.Refs.CreateRef(ctx, kind, name, from)
	existed := false
	if tarn.IsCode(err, tarn.EEXISTS) && ifNotExists {
		if ref, err = a.svc.Refs.GetRef(ctx, name); err == nil && ref.Kind != kind {
			err = tarn.Errorf(tarn.EEXISTS, "%q already exists as a %s", name, ref.Kind).About(string(ref.Kind))
		}
		existed = true
	}
	if err != nil {
		return err
	}
	return a.emit(map[string]any{"name": ref.Name, "kind": ref.Kind, "commit": ref.Commit, "existed": existed}, func(w io.Writer) {
		if existed {
			fmt.Fprintf(w, "%s %s already exists at %s\n", kind, name, tarn.ShortHash(ref.Commit))
			return
		}
		fmt.Fprintf(w, "created %s %s at %s (from %s)\n", kind, name, tarn.ShortHash(ref.Commit), from)
	})
}

// refDetail is a branch or tag with its head commit.
type refDetail struct {
	tarn.Ref
	Head   *tarn.Commit `json:"head"`
	Active bool         `json:"active,omitempty"`
}

func (a *app) branchGet() *cobra.Command {
	return &cobra.Command{
		Use: "get NAME", Aliases: []string{"show"},
		Short:   "Show a branch: its head commit, author, time and message",
		Example: "  tarn branch get main\n  tarn branch get alice.dev -o json",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.showRef(cmd.Context(), tarn.KindBranch, args[0])
		},
	}
}

// showRef prints one ref of kind and its head.
func (a *app) showRef(ctx context.Context, kind tarn.RefKind, name string) error {
	if err := a.open(ctx); err != nil {
		return err
	}
	ref, err := a.svc.Refs.GetRef(ctx, name)
	if err == nil && ref.Kind != kind {
		err = tarn.Errorf(tarn.ENOTFOUND, "%q is a %s, not a %s", name, ref.Kind, kind).About(string(kind))
	}
	if err != nil {
		return err
	}
	head, err := a.svc.Refs.GetCommit(ctx, ref.Commit)
	if err != nil {
		return err
	}
	d := refDetail{Ref: *ref, Head: head, Active: kind == tarn.KindBranch && a.activeBranch() == name}
	return a.emit(d, func(w io.Writer) {
		active := ""
		if d.Active {
			active = " (active)"
		}
		fmt.Fprintf(w, "%s %s%s\ncommit %s\nAuthor: %s\nDate:   %s (%s)\n\n    %s\n", kind, name, active, head.Hash, head.Author,
			head.Time.Local().Format("2006-01-02 15:04:05 -0700"), ago(head.Time), strings.ReplaceAll(head.Message, "\n", "\n    "))
	})
}

func (a *app) branchCreate() *cobra.Command {
	var from string
	var ifNotExists bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a branch (O(1): no data is copied)",
		Example: `  tarn branch create dev
  tarn branch create fix --from v1
  tarn branch create yesterday --from "main@{2026-05-19T00:00:00Z}"`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.createRef(cmd.Context(), tarn.KindBranch, args[0], a.ref(from), ifNotExists)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "ref to branch from (default: the active branch)")
	cmd.Flags().BoolVar(&ifNotExists, "if-not-exists", false, "succeed if the branch exists already")
	return cmd
}

func (a *app) branchRm() *cobra.Command {
	return &cobra.Command{
		Use: "rm NAME", Aliases: []string{"delete"},
		Short:   "Delete a branch (not main, not the active branch)",
		Example: "  tarn branch rm dev",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			name := args[0]
			if name == a.activeBranch() && name != tarn.DefaultBranch {
				return tarn.Errorf(tarn.EINVALID, "branch %q is the active branch: `tarn checkout main` first", name)
			}
			if err := a.svc.Refs.DeleteRef(ctx, tarn.KindBranch, name); err != nil {
				return err
			}
			return a.emit(map[string]any{"deleted": name}, func(w io.Writer) { fmt.Fprintf(w, "deleted branch %s\n", name) })
		},
	}
}

func (a *app) branchRename() *cobra.Command {
	return &cobra.Command{
		Use: "rename OLD NEW", Aliases: []string{"mv"},
		Short:   "Rename a branch",
		Example: "  tarn branch rename dev alice.dev",
		Args:    exactArgs("OLD", "NEW"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			ref, err := a.svc.Refs.RenameBranch(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			if a.activeBranch() == args[0] {
				if err := a.setActiveBranch(args[1]); err != nil {
					return err
				}
			}
			return a.emit(ref, func(w io.Writer) { fmt.Fprintf(w, "renamed branch %s to %s\n", args[0], args[1]) })
		},
	}
}

func (a *app) branchMerge() *cobra.Command {
	var into, message string
	var noFF, dryRun bool
	cmd := &cobra.Command{
		Use:   "merge SOURCE",
		Short: "Merge a ref into a branch (three-way at table level)",
		Long: `Merge SOURCE into a branch (default: the active branch). Tables changed only
on SOURCE since the merge base are taken from SOURCE. A table both sides only
appended to (and whose schemas both evolved compatibly: new columns, int to
long, float to double) is combined: one new snapshot on the target adds the
source's new files, no data is rewritten. A table changed otherwise on both
sides (replaced, overwritten, rows deleted, reverted, dropped, a column clash)
is a conflict naming what each side did, and nothing is written. When the
target has not moved since the merge base the merge is a fast-forward.

--dry-run (or --plan) shows what the merge would do with each table and
writes nothing; it exits 0 even when the plan has conflicts.`,
		Example: `  tarn branch merge dev
  tarn branch merge dev --dry-run
  tarn branch merge dev --into main -m "publish dev"
  tarn branch merge v1 --into hotfix --no-ff`,
		Args: exactArgs("SOURCE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			target := a.ref(into)
			res, err := a.svc.Refs.Merge(ctx, tarn.MergeRequest{Source: args[0], Into: target, Info: a.commitInfo(message), NoFastForward: noFF, DryRun: dryRun})
			if err != nil {
				return err
			}
			return a.emit(res, func(w io.Writer) {
				switch {
				case res.DryRun:
					fmt.Fprintf(w, "merge plan of %s into %s (nothing written): %d tables, %d conflicts\n", args[0], target, len(res.Plan), res.Conflicts)
					printPlan(w, res.Plan)
					return
				case res.UpToDate:
					fmt.Fprintf(w, "%s is already up to date with %s\n", target, args[0])
				case res.FastForward:
					fmt.Fprintf(w, "fast-forwarded %s to %s (%d tables changed)\n", target, res.Commit.ShortHash(), len(res.Changes))
				default:
					fmt.Fprintf(w, "merged %s into %s: commit %s (%d tables changed)\n", args[0], target, res.Commit.ShortHash(), len(res.Changes))
				}
				printChanges(w, res.Changes)
				for _, it := range res.Plan {
					if it.Action == tarn.MergeCombine {
						fmt.Fprintf(w, "  combined %s: %s: %s; %s: %s\n", it.Key, args[0], it.Source, target, it.Target)
					}
				}
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what the merge would do per table; write nothing")
	cmd.Flags().BoolVar(&dryRun, "plan", false, "same as --dry-run")
	cmd.Flags().StringVar(&into, "into", "", "branch to merge into (default: the active branch)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "commit message")
	cmd.Flags().BoolVar(&noFF, "no-ff", false, "always create a merge commit")
	return cmd
}

// printPlan prints what a merge does with each key.
func printPlan(w io.Writer, plan []tarn.MergeItem) {
	if len(plan) == 0 {
		return
	}
	t := newTable(w, "  ACTION", "NAME", "SOURCE", "TARGET", "REASON")
	for _, it := range plan {
		t.row("  "+it.Action, it.Key, it.Source, it.Target, it.Reason)
	}
	t.flush()
}

type diffView struct {
	From    string       `json:"from"`
	To      string       `json:"to"`
	Base    string       `json:"base,omitempty"`
	Changes []changeView `json:"changes"`
	Merge   *mergeView   `json:"merge,omitempty"`
}

// mergeView is what `tarn branch diff` shows of a merge's dry run.
type mergeView struct {
	Source      string           `json:"source"`
	Into        string           `json:"into"`
	FastForward bool             `json:"fast_forward"`
	UpToDate    bool             `json:"up_to_date"`
	Conflicts   int              `json:"conflicts"`
	Plan        []tarn.MergeItem `json:"plan"`
}

// mergePlan is the dry run of the merge `tarn branch diff args` shows: of
// REF into the active branch (main when REF is the active branch), or of
// REF2 into REF when REF is a branch (nil when it is not).
func (a *app) mergePlan(ctx context.Context, args []string) (*mergeView, error) {
	var source, into string
	if len(args) == 1 {
		source, into = args[0], a.activeBranch()
		if source == into {
			into = tarn.DefaultBranch
		}
	} else {
		source, into = args[1], args[0]
		ref, err := a.svc.Refs.GetRef(ctx, into)
		if tarn.ErrorCode(err) == tarn.ENOTFOUND || (err == nil && ref.Kind != tarn.KindBranch) {
			return nil, nil // a tag, a commit, an expression: nothing merges into it
		} else if err != nil {
			return nil, err
		}
	}
	if source == into {
		return nil, nil
	}
	res, err := a.svc.Refs.Merge(ctx, tarn.MergeRequest{Source: source, Into: into, DryRun: true})
	if err != nil {
		return nil, err
	}
	return &mergeView{Source: source, Into: into, FastForward: res.FastForward, UpToDate: res.UpToDate, Conflicts: res.Conflicts, Plan: res.Plan}, nil
}

type changeView struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	Change       string `json:"change"`
	RowsBefore   int64  `json:"rows_before"`
	RowsAfter    int64  `json:"rows_after"`
	SnapshotFrom int64  `json:"snapshot_before,omitempty"`
	SnapshotTo   int64  `json:"snapshot_after,omitempty"`
}

func changeViews(changes []tarn.Change) []changeView {
	out := []changeView{}
	for _, ch := range changes {
		v := changeView{Name: ch.Key, Change: ch.Kind}
		if ch.Old != nil {
			v.Kind, v.RowsBefore, v.SnapshotFrom = string(ch.Old.Kind), ch.Old.Rows, ch.Old.Snapshot
		}
		if ch.New != nil {
			v.Kind, v.RowsAfter, v.SnapshotTo = string(ch.New.Kind), ch.New.Rows, ch.New.Snapshot
		}
		out = append(out, v)
	}
	return out
}

func printChanges(w io.Writer, changes []tarn.Change) {
	if len(changes) == 0 {
		return
	}
	t := newTable(w, "  CHANGE", "NAME", "KIND", "ROWS", "SNAPSHOT")
	for _, v := range changeViews(changes) {
		rows := ""
		snap := ""
		if v.Kind == string(tarn.EntryTable) {
			switch v.Change {
			case tarn.ChangeAdded:
				rows, snap = count(v.RowsAfter), fmt.Sprint(v.SnapshotTo)
			case tarn.ChangeRemoved:
				rows, snap = "-"+count(v.RowsBefore), fmt.Sprint(v.SnapshotFrom)
			default:
				rows = fmt.Sprintf("%s -> %s (%+d)", count(v.RowsBefore), count(v.RowsAfter), v.RowsAfter-v.RowsBefore)
				snap = fmt.Sprintf("%d -> %d", v.SnapshotFrom, v.SnapshotTo)
			}
		}
		sign := map[string]string{tarn.ChangeAdded: "+", tarn.ChangeRemoved: "-", tarn.ChangeChanged: "~"}[v.Change]
		t.row("  "+sign+" "+v.Change, v.Name, v.Kind, rows, snap)
	}
	t.flush()
}

func (a *app) branchDiff() *cobra.Command {
	return &cobra.Command{
		Use:   "diff REF [REF2]",
		Short: "Show tables added, removed and changed",
		Long: `With one ref: what REF changed since it diverged from the active branch
(from their merge base to REF) — what a merge of REF would bring. When REF is
the active branch, it is compared with main.
With two refs: the changes from REF to REF2.

Then the merge plan, per table, of what ` + "`tarn branch merge`" + ` would do (nothing
is written): of REF into the active branch (one ref), of REF2 into REF when
REF is a branch (two refs). Each table the source changed since the merge
base is taken (changed on the source only), same (both made the same
change), combine (both only appended: one snapshot holds both sides' files)
or conflict, with what each side did and why ("dev replaced the table; main
appended 3 files (30 rows)"). In JSON it is "merge" (absent when REF is no
branch).`,
		Example: `  tarn branch diff dev
  tarn branch diff main dev -o json     # dev's changes and the plan of merging dev into main
  tarn branch diff main~3 main
  tarn branch diff v1 v2 -o json`,
		Args: rangeArgs(1, 2, "REF [REF2]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			view := diffView{}
			var from, to *tarn.Commit
			var err error
			if len(args) == 2 {
				view.From, view.To = args[0], args[1]
				if from, err = a.svc.Refs.Resolve(ctx, args[0]); err != nil {
					return err
				}
				if to, err = a.svc.Refs.Resolve(ctx, args[1]); err != nil {
					return err
				}
			} else {
				active := a.activeBranch()
				if args[0] == active {
					active = tarn.DefaultBranch // diff the active branch against main
				}
				if to, err = a.svc.Refs.Resolve(ctx, args[0]); err != nil {
					return err
				}
				cur, err := a.svc.Refs.Resolve(ctx, active)
				if err != nil {
					return err
				}
				if from, err = a.svc.Refs.MergeBase(ctx, cur.Hash, to.Hash); err != nil {
					return err
				}
				if from == nil {
					from = cur
				}
				view.From, view.To, view.Base = "merge-base("+active+", "+args[0]+")", args[0], from.Hash
			}
			changes, err := a.svc.Refs.Diff(ctx, from.Hash, to.Hash)
			if err != nil {
				return err
			}
			view.Changes = changeViews(changes)
			if view.Merge, err = a.mergePlan(ctx, args); err != nil {
				return err
			}
			return a.emit(view, func(w io.Writer) {
				fmt.Fprintf(w, "%s (%s) -> %s (%s): %d change(s)\n", view.From, from.ShortHash(), view.To, to.ShortHash(), len(changes))
				printChanges(w, changes)
				if m := view.Merge; m != nil {
					switch {
					case m.UpToDate:
						fmt.Fprintf(w, "merge of %s into %s: already up to date\n", m.Source, m.Into)
					default:
						how := ""
						if m.FastForward {
							how = ", a fast-forward"
						}
						fmt.Fprintf(w, "merge plan of %s into %s%s: %d tables, %d conflicts\n", m.Source, m.Into, how, len(m.Plan), m.Conflicts)
						printPlan(w, m.Plan)
					}
				}
			})
		},
	}
}

func (a *app) tagCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tag",
		Short:   "List, create and delete tags (fixed names for commits)",
		Example: "  tarn tag create v1\n  tarn tag create before-fix --ref main~2\n  tarn tag ls",
	}
	var ref string
	var ifNotExists bool
	create := &cobra.Command{
		Use: "create NAME", Short: "Tag a commit (default: the active branch's head)",
		Example: "  tarn tag create v1\n  tarn tag create audit-2026 --ref \"main@{2026-01-01T00:00:00Z}\"",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.createRef(cmd.Context(), tarn.KindTag, args[0], a.ref(ref), ifNotExists)
		},
	}
	create.Flags().StringVar(&ref, "ref", "", "ref to tag (default: the active branch)")
	create.Flags().BoolVar(&ifNotExists, "if-not-exists", false, "succeed if the tag exists already")
	rename := &cobra.Command{
		Use: "rename OLD NEW", Aliases: []string{"mv"}, Short: "Rename a tag (it keeps its commit)",
		Example: "  tarn tag rename v1 release-1", Args: exactArgs("OLD", "NEW"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			old, err := a.svc.Refs.GetRef(ctx, args[0])
			if err == nil && old.Kind != tarn.KindTag {
				err = tarn.Errorf(tarn.EINVALID, "%q is a %s: `tarn branch rename` renames branches", args[0], old.Kind)
			}
			if err != nil {
				return err
			}
			ref, err := a.svc.Refs.RenameTag(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			return a.emit(ref, func(w io.Writer) {
				fmt.Fprintf(w, "renamed tag %s to %s (%s)\n", args[0], args[1], tarn.ShortHash(ref.Commit))
			})
		},
	}
	get := &cobra.Command{
		Use: "get NAME", Aliases: []string{"show"}, Short: "Show a tag and the commit it names",
		Example: "  tarn tag get v1", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error { return a.showRef(cmd.Context(), tarn.KindTag, args[0]) },
	}
	cmd.AddCommand(&cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List tags", Example: "  tarn tag ls -o json", Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error { return a.listRefs(cmd.Context(), tarn.KindTag, true) },
	}, create, get, rename, &cobra.Command{
		Use: "rm NAME", Aliases: []string{"delete"}, Short: "Delete a tag", Example: "  tarn tag rm v1", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			if err := a.svc.Refs.DeleteRef(ctx, tarn.KindTag, args[0]); err != nil {
				return err
			}
			return a.emit(map[string]any{"deleted": args[0]}, func(w io.Writer) { fmt.Fprintf(w, "deleted tag %s\n", args[0]) })
		},
	})
	return cmd
}
