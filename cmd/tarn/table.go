package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/table"
)

func (a *app) tableCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use: "table", Aliases: []string{"tables"},
		Short: "Create, import, describe, drop and revert Iceberg tables",
		Long: fmt.Sprintf(`Tables are Apache Iceberg v2 tables. Every write is one commit on a branch.
Names are NAME (in the default namespace "tarn") or NAMESPACE.NAME.
Input files: Parquet (.parquet), CSV (.csv, .tsv) and JSON Lines (.jsonl,
.ndjson, .json); paths, globs and directories.

Column names: up to %d bytes of UTF-8 without control characters, no two
differing only in case (SQL does not tell them apart); at most %d columns,
counting the fields of nested columns.`, tarn.MaxColumnNameLen, tarn.MaxColumns),
		Example: `  tarn table create trips --from "data/trips/*.csv" --partition-by "day(pickup_at)"
  tarn table import trips --from data/more.parquet
  tarn table get trips
  tarn table revert trips --to main~1`,
	}
	cmd.AddCommand(a.tableLs(), a.tableGet(), a.tableCreate(), a.tableImport(), a.tableRm(), a.tableRevert(), a.tableOptimize())
	return cmd
}

func (a *app) tableLs() *cobra.Command {
	var ref, ns string
	cmd := &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List tables at a ref",
		Example: "  tarn table ls\n  tarn table ls --ref v1 --namespace staging -o json", Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			list, commit, err := a.svc.Tables.ListTables(ctx, a.ref(ref), ns)
			if err != nil {
				return err
			}
			return a.emit(list, func(w io.Writer) {
				if len(list) == 0 {
					fmt.Fprintf(w, "no tables at %s (%s); create one with `tarn table create NAME --from FILE`\n", a.ref(ref), commit.ShortHash())
					return
				}
				t := newTable(w, "TABLE", "ROWS", "FILES", "SIZE", "SNAPSHOT")
				for _, s := range list {
					t.row(s.Table, count(s.Rows), s.Files, tarn.FormatBytes(s.Bytes), s.Snapshot)
				}
				t.flush()
			})
		},
	}
	cmd.Flags().StringVar(&ref, "ref", "", "ref to list (default: the active branch)")
	cmd.Flags().StringVar(&ns, "namespace", "", "only this namespace")
	return cmd
}

func (a *app) tableGet() *cobra.Command {
	var ref string
	cmd := &cobra.Command{
		Use: "get TABLE", Aliases: []string{"describe", "show"},
		Short:   "Describe a table: schema, partitioning, snapshot, rows, files, history",
		Example: "  tarn table get trips\n  tarn table get staging.trips --ref v1 -o json", Args: exactArgs("TABLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			ident, err := a.parseTable(args[0])
			if err != nil {
				return err
			}
			info, err := a.svc.Tables.GetTable(ctx, ident, a.ref(ref))
			if err != nil {
				return err
			}
			return a.emit(info, func(w io.Writer) { printTableInfo(w, info) })
		},
	}
	cmd.Flags().StringVar(&ref, "ref", "", "ref to read (default: the active branch)")
	return cmd
}

func printTableInfo(w io.Writer, info *tarn.TableInfo) {
	fmt.Fprintf(w, "table     %s at %s (commit %s)\n", info.Table, info.Ref, tarn.ShortHash(info.Commit))
	fmt.Fprintf(w, "format    Iceberg v%d, uuid %s\n", info.FormatVersion, info.UUID)
	fmt.Fprintf(w, "location  %s\nmetadata  %s\n", info.Location, info.MetadataLocation)
	fmt.Fprintf(w, "rows      %s in %d files, %s\n", count(info.Rows), info.Files, tarn.FormatBytes(info.Bytes))
	if info.Snapshot != nil {
		fmt.Fprintf(w, "snapshot  %d (%s, %s)\n", info.Snapshot.ID, info.Snapshot.Operation, info.Snapshot.Time.Format(time.RFC3339))
	} else {
		fmt.Fprintln(w, "snapshot  none (empty table)")
	}
	fmt.Fprintln(w, "\nschema")
	t := newTable(w, "  ID", "COLUMN", "TYPE", "NULLABLE")
	for _, c := range info.Schema {
		t.row(fmt.Sprintf("  %d", c.ID), c.Name, c.Type, !c.Required)
	}
	t.flush()
	if len(info.Partition) > 0 {
		fmt.Fprintln(w, "\npartition spec")
		t := newTable(w, "  FIELD", "TRANSFORM", "SOURCE")
		for _, p := range info.Partition {
			t.row("  "+p.Name, p.Transform, p.Source)
		}
		t.flush()
	} else {
		fmt.Fprintln(w, "\npartition spec: unpartitioned")
	}
	if len(info.History) > 0 {
		fmt.Fprintln(w, "\nsnapshots")
		t := newTable(w, "  SNAPSHOT", "TIME", "OPERATION", "ADDED ROWS", "TOTAL ROWS")
		for _, s := range info.History {
			mark := "  "
			if s.Current {
				mark = "* "
			}
			t.row(fmt.Sprintf("%s%d", mark, s.ID), s.Time.Format(time.RFC3339), s.Operation, count(s.Added), count(s.Rows))
		}
		t.flush()
	}
	if len(info.DataFiles) > 0 {
		fmt.Fprintln(w, "\ndata files")
		t := newTable(w, "  PATH", "ROWS", "SIZE")
		shown := info.DataFiles
		if len(shown) > 20 {
			shown = shown[:20]
		}
		for _, f := range shown {
			t.row("  "+f.Path, count(f.Rows), tarn.FormatBytes(f.Bytes))
		}
		t.flush()
		if len(info.DataFiles) > 20 {
			fmt.Fprintf(w, "  ... and %d more (all of them with -o json)\n", len(info.DataFiles)-20)
		}
	}
}

func (a *app) printWrite(res *tarn.WriteResult, verb string, started time.Time) error {
	return a.emit(res, func(w io.Writer) {
		if res.Existed {
			fmt.Fprintf(w, "table %s already exists on %s; nothing written\n", res.Table, res.Branch)
			return
		}
		for _, ch := range res.Evolved {
			fmt.Fprintf(w, "schema: %s\n", ch)
		}
		rows := int64(0)
		if res.Entry != nil {
			rows = res.Entry.Rows
		}
		fmt.Fprintf(w, "%s %s on %s: %s rows added, %s total (commit %s, %.1fs)\n", verb, res.Table, res.Branch,
			count(res.Added), count(rows), res.Commit.ShortHash(), time.Since(started).Seconds())
	})
}

func (a *app) tableCreate() *cobra.Command {
	var from []string
	var partitionBy, ref, applyFile, message string
	var replace, ifNotExists, plan, showProgress bool
	var inferRows int
	cmd := &cobra.Command{
		Use:   "create TABLE --from PATH...",
		Short: "Create a table from Parquet, CSV or JSON Lines files (schema inferred)",
		Long: `Create a table with a schema inferred from the files, and import them, in one
commit. --plan prints the inferred schema as YAML without writing; edit it and
create the table with --apply FILE.

Column types are inferred from the first --infer-rows rows of each CSV and
JSON Lines file (Parquet files by their footer). A later value that does not
fit, or a JSON key first seen later, is an error naming the file, line and
column, and nothing is written: infer from more rows (--infer-rows 0 reads them all) or
set the column's type in a plan (--plan, edit, --apply).

Unpartitioned tables on local disk are written by embedded DuckDB on all
cores; partitioned tables and s3:// warehouses by tarn's own writer. JSON
Lines files are read twice: once for their keys (a key not in the table's
columns is an error naming file and line), once to write. Imports running
at the same time in one process share one DuckDB (one memory limit).

Partition transforms: col, year(col), month(col), day(col), hour(col),
bucket(N, col), truncate(W, col).

` + objectInputHelp,
		Example: `  tarn table create trips --from data/trips.csv
  tarn table create staging.events --from "logs/*.jsonl" --partition-by "day(ts), region"
  tarn table create trips --from data/ --plan > trips.yaml
  tarn table create trips --apply trips.yaml
  tarn table create lineitem --from "s3://raw-data/tpch/lineitem/*.parquet"`,
		Args: exactArgs("TABLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			started := time.Now()
			ident, err := a.parseTable(args[0])
			if err != nil {
				return err
			}
			if replace && ifNotExists {
				return &usageError{"--replace and --if-not-exists contradict each other"}
			}
			var columns []tarn.ColumnSpec
			if applyFile != "" {
				data, err := os.ReadFile(applyFile)
				if err != nil {
					return tarn.Errorf(tarn.EINVALID, "read plan: %v", err)
				}
				planFrom, planPartition, cols, err := table.ParsePlanFile(applyFile, data)
				if err != nil {
					return err
				}
				if len(from) == 0 {
					from = planFrom
				}
				if partitionBy == "" {
					partitionBy = planPartition
				}
				columns = cols
			}
			if len(from) == 0 {
				return &usageError{"--from is required: give files, globs or directories of Parquet, CSV or JSON Lines"}
			}
			if plan {
				p, err := a.planFiles(ctx, tarn.CreateTableRequest{Table: ident, Branch: a.ref(ref), From: from, PartitionBy: partitionBy,
					InferRows: inferRowsArg(inferRows)})
				if err != nil {
					return err
				}
				if a.output == "json" {
					return writeJSON(a.stdout, p)
				}
				out, err := p.Marshal()
				if err != nil {
					return err
				}
				_, err = a.stdout.Write(out)
				return err
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			req := tarn.CreateTableRequest{Table: ident, Branch: a.ref(ref), From: from, Columns: columns, PartitionBy: partitionBy,
				InferRows: inferRowsArg(inferRows), Replace: replace, IfNotExists: ifNotExists, Info: a.commitInfo(message)}
			a.progress("writing %s on %s ...", ident, req.Branch)
			res, err := a.svc.Tables.CreateTable(a.importProgress(ctx, showProgress), req)
			if err != nil {
				return err
			}
			verb := "created"
			if replace {
				verb = "created (replacing)"
			}
			return a.printWrite(res, verb, started)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&from, "from", nil, "input files, globs or directories, or s3:// objects (repeatable)")
	f.StringVar(&partitionBy, "partition-by", "", `partition spec, e.g. "day(ts), region"`)
	f.StringVar(&ref, "ref", "", "branch to write (default: the active branch)")
	f.BoolVar(&replace, "replace", false, "replace the table if it exists (same commit)")
	f.BoolVar(&ifNotExists, "if-not-exists", false, "do nothing if the table exists")
	f.BoolVar(&plan, "plan", false, "print the inferred schema as YAML and write nothing")
	f.StringVar(&applyFile, "apply", "", "create from an edited plan file")
	f.StringVarP(&message, "message", "m", "", "commit message")
	f.IntVar(&inferRows, "infer-rows", ingest.DefaultSampleRows, "rows of each CSV or JSON Lines file to infer column types from (0: all)")
	f.BoolVar(&showProgress, "progress", false, "report progress on stderr even when it is not a terminal")
	return cmd
}

// inferRowsArg maps --infer-rows (0: all) to a request's InferRows (-1: all).
func inferRowsArg(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// importProgress reports an embedded import's progress on stderr about
// once a second: on a terminal, or always with --progress (even with
// -o json, whose result goes to stdout).
func (a *app) importProgress(ctx context.Context, force bool) context.Context {
	if !force {
		f, ok := a.stderr.(*os.File)
		if !ok || a.output == "json" {
			return ctx
		}
		if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
			return ctx
		}
	}
	return table.WithProgress(ctx, func(p table.Progress) {
		rate := float64(p.Written) / max(p.Elapsed.Seconds(), 0.001)
		fmt.Fprintf(a.stderr, "importing %s: %s written from %s of input, %.0fs, %s/s\n",
			p.Table, tarn.FormatBytes(p.Written), tarn.FormatBytes(p.Total), p.Elapsed.Seconds(), tarn.FormatBytes(int64(rate)))
	})
}

// objectInputHelp explains --from s3://... for create and import.
const objectInputHelp = `Files already in a bucket are named by URL: s3://BUCKET/KEY (one object),
s3://BUCKET/PREFIX/ (the objects directly in that folder) or a glob such as
s3://BUCKET/PATH/*.parquet (matched against the keys listed under PATH; * does
not cross a /). They are read with the standard AWS settings (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION or ~/.aws; AWS_ENDPOINT_URL for an
S3-compatible server, addressed path-style) of the process that reads them: the
CLI on a local home, the server with --endpoint (the client sends the URL, not the
bytes; a server reads only the prefixes its operator allows: tarn serve
--import-from). They are copied: the table's data files are its own, written into the
warehouse, so that tarn gc, a removed table or a changed object never touch one
another. Nothing matching, a missing bucket or refused credentials are errors
naming the bucket and the endpoint, and nothing is written.`

func (a *app) tableImport() *cobra.Command {
	var from []string
	var ref, message string
	var inferRows int
	var showProgress bool
	cmd := &cobra.Command{
		Use:   "import TABLE --from PATH...",
		Short: "Append files to a table (one commit; compatible schema changes evolve the table)",
		Long: `Append the rows of the files to an existing table in one commit. A new column
is added as a nullable column; int->long and float->double are widened; any
other mismatch is an error naming the columns, and nothing is written. A value
that does not fit its column is an error naming the file, line and column, and
nothing is written.

` + objectInputHelp,
		Example: `  tarn table import trips --from data/2026-05.parquet
  tarn table import trips --from "incoming/*.csv" --ref dev -m "May data"
  tarn table import trips --from s3://landing/trips/2026-06/`,
		Args: exactArgs("TABLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			started := time.Now()
			ident, err := a.parseTable(args[0])
			if err != nil {
				return err
			}
			if len(from) == 0 {
				return &usageError{"--from is required: give files, globs or directories of Parquet, CSV or JSON Lines"}
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			req := tarn.ImportRequest{Table: ident, Branch: a.ref(ref), From: from, InferRows: inferRowsArg(inferRows), Info: a.commitInfo(message)}
			res, err := a.svc.Tables.ImportTable(a.importProgress(ctx, showProgress), req)
			if err != nil {
				return err
			}
			return a.printWrite(res, "imported into", started)
		},
	}
	cmd.Flags().StringSliceVar(&from, "from", nil, "input files, globs or directories, or s3:// objects (repeatable)")
	cmd.Flags().StringVar(&ref, "ref", "", "branch to write (default: the active branch)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "commit message")
	cmd.Flags().IntVar(&inferRows, "infer-rows", ingest.DefaultSampleRows, "rows of each CSV or JSON Lines file to infer column types from (0: all)")
	cmd.Flags().BoolVar(&showProgress, "progress", false, "report progress on stderr even when it is not a terminal")
	return cmd
}

func (a *app) tableRm() *cobra.Command {
	var ref, message string
	cmd := &cobra.Command{
		Use: "rm TABLE", Aliases: []string{"drop", "delete"},
		Short:   "Remove a table from a branch (its files stay for other refs)",
		Example: "  tarn table rm trips\n  tarn table rm staging.tmp --ref dev", Args: exactArgs("TABLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ident, err := a.parseTable(args[0])
			if err != nil {
				return err
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			branch := a.ref(ref)
			commit, err := a.svc.Tables.DropTable(ctx, ident, branch, a.commitInfo(message))
			if err != nil {
				return err
			}
			return a.emit(map[string]any{"dropped": ident, "branch": branch, "commit": commit}, func(w io.Writer) {
				fmt.Fprintf(w, "removed table %s from %s (commit %s)\n", ident, branch, commit.ShortHash())
			})
		},
	}
	cmd.Flags().StringVar(&ref, "ref", "", "branch to write (default: the active branch)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "commit message")
	return cmd
}

func (a *app) tableRevert() *cobra.Command {
	var ref, to, message string
	cmd := &cobra.Command{
		Use:   "revert TABLE --to REF",
		Short: "Set a table back to its state at another ref (one commit)",
		Example: `  tarn table revert trips --to main~1
  tarn table revert trips --to v1 --ref dev`,
		Args: exactArgs("TABLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			started := time.Now()
			if to == "" {
				return &usageError{"--to REF is required"}
			}
			ident, err := a.parseTable(args[0])
			if err != nil {
				return err
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			res, err := a.svc.Tables.RevertTable(ctx, ident, a.ref(ref), to, a.commitInfo(message))
			if err != nil {
				return err
			}
			return a.emit(res, func(w io.Writer) {
				if res.Entry == nil {
					fmt.Fprintf(w, "reverted %s on %s to %s: the table did not exist there and is removed (commit %s, %.1fs)\n",
						ident, res.Branch, to, res.Commit.ShortHash(), time.Since(started).Seconds())
					return
				}
				fmt.Fprintf(w, "reverted %s on %s to %s: %s rows (commit %s)\n", ident, res.Branch, to, count(res.Entry.Rows), res.Commit.ShortHash())
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "ref whose state of the table to restore")
	cmd.Flags().StringVar(&ref, "ref", "", "branch to write (default: the active branch)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "commit message")
	return cmd
}

func (a *app) tableOptimize() *cobra.Command {
	var ref, size, message string
	cmd := &cobra.Command{
		Use:   "optimize TABLE",
		Short: "Rewrite a table's small files into large ones (one commit, rows unchanged)",
		Long: `Compact a table: read its current rows (applying delete files) and write them
back as files of about --target-file-size, as one overwrite snapshot in one
commit on the branch. The rows do not change; earlier commits still reach the
old files until ` + "`tarn gc`" + ` collects them once no ref's history needs them.
A table that is already one file per partition is left alone (no commit).
Through a server (POST /v1/tables/{table}/optimize) the server compacts, with
the access rules of any write to the branch.`,
		Example: `  tarn table optimize trips
  tarn table optimize trips --ref dev --target-file-size 128MiB -o json`,
		Args: exactArgs("TABLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			started := time.Now()
			ident, err := a.parseTable(args[0])
			if err != nil {
				return err
			}
			var target int64
			if size != "" {
				if target, err = parseSize("--target-file-size", size); err != nil {
					return err
				}
				if target <= 0 {
					return &usageError{"--target-file-size must be positive"}
				}
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			opt, ok := a.svc.Tables.(tarn.Optimizer)
			if !ok {
				return tarn.Errorf(tarn.EINVALID, "this lakehouse's table service (%s) cannot compact tables", a.svc.Mode)
			}
			res, err := opt.Optimize(ctx, tarn.OptimizeRequest{Table: ident, Branch: a.ref(ref), TargetFileSize: target, Info: a.commitInfo(message)})
			if err != nil {
				return err
			}
			return a.emit(res, func(w io.Writer) {
				if res.Unchanged {
					fmt.Fprintf(w, "%s on %s is already compact: %d files, %s rows; nothing written\n", ident, res.Branch, res.FilesBefore, count(res.Rows))
					return
				}
				fmt.Fprintf(w, "optimized %s on %s: %d files (%s) into %d (%s), %s rows unchanged (commit %s, %.1fs)\n", ident, res.Branch,
					res.FilesBefore, tarn.FormatBytes(res.BytesBefore), res.FilesAfter, tarn.FormatBytes(res.BytesAfter), count(res.Rows),
					res.Commit.ShortHash(), time.Since(started).Seconds())
			})
		},
	}
	cmd.Flags().StringVar(&ref, "ref", "", "branch to write (default: the active branch)")
	cmd.Flags().StringVar(&size, "target-file-size", "", "size of the files written (default 256MiB)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "commit message")
	return cmd
}

// planFiles infers the columns of req.From for --plan. Files are read
// here. With a server (--endpoint) and an input in a bucket (s3://), the
// server plans instead: it reads buckets with its own AWS settings, under
// its --import-from prefixes, as it will for the create, not with this
// machine's credentials. Local files in such a request are uploaded to
// it, as a create uploads them. A plan is of the columns, whether the
// table exists or not (as the one made here): --replace and
// --if-not-exists apply when it is applied.
func (a *app) planFiles(ctx context.Context, req tarn.CreateTableRequest) (*table.Plan, error) {
	endpoint, _, err := a.remote()
	if err != nil {
		return nil, err
	}
	if endpoint == "" || !slices.ContainsFunc(req.From, ingest.IsObjectInput) {
		return table.PlanFiles(ctx, req.Table, req.From, req.PartitionBy, req.InferRows)
	}
	if err := a.open(ctx); err != nil {
		return nil, err
	}
	planner, ok := a.svc.Tables.(tarn.TablePlanner)
	if !ok {
		return nil, tarn.Errorf(tarn.EINVALID, "this server cannot plan a table")
	}
	req.Replace, req.IfNotExists = true, false
	tp, err := planner.PlanTable(ctx, req)
	if err != nil {
		return nil, err
	}
	p := &table.Plan{Table: req.Table.String(), From: req.From, PartitionBy: req.PartitionBy}
	for _, c := range tp.Columns {
		p.Columns = append(p.Columns, table.PlanColumn{Name: c.Name, Type: c.Type, Required: c.Required})
	}
	return p, nil
}
