package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
)

func (a *app) verifyCommand() *cobra.Command {
	var history bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that every ref resolves and every file a table points at exists",
		Long: `Walk every branch and tag (with --history, every commit reachable from them),
load each table's Iceberg metadata and check that its manifest lists,
manifests and data files exist. Exits 1 when a problem is found.`,
		Example: "  tarn verify\n  tarn verify --history -o json",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			rep, err := a.svc.Tables.Verify(ctx, history)
			if err != nil {
				return err
			}
			if err := a.emit(rep, func(w io.Writer) {
				fmt.Fprintf(w, "checked %d refs, %d commits, %d table versions, %d files\n", rep.Refs, rep.Commits, rep.Tables, rep.Files)
				if rep.ExpiredBefore != nil {
					fmt.Fprintf(w, "skipped %d commits of history before %s, expired by gc (gc.keep_history)\n", rep.Expired, rep.ExpiredBefore.Format(time.RFC3339))
				}
				for _, p := range rep.Problems {
					fmt.Fprintf(w, "problem: %s\n", p)
				}
			}); err != nil {
				return err
			}
			if len(rep.Problems) > 0 {
				return tarn.Errorf(tarn.EINTERNAL, "verify found %d problem(s)", len(rep.Problems))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&history, "history", false, "check every commit, not only the heads of refs")
	return cmd
}
