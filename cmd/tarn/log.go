package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/table"
)

func (a *app) logCommand() *cobra.Command {
	var ref string
	var limit int
	cmd := &cobra.Command{
		Use:     "log",
		Aliases: []string{"commit", "commits"},
		Short:   "Show the commit history of a ref (also: tarn commit)",
		Example: `  tarn log
  tarn log --ref dev -n 5
  tarn log --ref "main@{2026-05-19T06:00:00Z}" -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			commits, err := a.svc.Refs.Log(ctx, a.ref(ref), limit)
			if err != nil {
				return err
			}
			return a.emit(commits, func(w io.Writer) {
				for i, c := range commits {
					if i > 0 {
						fmt.Fprintln(w)
					}
					fmt.Fprintf(w, "commit %s\n", c.Hash)
					if len(c.Parents) > 1 {
						short := make([]string, len(c.Parents))
						for j, p := range c.Parents {
							short[j] = tarn.ShortHash(p)
						}
						fmt.Fprintf(w, "Merge:  %s\n", strings.Join(short, " "))
					}
					fmt.Fprintf(w, "Author: %s\n", c.Author)
					fmt.Fprintf(w, "Date:   %s (%s)\n", c.Time.Local().Format("2006-01-02 15:04:05 -0700"), ago(c.Time))
					keys := make([]string, 0, len(c.Properties))
					for k := range c.Properties {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						fmt.Fprintf(w, "        %s=%s\n", k, c.Properties[k])
					}
					fmt.Fprintf(w, "\n    %s\n", strings.ReplaceAll(c.Message, "\n", "\n    "))
				}
			})
		},
	}
	cmd.Flags().StringVar(&ref, "ref", "", "ref whose history to show (default: the active branch)")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "show at most N commits (0: all)")
	return cmd
}

func (a *app) checkoutCommand() *cobra.Command {
	var create bool
	var from string
	cmd := &cobra.Command{
		Use:   "checkout BRANCH",
		Short: "Set the active branch (the default for every --ref); -b creates it first",
		Example: `  tarn checkout dev
  tarn checkout -b alice.fix --from v1
  tarn checkout main`,
		Args: exactArgs("BRANCH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			if create {
				if _, err := a.svc.Refs.CreateRef(ctx, tarn.KindBranch, args[0], a.ref(from)); err != nil {
					return err
				}
			} else if from != "" {
				return &usageError{"--from is for -b (create the branch and check it out)"}
			}
			head, err := a.svc.Refs.BranchHead(ctx, args[0])
			if err != nil {
				if tarn.IsCode(err, tarn.EINVALID) {
					return tarn.Errorf(tarn.EINVALID, "cannot check out %q: only branches can be checked out (create one with `tarn checkout -b NAME --from %s`)", args[0], args[0])
				}
				if tarn.IsCode(err, tarn.ENOTFOUND) {
					return tarn.Errorf(tarn.ENOTFOUND, "%v: `tarn checkout -b %s` creates it", err, args[0])
				}
				return err
			}
			if err := a.setActiveBranch(args[0]); err != nil {
				return err
			}
			return a.emit(map[string]any{"active_branch": args[0], "commit": head.Hash, "created": create}, func(w io.Writer) {
				if create {
					fmt.Fprintf(w, "created branch %s at %s; it is now the active branch\n", args[0], head.ShortHash())
					return
				}
				fmt.Fprintf(w, "active branch is now %s (at %s)\n", args[0], head.ShortHash())
			})
		},
	}
	cmd.Flags().BoolVarP(&create, "create", "b", false, "create the branch first (from --from, default the active branch)")
	cmd.Flags().StringVar(&from, "from", "", "with -b: the ref to branch from (default: the active branch)")
	return cmd
}

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show the lakehouse home (and where its catalog lives), the active branch and its head",
		Example: "  tarn status\n  tarn status -o json",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			active := a.activeBranch()
			head, err := a.svc.Refs.Resolve(ctx, active)
			if err != nil {
				return err
			}
			tables, _, err := a.svc.Tables.ListTables(ctx, active, "")
			if err != nil {
				return err
			}
			view := map[string]any{"home": a.svc.Location, "mode": a.svc.Mode, "active_branch": active, "head": head, "tables": len(tables)}
			if a.svc.Catalog != "" {
				view["catalog"] = a.svc.Catalog
			}
			if a.svc.Warehouse != "" {
				view["warehouse"] = a.svc.Warehouse
			}
			// The step cache: the home's, with a tier in the bucket that
			// every server shares when the tables are in one.
			stepCache := ""
			if a.svc.Mode != "remote" {
				stepCache = local.Home(a.home).Cache()
				if wh := strings.Fields(a.svc.Warehouse); len(wh) > 0 && table.IsRemote(wh[0]) {
					stepCache += ", shared in " + wh[0] + "/" + table.CacheTierDir
				}
				view["cache"] = stepCache
			}
			return a.emit(view, func(w io.Writer) {
				where := "home:  "
				if a.svc.Mode == "remote" {
					where = "server:"
				}
				fmt.Fprintf(w, "%s  %s (%s)\n", where, a.svc.Location, a.svc.Mode)
				if a.svc.Catalog != "" {
					fmt.Fprintf(w, "catalog: %s\n", a.svc.Catalog)
				}
				if a.svc.Warehouse != "" {
					fmt.Fprintf(w, "data:    %s\n", a.svc.Warehouse)
				}
				if stepCache != "" {
					fmt.Fprintf(w, "cache:   %s\n", stepCache)
				}
				fmt.Fprintf(w, "branch:  %s\nhead:    %s %s (%s, %s)\ntables:  %d\n",
					active, head.ShortHash(), firstLine(head.Message), head.Author, ago(head.Time), len(tables))
			})
		},
	}
}
