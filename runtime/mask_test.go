package runtime

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMasker(t *testing.T) {
	m := NewMasker("hunter2", "pass\"word", "line one\nline two\r\n", "")
	for _, tc := range []struct{ in, want string }{
		{"the password is hunter2!", "the password is ***!"},
		{"hunter2hunter2", "******"},
		{`{"pw": "pass\"word"}`, `{"pw": "***"}`},
		{"pass\"word", "***"},
		{"got line two here", "got *** here"},
		{"nothing secret", "nothing secret"},
	} {
		if got := m.Mask(tc.in); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// The longer of two values starting at one place wins.
	if got := NewMasker("abc", "abcdef").Mask("xabcdefx"); got != "x***x" {
		t.Errorf("overlapping values: %q", got)
	}
	if NewMasker("", " \n ") != nil {
		t.Error("a masker of blank values")
	}
	var none *Masker
	if none.Mask("x") != "x" {
		t.Error("a nil masker changed its text")
	}
}

const secretModels = `import sys

import tarn


@tarn.model()
def uses(token=tarn.Parameter("token")):
    print("served " + ("warm" if "--warm" in sys.orig_argv else "cold"), flush=True)
    sys.stdout.write(token[:4])
    sys.stdout.flush()
    sys.stdout.write(token[4:] + " was split across writes\n")
    print("token", token, file=sys.stderr)
    print({"token": token})
    return {"length": [len(token)]}


@tarn.model()
def leaks(token=tarn.Parameter("token")):
    print("served " + ("warm" if "--warm" in sys.orig_argv else "cold"), flush=True)
    raise ValueError("refused: " + token)
`

// TestRunWorker_Secrets: a step's secret reaches it (cold and warm) but
// is never written to a file, and whatever the step prints or reports
// shows it as ***, also when written in pieces.
func TestRunWorker_Secrets(t *testing.T) {
	const value = `tok-"9f8e7d6c5b"`
	for _, iso := range isolations(t) {
		for _, warm := range []bool{false, true} {
			name := string(iso) + "/cold"
			if warm {
				name = string(iso) + "/warm"
			}
			t.Run(name, func(t *testing.T) {
				f := newPoolFixture(t, iso)
				if err := os.WriteFile(filepath.Join(f.opts.ProjectDir, "secrets.py"), []byte(secretModels), 0o644); err != nil {
					t.Fatal(err)
				}
				run := func(function string) (*StepResult, error, []string) {
					var pool *Pool
					if warm {
						pool = f.warm(t, PoolOptions{})
					}
					return f.run(t, pool, function, function, func(s *StepSpec, _ *WorkerOptions) {
						s.File = "secrets.py"
						s.Secrets = map[string]string{"token": value}
					})
				}
				res, err, lines := run("uses")
				if err != nil {
					t.Fatalf("%v\n%s", err, strings.Join(lines, "\n"))
				}
				how, rest := served(t, lines)
				if (how == "warm") != warm {
					t.Fatalf("served %s", how)
				}
				out := strings.Join(rest, "\n")
				for _, want := range []string{"*** was split across writes", "token ***", `{'token': '***'}`} {
					if !strings.Contains(out, want) {
						t.Fatalf("output lacks %q:\n%s", want, out)
					}
				}
				if strings.Contains(out, "9f8e7d6c5b") || res.Rows != 1 {
					t.Fatalf("output shows the secret, or the step did not get it (rows %d):\n%s", res.Rows, out)
				}
				_, err, lines = run("leaks")
				var se *StepError
				if !errors.As(err, &se) || !strings.Contains(se.Msg, "refused: ***") || strings.Contains(se.Msg+se.Result.Traceback+strings.Join(lines, "\n"), "9f8e7d6c5b") {
					t.Fatalf("a failure naming the secret: %v\n%s", err, strings.Join(lines, "\n"))
				}
				filepath.WalkDir(f.dir, func(path string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return nil
					}
					if b, _ := os.ReadFile(path); strings.Contains(string(b), "9f8e7d6c5b") {
						t.Errorf("%s holds the secret", path)
					}
					return nil
				})
			})
		}
	}
}
