package benchkit

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Exit codes of a benchmark command, besides 0.
const (
	ExitFailure     = 1   // the benchmark returned an error
	ExitUsage       = 2   // bad flags or arguments
	ExitInterrupted = 130 // stopped by SIGINT or SIGTERM
)

// ErrUsage marks an error as the user's: wrapped in an error returned to
// Main, it exits with ExitUsage.
var ErrUsage = errors.New("usage")

// Usagef returns an error about the flags or arguments: Main prints it and
// exits with ExitUsage.
func Usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

// Bench is one run of a benchmark command: its flags, its progress log, its
// work directories and its report. Make one with New.
type Bench struct {
	// Name names the benchmark in messages and in its temporary directory.
	Name string
	// Flags holds the benchmark's flags; New registers -json and -keep.
	Flags *flag.FlagSet
	// JSON is -json: Report prints JSON instead of text.
	JSON bool
	// Keep is -keep: work directories are kept at the end.
	Keep bool
	// Stdout receives the report; Stderr progress lines, flag usage and
	// errors. New sets os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// LogPrefix, when set, makes the text before each progress line instead
	// of "[NAME 15:04:05] ".
	LogPrefix func() string

	mu       sync.Mutex
	cleanups []func()
}

// New returns the Bench of the benchmark called name, with the flags -json
// and -keep registered.
func New(name string) *Bench {
	b := &Bench{Name: name, Flags: flag.NewFlagSet(name, flag.ContinueOnError), Stdout: os.Stdout, Stderr: os.Stderr}
	b.Flags.BoolVar(&b.JSON, "json", false, "print the figures as JSON on stdout")
	b.Flags.BoolVar(&b.Keep, "keep", false, "keep the temporary directory")
	return b
}

// Main parses the command line into b.Flags, runs run and exits the
// process with the code Run returns.
func (b *Bench) Main(run func(ctx context.Context) error) { os.Exit(b.Run(os.Args[1:], run)) }

// Run parses args into b.Flags, refuses positional arguments, runs run and
// returns the exit code: see the package documentation.
func (b *Bench) Run(args []string, run func(ctx context.Context) error) int {
	b.Flags.SetOutput(b.Stderr)
	if err := b.Flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return ExitUsage // the flag package has printed the error and the usage
	}
	if b.Flags.NArg() > 0 {
		fmt.Fprintf(b.Stderr, "%s: unexpected arguments %q; see -help\n", b.Name, b.Flags.Args())
		return ExitUsage
	}
	return b.execute(run)
}

// Main runs a benchmark that parses its own command line: run gets the
// context canceled by SIGINT or SIGTERM, and its error becomes the exit
// code as in Bench.Run.
func Main(name string, run func(ctx context.Context) error) {
	b := &Bench{Name: name, Stdout: os.Stdout, Stderr: os.Stderr}
	os.Exit(b.execute(run))
}

func (b *Bench) execute(run func(ctx context.Context) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal has its default effect
	}()
	defer b.cleanup() // also when run panics
	err := run(ctx)
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		fmt.Fprintf(b.Stderr, "%s: interrupted\n", b.Name)
		return ExitInterrupted
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(b.Stderr, "%s: %v\n", b.Name, err)
		return ExitUsage
	default:
		fmt.Fprintf(b.Stderr, "%s: %v\n", b.Name, err)
		return ExitFailure
	}
}

// cleanup runs the registered cleanups, the last registered first.
func (b *Bench) cleanup() {
	b.mu.Lock()
	fs := b.cleanups
	b.cleanups = nil
	b.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// Logf prints one progress line to Stderr. It is safe for concurrent use.
func (b *Bench) Logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	prefix := fmt.Sprintf("[%s %s] ", b.Name, time.Now().Format("15:04:05"))
	if b.LogPrefix != nil {
		prefix = b.LogPrefix()
	}
	fmt.Fprintf(b.Stderr, "%s%s\n", prefix, fmt.Sprintf(format, args...))
}

// WorkDir makes a work directory and returns its absolute path: dir when
// it is given (it must be absent or empty), else a new temporary directory
// named after the benchmark. When Run returns the directory is removed,
// unless -keep, which is logged now.
func (b *Bench) WorkDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "tarn-bench-"+b.Name+"-")
		if err != nil {
			return "", fmt.Errorf("make work directory: %w", err)
		}
		dir = d
	} else if err := emptyDir(dir); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	if b.Keep {
		b.Logf("keeping %s", abs)
		return abs, nil
	}
	b.mu.Lock()
	b.cleanups = append(b.cleanups, func() { os.RemoveAll(abs) })
	b.mu.Unlock()
	return abs, nil
}

// emptyDir makes dir unless it exists, and refuses one that has entries.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("make work directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("work directory: %w", err)
	case len(entries) > 0:
		return Usagef("work directory %s is not empty: give a new or empty directory", dir)
	}
	return nil
}

// Report prints rep to Stdout: as indented JSON with -json, else with text.
func (b *Bench) Report(rep any, text func(w io.Writer)) error {
	if !b.JSON {
		text(b.Stdout)
		return nil
	}
	enc := json.NewEncoder(b.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}
