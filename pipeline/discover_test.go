package pipeline_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/pipeline"
	rt "github.com/tarnhq/tarn/runtime"
)

// hostPython is the interpreter python3 on PATH runs (not a pyenv shim).
func hostPython(t *testing.T) string {
	t.Helper()
	python3, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	real, err := exec.Command(python3, "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(real))
}

// bigList is a module of one list of n integers: 2n bytes that take about
// 1 KB each to parse and hash (the reviewer's 3,000,000 took 2.8 GB).
func bigList(n int) string {
	return "x = [" + strings.Repeat("1,", n) + "]\n"
}

// Discovery parses files anyone may upload to a server: its process gets
// only what Python needs, never the server's credentials or settings.
func TestDiscoverer_ScrubbedEnvironment(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-of-the-server")
	t.Setenv("TARN_TOKEN", "tarn_token-of-the-operator")
	record := filepath.Join(t.TempDir(), "env")
	wrapper := filepath.Join(t.TempDir(), "python3")
	script := "#!/bin/sh\nenv > " + record + "\nexec " + hostPython(t) + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := &pipeline.Discoverer{SDKDir: sdkDir, Python: wrapper}
	if _, err := d.Load(context.Background(), writeProject(t, map[string]string{"models/m.py": goodModels})); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(env)), "\n") {
		if strings.HasPrefix(line, "AWS_") || strings.HasPrefix(line, "TARN_") {
			t.Errorf("discovery sees %s", line)
		}
	}
	for _, want := range []string{"PYTHONPATH=" + sdkDir, "PYTHONNOUSERSITE=1", "PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp"} {
		if !strings.Contains("\n"+string(env), "\n"+want+"\n") {
			t.Errorf("discovery's environment lacks %s:\n%s", want, env)
		}
	}
}

// A Python file over the limit, or a project whose Python files are over
// the limit together, is refused before it is parsed, naming the file.
func TestDiscoverer_FileSizeLimits(t *testing.T) {
	padding := func(mib float64) string { return "x = '" + strings.Repeat("a", int(mib*(1<<20))) + "'\n" }
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"one file", map[string]string{"models/m.py": goodModels, "models/big.py": padding(5)},
			"models/big.py:1: models/big.py is 5.0 MiB, over the 4 MiB limit for a project's Python file"},
		{"all files", map[string]string{"a.py": padding(3.9), "b.py": padding(3.9), "c/d.py": padding(3.9), "e.py": padding(3.9),
			"f.py": padding(3.9), "g.py": padding(3.9), "h.py": padding(3.9), "i.py": padding(3.9), "j.py": padding(3.9)},
			"the project's Python files hold 35.1 MiB (9 files), over the 32 MiB limit for all of a project's Python files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&pipeline.Discoverer{SDKDir: sdkDir}).Load(context.Background(), writeProject(t, tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// A file under the size limit that needs more memory to parse than
// discovery may use fails, saying so, instead of growing without bound:
// as a plain process (the interpreter's own limit) and in bubblewrap (also
// the sandbox's limits).
func TestDiscoverer_MemoryLimit(t *testing.T) {
	files := map[string]string{"models/m.py": goodModels, "models/big.py": bigList(1_900_000)} // 3.8 MB, ~1.9 GB to discover
	for _, tc := range []struct {
		name    string
		sandbox func(t *testing.T) *rt.Sandbox
	}{
		{"process", func(*testing.T) *rt.Sandbox { return nil }},
		{"bubblewrap", requireSandbox},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := tc.sandbox(t)
			d := &pipeline.Discoverer{SDKDir: sdkDir, Sandbox: sb, Memory: 256 << 20}
			if sb != nil { // it discovers there at all
				if _, err := d.Load(context.Background(), readable(t, writeProject(t, map[string]string{"models/m.py": goodModels}))); err != nil {
					t.Fatalf("discovery in the sandbox: %v", err)
				}
			}
			start := time.Now()
			_, err := d.Load(context.Background(), readable(t, writeProject(t, files)))
			if err == nil || !strings.Contains(err.Error(), "ran out of memory") || tarn.ErrorCode(err) != tarn.EINVALID {
				t.Fatalf("got %v, want an invalid-project error saying discovery ran out of memory", err)
			}
			if !strings.Contains(err.Error(), "models/big.py") && !errors.Is(err, rt.ErrOutOfMemory) {
				t.Errorf("the error names neither the file nor the sandbox's limit: %v", err)
			}
			t.Logf("%v after %s", err, time.Since(start).Round(time.Millisecond))
		})
	}
}

// Discovery that takes longer than its timeout is killed, and says so.
func TestDiscoverer_Timeout(t *testing.T) {
	slow := filepath.Join(t.TempDir(), "python3")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := &pipeline.Discoverer{SDKDir: sdkDir, Python: slow, Timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err := d.Load(context.Background(), writeProject(t, map[string]string{"models/m.py": goodModels}))
	if err == nil || !strings.Contains(err.Error(), "discovering the project's models took longer than 200ms") {
		t.Fatalf("got %v, want the timeout named", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("discovery was stopped after %s", elapsed)
	}
}

// requireSandbox is a bubblewrap sandbox; the test skips without one,
// unless the test tier says it must be there (TARN_REQUIRE_SANDBOX=1, set
// by scripts/test.sh).
func requireSandbox(t *testing.T) *rt.Sandbox {
	t.Helper()
	sb, err := rt.NewSandbox(context.Background(), rt.SandboxConfig{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if sb.Isolation != rt.IsolationBubblewrap {
		if os.Getenv("TARN_REQUIRE_SANDBOX") == "1" {
			t.Fatalf("TARN_REQUIRE_SANDBOX=1 but the isolation here is %s: %s", sb.Isolation, sb.Describe())
		}
		t.Skipf("no bubblewrap sandbox here (%s)", sb.Describe())
	}
	return sb
}

// readable makes a project directory readable by the sandbox uid
// (t.TempDir makes it 0700).
func readable(t *testing.T, dir string) string {
	t.Helper()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
