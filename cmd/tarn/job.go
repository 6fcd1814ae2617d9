package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
)

func (a *app) jobCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "List, inspect, follow and cancel jobs (runs, queries, imports) of a server",
		Long: `A server runs every run, query and import as a job with a state (queued,
running, succeeded, failed, cancelled) and keeps its log after it ends.
Jobs are recorded under the lakehouse home, so ` + "`tarn job ls`" + ` also works on
the home of a server directly.`,
		Example: "  tarn job ls\n  tarn job logs j20260101-120000-abcdef --follow\n  tarn job cancel j20260101-120000-abcdef",
	}
	ls := &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List jobs, newest first", Example: "  tarn job ls\n  tarn job ls -o json", Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			jobs, err := a.svc.Jobs.ListJobs(ctx)
			if err != nil {
				return err
			}
			return a.emit(jobs, func(w io.Writer) {
				if len(jobs) == 0 {
					fmt.Fprintln(w, "no jobs yet: a server records runs, queries and imports as jobs")
					return
				}
				t := newTable(w, "JOB", "KIND", "STATE", "USER", "REF", "CREATED", "TIME", "WHAT")
				for _, j := range jobs {
					t.row(j.ID, j.Kind, j.State, j.User, j.Ref, ago(j.Created), jobTime(j), firstLine(j.Summary))
				}
				t.flush()
			})
		},
	}
	get := &cobra.Command{
		Use: "get ID", Short: "Show a job: state, times, error, run result", Example: "  tarn job get j20260101-120000-abcdef -o json", Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			j, err := a.svc.Jobs.GetJob(ctx, args[0])
			if err != nil {
				return err
			}
			return a.emit(j, func(w io.Writer) {
				fmt.Fprintf(w, "job      %s (%s)\nstate    %s\nuser     %s\nref      %s\ncreated  %s\ntime     %s\n", j.ID, j.Kind, j.State, j.User, j.Ref,
					j.Created.Local().Format(time.RFC3339), jobTime(j))
				if j.Summary != "" {
					fmt.Fprintf(w, "what     %s\n", firstLine(j.Summary))
				}
				if j.Error != nil {
					fmt.Fprintf(w, "error    %s\n", j.Error.Message)
				}
				if j.Result != nil {
					fmt.Fprintln(w)
					printRunSummary(w, j.Result)
				}
			})
		},
	}
	var follow bool
	logs := &cobra.Command{
		Use: "logs ID", Short: "Print a job's log (--follow: until it ends)",
		Example: "  tarn job logs j20260101-120000-abcdef\n  tarn job logs j20260101-120000-abcdef --follow\n  tarn job logs j20260101-120000-abcdef -o json   # NDJSON events",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			if a.output == "json" {
				return a.svc.Jobs.JobLogs(ctx, args[0], follow, a.stdout)
			}
			return a.printJobLogs(ctx, args[0], follow)
		},
	}
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing until the job ends")
	cancel := &cobra.Command{
		Use: "cancel ID", Aliases: []string{"stop"}, Short: "Cancel a queued or running job (its workers stop; nothing is published); also: tarn job stop",
		Example: "  tarn job cancel j20260101-120000-abcdef", Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			j, err := a.svc.Jobs.CancelJob(ctx, args[0])
			if err != nil {
				return err
			}
			return a.emit(j, func(w io.Writer) { fmt.Fprintf(w, "job %s is %s\n", j.ID, j.State) })
		},
	}
	cmd.AddCommand(ls, get, logs, cancel)
	return cmd
}

// printJobLogs renders a job's events like a live run does.
func (a *app) printJobLogs(ctx context.Context, id string, follow bool) error {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	p := &runPrinter{w: a.stdout, running: map[string]time.Time{}}
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		for sc.Scan() {
			var e tarn.RunEvent
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				p.event(e)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := a.svc.Jobs.JobLogs(ctx, id, follow, pw)
	pw.Close()
	<-done
	return err
}

func jobTime(j *tarn.Job) string {
	if j.Started == nil {
		return ""
	}
	end := time.Now()
	if j.Finished != nil {
		end = *j.Finished
	}
	return end.Sub(*j.Started).Round(time.Millisecond).String()
}
