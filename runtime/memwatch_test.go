package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const memoryModels = `
import mmap, os, time
import tarn

MiB = 1 << 20

@tarn.model()
def holds_anonymous():
    b = bytearray(300 * MiB)
    b[::4096] = b"\x01" * len(range(0, len(b), 4096))  # every page touched
    time.sleep(0.5)
    return {"n": [len(b)]}

@tarn.model()
def maps_a_file():
    with open("big", "wb") as f:
        f.truncate(300 * MiB)
    with open("big", "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        n = sum(m[i] for i in range(0, len(m), 4096))  # every page read
        time.sleep(0.5)
        m.close()
    os.unlink("big")
    return {"n": [n]}
`

// TestWorker_PeakAnonymousMemory: the step's peak anonymous memory counts
// what it allocated, not the pages of a file it maps; past
// Limits.Memory the step is stopped as out of memory.
func TestWorker_PeakAnonymousMemory(t *testing.T) {
	for _, iso := range isolations(t) {
		t.Run(string(iso), func(t *testing.T) {
			f := newPoolFixture(t, iso)
			if err := os.WriteFile(filepath.Join(f.opts.ProjectDir, "memory.py"), []byte(memoryModels), 0o644); err != nil {
				t.Fatal(err)
			}
			file := func(s *StepSpec, _ *WorkerOptions) { s.File = "memory.py" }
			res, err, out := f.run(t, nil, "anon", "holds_anonymous", file)
			if err != nil {
				t.Fatalf("%v\n%s", err, strings.Join(out, "\n"))
			}
			if res.PeakAnonBytes < 300<<20 {
				t.Fatalf("peak anonymous memory %d, the step held 300 MiB", res.PeakAnonBytes)
			}
			res, err, out = f.run(t, nil, "mapped", "maps_a_file", file)
			if err != nil {
				t.Fatalf("%v\n%s", err, strings.Join(out, "\n"))
			}
			if res.PeakAnonBytes <= 0 || res.PeakAnonBytes >= 250<<20 {
				t.Fatalf("peak anonymous memory %d with a 300 MiB file mapped: file pages counted", res.PeakAnonBytes)
			}
			_, err, out = f.run(t, nil, "limited", "holds_anonymous", func(s *StepSpec, o *WorkerOptions) {
				s.File = "memory.py"
				o.Limits.Memory = 200 << 20
			})
			var se *StepError
			if !errors.As(err, &se) || se.Reason != "memory" {
				t.Fatalf("over a 200 MiB limit: %v\n%s", err, strings.Join(out, "\n"))
			}
		})
	}
}
