package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
)

func (a *app) namespaceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use: "namespace", Aliases: []string{"ns"},
		Short: "List, create and delete namespaces (versioned like tables)",
		Long: `Namespaces group tables: a table is NAMESPACE.NAME, and a bare NAME is in the
default namespace "tarn". Namespaces live on branches like tables do.`,
		Example: "  tarn namespace create staging\n  tarn namespace ls\n  tarn namespace rm staging --force",
	}
	var lsRef string
	ls := &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List namespaces and their table counts",
		Example: "  tarn namespace ls --ref v1", Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			list, err := a.svc.Tables.ListNamespaces(ctx, a.ref(lsRef))
			if err != nil {
				return err
			}
			return a.emit(list, func(w io.Writer) {
				t := newTable(w, "NAMESPACE", "TABLES")
				for _, ns := range list {
					t.row(ns.Name, ns.Tables)
				}
				t.flush()
			})
		},
	}
	ls.Flags().StringVar(&lsRef, "ref", "", "ref to list (default: the active branch)")

	var createRef string
	var ifNotExists bool
	create := &cobra.Command{
		Use: "create NS", Short: "Create a namespace on a branch",
		Example: "  tarn namespace create staging\n  tarn namespace create staging --ref dev --if-not-exists", Args: exactArgs("NS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			branch := a.ref(createRef)
			commit, err := a.svc.Tables.CreateNamespace(ctx, branch, args[0], a.commitInfo(""))
			if tarn.IsCode(err, tarn.EEXISTS) && ifNotExists {
				return a.emit(map[string]any{"namespace": args[0], "existed": true}, func(w io.Writer) {
					fmt.Fprintf(w, "namespace %s already exists on %s\n", args[0], branch)
				})
			}
			if err != nil {
				return err
			}
			return a.emit(map[string]any{"namespace": args[0], "branch": branch, "commit": commit}, func(w io.Writer) {
				fmt.Fprintf(w, "created namespace %s on %s (commit %s)\n", args[0], branch, commit.ShortHash())
			})
		},
	}
	create.Flags().StringVar(&createRef, "ref", "", "branch to write (default: the active branch)")
	create.Flags().BoolVar(&ifNotExists, "if-not-exists", false, "succeed if the namespace exists already")

	var rmRef string
	var force bool
	rm := &cobra.Command{
		Use: "rm NS", Aliases: []string{"delete"}, Short: "Delete a namespace (refused when it has tables, unless --force)",
		Example: "  tarn namespace rm staging\n  tarn namespace rm staging --force", Args: exactArgs("NS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			branch := a.ref(rmRef)
			commit, err := a.svc.Tables.DropNamespace(ctx, branch, args[0], force, a.commitInfo(""))
			if err != nil {
				return err
			}
			return a.emit(map[string]any{"deleted": args[0], "branch": branch, "commit": commit}, func(w io.Writer) {
				fmt.Fprintf(w, "deleted namespace %s on %s (commit %s)\n", args[0], branch, commit.ShortHash())
			})
		},
	}
	rm.Flags().StringVar(&rmRef, "ref", "", "branch to write (default: the active branch)")
	rm.Flags().BoolVar(&force, "force", false, "also delete the namespace's tables")
	cmd.AddCommand(ls, create, rm)
	return cmd
}
