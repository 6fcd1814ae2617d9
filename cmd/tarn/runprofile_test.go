package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/tarnhq/tarn"
)

// TestPrintRunProfile: --profile prints one line per phase of each step,
// with what it moved, and the step's peak anonymous memory and limit.
func TestPrintRunProfile(t *testing.T) {
	res := &tarn.RunResult{Steps: []*tarn.StepReport{
		{Name: "agg", PeakAnonBytes: 3 << 20, MemoryLimit: 1 << 30, Profile: []tarn.StepPhase{
			{Name: tarn.PhasePlan, Seconds: 0.0125, Rows: 6001215, Bytes: 150 << 20, Files: 2, Detail: "tarn.lineitem: 2 of 4 data files"},
			{Name: tarn.PhaseRead, Seconds: 6.5, Rows: 2758822, Bytes: 1 << 30, Files: 2},
		}},
		{Name: "cached", Profile: []tarn.StepPhase{{Name: tarn.PhaseCache, Seconds: 0.004, Rows: 4, Bytes: 1200, Detail: "served"}}},
	}}
	var b bytes.Buffer
	printRunProfile(&b, res)
	out := b.String()
	for _, want := range []string{
		`agg +plan +0\.013 +6,001,215 +150\.0 MiB +2 +tarn\.lineitem: 2 of 4 data files`,
		`agg +read +6\.500 +2,758,822 +1\.0 GiB +2`,
		`agg +memory +3\.0 MiB +peak anonymous memory \(limit 1\.0 GiB\)`,
		`cached +cache +0\.004 +4 +1\.2 KiB +served`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("no line matching %q in:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`cached +memory`).MatchString(out) {
		t.Fatalf("a memory line for a step without a measurement:\n%s", out)
	}
}
