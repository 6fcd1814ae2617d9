// Command tarn is the command-line interface of the tarn lakehouse. It only
// wires packages together: flags and output here, work in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
)

// Exit codes: one per error class, so scripts can tell them apart.
const (
	exitOK       = 0
	exitInternal = 1
	exitUsage    = 2 // bad flags, arguments, names or input
	exitNotFound = 3
	exitConflict = 4   // conflicts and "already exists"
	exitDenied   = 5   // unauthorized or forbidden
	exitCanceled = 130 // interrupted (Ctrl-C), or cancelled on a server
)

var exitCodes = map[string]int{
	tarn.EINVALID:      exitUsage,
	tarn.ENOTFOUND:     exitNotFound,
	tarn.ECONFLICT:     exitConflict,
	tarn.EEXISTS:       exitConflict,
	tarn.EUNAUTHORIZED: exitDenied,
	tarn.EFORBIDDEN:    exitDenied,
	tarn.EINTERNAL:     exitInternal,
	tarn.ECANCELLED:    exitCanceled,
}

// usageError is a command-line usage mistake (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin}
	os.Exit(m.Run(ctx, os.Args[1:]))
}

// Main holds the process's streams; Run executes one command line.
type Main struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
}

// Run executes args and returns the exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	a := &app{stdout: m.Stdout, stderr: m.Stderr}
	defer a.close()
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	root.SetIn(m.Stdin)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	return a.reportError(err)
}

func (a *app) reportError(err error) int {
	code := exitInternal
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		code = exitUsage
	case errors.Is(err, context.Canceled):
		code = exitCanceled
		err = tarn.Errorf(tarn.EINTERNAL, "interrupted")
	case strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
		strings.HasPrefix(err.Error(), "unknown shorthand flag"):
		code = exitUsage
	default:
		code = exitCodes[tarn.ErrorCode(err)]
	}
	if a.output == "json" {
		errCode := tarn.ErrorCode(err)
		if code == exitUsage {
			errCode = tarn.EINVALID
		}
		writeJSON(a.stderr, map[string]any{"error": map[string]any{"code": errCode, "message": err.Error(), "exit_code": code}})
	} else {
		fmt.Fprintf(a.stderr, "error: %s\n", err)
		if code == exitInternal && tarn.ErrorCode(err) == tarn.EINTERNAL {
			var te *tarn.Error
			if !errors.As(err, &te) {
				fmt.Fprintln(a.stderr, "(an internal error: if it persists, please report it with the command you ran)")
			}
		}
	}
	return code
}

// exactArgs and friends turn cobra's argument checks into usage errors
// that name the expected arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return &usageError{fmt.Sprintf("%s takes %d argument(s) (%s), got %d; see `%s --help`",
				cmd.CommandPath(), len(names), strings.Join(names, " "), len(args), cmd.CommandPath())}
		}
		return nil
	}
}

func rangeArgs(lo, hi int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return &usageError{fmt.Sprintf("usage: %s %s; see `%s --help`", cmd.CommandPath(), usage, cmd.CommandPath())}
		}
		return nil
	}
}
