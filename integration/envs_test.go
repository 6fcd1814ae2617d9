//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// versionModel reports its interpreter and its pyarrow and numpy.
const versionModel = `import importlib.metadata
import sys
import pyarrow as pa
import tarn

@tarn.model()
@tarn.python("%s"%s)
def versions():
    try:
        numpy = importlib.metadata.version("numpy")
    except importlib.metadata.PackageNotFoundError:
        numpy = "none"
    print("python=%%d.%%d pyarrow=%%s numpy=%%s" %% (sys.version_info[0], sys.version_info[1], pa.__version__, numpy))
    return pa.table({"x": [1]})
`

// TestEnvironments_PyArrowFits: tarn's own pyarrow fits the model's
// Python and pins: NumPy 1 pins get a pyarrow that imports with it, and
// every Python the SDK claims (3.9 on) that the machine has runs the worker.
func TestEnvironments_PyArrowFits(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	cases := map[string]struct{ python, pins, want string }{
		"pandas 2.1 pins NumPy 1": {"3.11", `, pip={"pandas": "2.1.4"}`, "numpy=1."},
		"Python 3.9":              {"3.9", "", "python=3.9"},
		"Python 3.10":             {"3.10", "", "python=3.10"},
		"Python 3.12":             {"3.12", "", "python=3.12"},
		"Python 3.13":             {"3.13", "", "python=3.13"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if matches, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".pyenv", "versions", tc.python+".*")); len(matches) == 0 && tc.python != "3.11" {
				t.Skipf("no Python %s on this machine", tc.python)
			}
			dir := project(t, map[string]string{"m.py": fmt.Sprintf(versionModel, tc.python, tc.pins)})
			r := tarnRun(t, home, "run", "-p", dir, "--dry-run")
			if r.code != 0 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want %q in:\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
}

// TestEnvironments_BrokenPins: pins that install but do not import fail
// the build with the package named, before any step runs.
func TestEnvironments_BrokenPins(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	dir := project(t, map[string]string{"m.py": fmt.Sprintf(versionModel, "3.11", `, pip={"pandas": "2.1.4", "pyarrow": "26.0.1"}`)})
	r := tarnRun(t, home, "run", "-p", dir, "--dry-run")
	if r.code != 2 || !strings.Contains(r.stderr, "installs but does not work") || !strings.Contains(r.stderr, "pin pyarrow<26") {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "running") {
		t.Fatalf("a step ran in a broken environment:\n%s", r.stderr)
	}
}
