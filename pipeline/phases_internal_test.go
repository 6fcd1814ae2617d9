package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	rt "github.com/tarnhq/tarn/runtime"
)

// The read phase says how a large input was held: spooled to disk, or
// whole in memory (then suggesting batches); a small one says nothing.
func TestWorkerPhases_ReadDetail(t *testing.T) {
	readDetail := func(whole, spooled int64) string {
		t.Helper()
		res := &rt.StepResult{}
		res.Profile.Read.Bytes = whole + spooled
		res.Profile.Read.WholeBytes, res.Profile.Read.SpooledBytes = whole, spooled
		for _, p := range workerPhases(res, time.Now()) {
			if p.Name == tarn.PhaseRead {
				return p.Detail
			}
		}
		t.Fatal("no read phase")
		return ""
	}
	if d := readDetail(WholeInputHintBytes, 0); !strings.Contains(d, "4.0 GiB held whole in memory") || !strings.Contains(d, "batches=True") {
		t.Errorf("a 4 GiB whole input: detail %q, want the size and the batches form", d)
	}
	if d := readDetail(WholeInputHintBytes-1, 0); d != "" {
		t.Errorf("an input under the hint's size: detail %q, want none", d)
	}
	if d := readDetail(0, 8<<30); !strings.Contains(d, "spooled to disk") {
		t.Errorf("a spooled input: detail %q, want it said", d)
	}
}
