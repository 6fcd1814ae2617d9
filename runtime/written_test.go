package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plantedModels end well, then, as the process exits (after the worker
// wrote its result), leave something else where tarn reads what the
// step wrote: a link to a host file, a named pipe.
const plantedModels = `
import atexit
import json
import os
import sys

import pyarrow as pa
import tarn

def _spec():
    with open(sys.argv[1]) as f:
        return json.load(f)

def _plant(key, how, target):
    path = _spec()[key]
    def swap():
        os.remove(path)
        if how == "link":
            os.symlink(target, path)
        else:
            os.mkfifo(path)
    atexit.register(swap)

@tarn.model
def result_link(target=tarn.Parameter("target")):
    _plant("result", "link", target)
    return pa.table({"x": [1]})

@tarn.model
def output_link(target=tarn.Parameter("target")):
    _plant("output", "link", target)
    return pa.table({"x": [1]})

@tarn.model
def output_fifo(target=tarn.Parameter("target")):
    _plant("output", "fifo", target)
    return pa.table({"x": [1]})
`

// TestRunWorker_PlantedFiles: tarn reads a step's result and output, and
// changes their owner and mode, only as the regular files the step
// wrote. A link left in their place (to a host file the step cannot
// see) is refused: tarn neither reads the host file into the step's
// result nor makes it world-readable; a named pipe does not block it.
func TestRunWorker_PlantedFiles(t *testing.T) {
	for _, iso := range isolations(t) {
		t.Run(string(iso), func(t *testing.T) {
			f := newPoolFixture(t, iso)
			if err := os.WriteFile(filepath.Join(f.opts.ProjectDir, "models.py"), []byte(plantedModels), 0o644); err != nil {
				t.Fatal(err)
			}
			secret := filepath.Join(t.TempDir(), "host.json")
			const leak = "HOST_FILE_CONTENT_4711"
			if err := os.WriteFile(secret, []byte(`{"ok": false, "error_type": "Leak", "message": "`+leak+`"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ function, want string }{
				{"result_link", "result.json is a link"},
				{"output_link", ".arrow is a link"},
				{"output_fifo", "is not a regular file"},
			} {
				t.Run(c.function, func(t *testing.T) {
					res, err, lines := f.run(t, nil, c.function, c.function, func(s *StepSpec, _ *WorkerOptions) {
						s.Parameters["target"] = secret
					})
					var se *StepError
					if !errors.As(err, &se) || se.Reason != "isolation" || !strings.Contains(err.Error(), c.want) {
						t.Fatalf("RunWorker = %+v, %v (%q); want an isolation error saying %q", res, err, lines, c.want)
					}
					if strings.Contains(err.Error(), leak) {
						t.Fatalf("the host file was read into the step's error: %v", err)
					}
					if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o600 {
						t.Fatalf("the host file's mode is %v (%v), want it untouched (0600)", fi.Mode(), err)
					}
				})
			}
		})
	}
}
