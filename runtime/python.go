package runtime

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tarnhq/tarn"
)

// Interpreter is a Python interpreter found on the machine.
type Interpreter struct {
	Version string `json:"version"` // full, e.g. 3.11.7
	Path    string `json:"path"`
}

// Minor returns "3.11" of "3.11.7".
func (i Interpreter) Minor() string { return minorOf(i.Version) }

func minorOf(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// FindInterpreters lists the Python interpreters on the machine, one per
// minor version (the newest patch release wins). With quick it only looks
// in pyenv's versions directory (a glob); otherwise it also asks uv, which
// probes every interpreter on PATH and takes about half a second.
func FindInterpreters(ctx context.Context, uv []string, quick bool) ([]Interpreter, error) {
	found := map[string]Interpreter{}
	add := func(in Interpreter) {
		if in.Path == "" || strings.Contains(in.Path, "/shims/") {
			return
		}
		m := in.Minor()
		if cur, ok := found[m]; !ok || versionLess(cur.Version, in.Version) {
			found[m] = in
		}
	}
	if !quick {
		cmd := exec.CommandContext(ctx, uv[0], append(uv[1:], "python", "list", "--only-installed", "--output-format", "json")...)
		cmd.Env = append(os.Environ(), "UV_PYTHON_DOWNLOADS=never")
		if out, err := cmd.Output(); err == nil {
			var list []struct {
				Version string `json:"version"`
				Path    string `json:"path"`
			}
			if json.Unmarshal(out, &list) == nil {
				for _, x := range list {
					add(Interpreter{Version: x.Version, Path: x.Path})
				}
			}
		}
	}
	pyenvRoot := os.Getenv("PYENV_ROOT")
	if pyenvRoot == "" {
		if home, err := os.UserHomeDir(); err == nil {
			pyenvRoot = filepath.Join(home, ".pyenv")
		}
	}
	if dirs, err := filepath.Glob(filepath.Join(pyenvRoot, "versions", "*", "bin", "python3")); err == nil {
		for _, p := range dirs {
			v := filepath.Base(filepath.Dir(filepath.Dir(p)))
			if strings.Count(v, ".") == 2 && v[0] == '3' {
				add(Interpreter{Version: v, Path: p})
			}
		}
	}
	out := make([]Interpreter, 0, len(found))
	for _, in := range found {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return versionLess(out[i].Version, out[j].Version) })
	return out, nil
}

// PickInterpreter returns the interpreter for a requested version ("3.11"
// or "3.11.7"), or an error listing those available.
func PickInterpreter(all []Interpreter, want string) (Interpreter, error) {
	for _, in := range all {
		if in.Version == want || in.Minor() == want {
			return in, nil
		}
	}
	var have []string
	for _, in := range all {
		have = append(have, in.Minor())
	}
	if len(have) == 0 {
		return Interpreter{}, tarn.Errorf(tarn.EINVALID, "Python %s is not installed and no Python interpreter was found; install one (tarn does not download interpreters)", want)
	}
	return Interpreter{}, tarn.Errorf(tarn.EINVALID, "Python %s is not installed on this machine (available: %s); change @tarn.python(version=...) or the project's defaults.python",
		want, strings.Join(have, ", "))
}

func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		for _, c := range pa[i] {
			if c >= '0' && c <= '9' {
				x = x*10 + int(c-'0')
			}
		}
		for _, c := range pb[i] {
			if c >= '0' && c <= '9' {
				y = y*10 + int(c-'0')
			}
		}
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}
