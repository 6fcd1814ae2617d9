package benchkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	cases := []struct {
		name string
		in   []float64
		want float64
	}{
		{"Empty", nil, 0},
		{"One", []float64{3}, 3},
		{"Odd", []float64{5, 1, 3}, 3},
		{"Even", []float64{4, 1, 3, 2}, 2.5},
		{"Repeated", []float64{2, 2, 9, 2}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			if got := Median(in); got != tc.want {
				t.Fatalf("Median(%v) = %v, want %v", tc.in, got, tc.want)
			}
			if fmt.Sprint(in) != fmt.Sprint(tc.in) {
				t.Fatalf("Median reordered its input: %v", in)
			}
		})
	}
	t.Run("Durations", func(t *testing.T) {
		if got := Median([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond}); got != 2500*time.Microsecond {
			t.Fatalf("median = %v, want 2.5ms", got)
		}
	})
	t.Run("IntegersRoundTowardZero", func(t *testing.T) {
		if got := Median([]int64{-4, -3}); got != -3 {
			t.Fatalf("median of -4, -3 = %d, want -3", got)
		}
	})
}

func TestPercentile(t *testing.T) {
	var hundred []int
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, i)
	}
	cases := []struct {
		name string
		in   []int
		p    float64
		want int
	}{
		{"Empty", nil, 0.5, 0},
		{"P50Even", hundred, 0.50, 50},
		{"P90", hundred, 0.90, 90},
		{"P99", hundred, 0.99, 99},
		{"P100", hundred, 1, 100},
		{"P0", hundred, 0, 1},
		{"P50Odd", []int{9, 1, 5}, 0.5, 5},
		{"P10Few", []int{9, 1, 5}, 0.1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.in, tc.p); got != tc.want {
				t.Fatalf("Percentile(p=%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
	if hundred[0] != 100 {
		t.Fatal("Percentile reordered its input")
	}
}

func TestMs(t *testing.T) {
	cases := []struct {
		in   time.Duration
		want float64
	}{
		{0, 0},
		{1500 * time.Microsecond, 1.5},
		{1499*time.Microsecond + 600*time.Nanosecond, 1.5},
		{1499*time.Microsecond + 400*time.Nanosecond, 1.499},
		{2 * time.Second, 2000},
	}
	for _, tc := range cases {
		if got := Ms(tc.in); got != tc.want {
			t.Errorf("Ms(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestMet(t *testing.T) {
	if Met(true) != "MET" || Met(false) != "NOT MET" {
		t.Fatalf("Met(true) = %q, Met(false) = %q", Met(true), Met(false))
	}
}

func TestBenchLine(t *testing.T) {
	cases := []struct {
		line string
		ok   bool
		want float64
	}{
		{`BENCH {"rows": 12}`, true, 12},
		{`  BENCH {"rows": 12}`, false, 0},
		{`rows: 12`, false, 0},
		{`BENCH not json`, true, 0},
	}
	for _, tc := range cases {
		var m map[string]float64
		if ok := BenchLine(tc.line, &m); ok != tc.ok || m["rows"] != tc.want {
			t.Errorf("BenchLine(%q) = %v, rows %v; want %v, %v", tc.line, ok, m["rows"], tc.ok, tc.want)
		}
	}
}

// newTest returns a Bench that writes into buffers.
func newTest(t *testing.T) (*Bench, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	b := New("kit")
	var stdout, stderr bytes.Buffer
	b.Stdout, b.Stderr = &stdout, &stderr
	return b, &stdout, &stderr
}

type testReport struct {
	Ratio float64 `json:"ratio"`
}

func (r testReport) print(w io.Writer) { fmt.Fprintf(w, "ratio %.2f\n", r.Ratio) }

func TestBench_Run(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		run        func(ctx context.Context, b *Bench) error
		wantCode   int
		wantStdout string
		wantStderr string
		notRun     bool // the command line stops it before run
	}{
		{name: "OK", run: func(ctx context.Context, b *Bench) error { return b.Report(testReport{1.5}, testReport{1.5}.print) },
			wantStdout: "ratio 1.50\n"},
		{name: "JSON", args: []string{"-json"},
			run:        func(ctx context.Context, b *Bench) error { return b.Report(testReport{1.5}, testReport{1.5}.print) },
			wantStdout: "{\n  \"ratio\": 1.5\n}\n"},
		{name: "Help", args: []string{"-help"}, wantStderr: "-keep", notRun: true},
		{name: "ErrFlag", args: []string{"-nosuch"}, wantCode: ExitUsage, wantStderr: "flag provided but not defined: -nosuch", notRun: true},
		{name: "ErrArgs", args: []string{"stray"}, wantCode: ExitUsage, wantStderr: `kit: unexpected arguments ["stray"]`, notRun: true},
		{name: "ErrUsagef", run: func(ctx context.Context, b *Bench) error {
			return fmt.Errorf("parse: %w", Usagef("-sizes: bad size %q", "x"))
		},
			wantCode: ExitUsage, wantStderr: "kit: parse: -sizes: bad size \"x\"\n"},
		{name: "ErrFailure", run: func(ctx context.Context, b *Bench) error { return errors.New("generate data: disk full") },
			wantCode: ExitFailure, wantStderr: "kit: generate data: disk full\n"},
		{name: "Interrupted", run: func(ctx context.Context, b *Bench) error {
			syscall.Kill(os.Getpid(), syscall.SIGINT)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Second):
				return errors.New("no cancellation")
			}
		}, wantCode: ExitInterrupted, wantStderr: "kit: interrupted\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, stdout, stderr := newTest(t)
			ran := false
			code := b.Run(tc.args, func(ctx context.Context) error {
				ran = true
				if tc.run == nil {
					return nil
				}
				return tc.run(ctx, b)
			})
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tc.wantCode, stderr)
			}
			if ran == tc.notRun {
				t.Fatalf("ran = %v, want %v", ran, !tc.notRun)
			}
			if stdout.String() != tc.wantStdout {
				t.Fatalf("stdout = %q, want %q", stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Fatalf("stderr = %q, want it to contain %q", stderr, tc.wantStderr)
			}
		})
	}
}

func TestBench_WorkDir(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		b, _, _ := newTest(t)
		var dir string
		code := b.Run(nil, func(ctx context.Context) error {
			var err error
			if dir, err = b.WorkDir(""); err != nil {
				return err
			}
			if !filepath.IsAbs(dir) || !strings.HasPrefix(filepath.Base(dir), "tarn-bench-kit-") {
				return fmt.Errorf("work directory %s", dir)
			}
			return os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
		})
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("work directory left behind: %v", err)
		}
	})
	t.Run("RemovedOnFailure", func(t *testing.T) {
		b, _, _ := newTest(t)
		given := filepath.Join(t.TempDir(), "new", "work")
		code := b.Run(nil, func(ctx context.Context) error {
			if _, err := b.WorkDir(given); err != nil {
				return err
			}
			if _, err := os.Stat(given); err != nil {
				return err
			}
			return errors.New("measure: failed")
		})
		if code != ExitFailure {
			t.Fatalf("exit code %d", code)
		}
		if _, err := os.Stat(given); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("work directory left behind: %v", err)
		}
	})
	t.Run("RemovedOnPanic", func(t *testing.T) {
		b, _, _ := newTest(t)
		var dir string
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("the panic did not reach the caller")
				}
			}()
			b.Run(nil, func(ctx context.Context) error {
				dir, _ = b.WorkDir("")
				panic("bug")
			})
		}()
		if _, err := os.Stat(dir); dir == "" || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("work directory %q after a panic: %v", dir, err)
		}
	})
	t.Run("Keep", func(t *testing.T) {
		b, _, stderr := newTest(t)
		given := filepath.Join(t.TempDir(), "work")
		code := b.Run([]string{"-keep"}, func(ctx context.Context) error {
			_, err := b.WorkDir(given)
			return err
		})
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if _, err := os.Stat(given); err != nil {
			t.Fatalf("-keep removed the work directory: %v", err)
		}
		if !strings.Contains(stderr.String(), "keeping "+given) {
			t.Fatalf("stderr does not say it keeps %s: %q", given, stderr)
		}
	})
	t.Run("ErrNotEmpty", func(t *testing.T) {
		b, _, stderr := newTest(t)
		given := t.TempDir()
		if err := os.WriteFile(filepath.Join(given, "data.csv"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		code := b.Run(nil, func(ctx context.Context) error {
			_, err := b.WorkDir(given)
			return err
		})
		if code != ExitUsage || !strings.Contains(stderr.String(), "is not empty") {
			t.Fatalf("exit code %d, stderr %q", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(given, "data.csv")); err != nil {
			t.Fatalf("a refused directory was changed: %v", err)
		}
	})
}

func TestBench_Logf(t *testing.T) {
	b, _, stderr := newTest(t)
	b.Logf("built %d of %d", 1, 2)
	if got := stderr.String(); !strings.HasPrefix(got, "[kit ") || !strings.HasSuffix(got, "] built 1 of 2\n") {
		t.Fatalf("log line %q", got)
	}
	stderr.Reset()
	b.LogPrefix = func() string { return "[  1.0s] " }
	b.Logf("done")
	if got := stderr.String(); got != "[  1.0s] done\n" {
		t.Fatalf("log line with a prefix %q", got)
	}
}

func TestBench_Tarn(t *testing.T) {
	b, _, _ := newTest(t)
	ctx := context.Background()
	if got, err := b.Tarn(ctx, "/opt/tarn", t.TempDir()); err != nil || got != "/opt/tarn" {
		t.Fatalf("Tarn with a binary = %q, %v", got, err)
	}
	t.Run("ErrOutsideModule", func(t *testing.T) {
		t.Chdir(t.TempDir())
		t.Setenv("GOFLAGS", "")
		_, err := b.Tarn(ctx, "", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "-tarn") {
			t.Fatalf("Tarn outside the module: %v", err)
		}
	})
}

// An empty median is 0, not NaN, so that the report stays JSON.
func TestBench_ReportEmptyMedian(t *testing.T) {
	b, stdout, _ := newTest(t)
	b.JSON = true
	if err := b.Report(map[string]float64{"median_s": Median([]float64(nil))}, nil); err != nil {
		t.Fatal(err)
	}
	var back map[string]float64
	if err := json.Unmarshal(stdout.Bytes(), &back); err != nil {
		t.Fatalf("report of an empty median is not JSON: %v", err)
	}
}
