package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/tarnhq/tarn"
)

// TestFormatEvent_Vectors: the CLI renders run events as the shared
// vectors say (the Python client is tested on the same file).
func TestFormatEvent_Vectors(t *testing.T) {
	b, err := os.ReadFile("../../testdata/events/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Kinds      []string `json:"kinds"`
		StepStates []string `json:"step_states"`
		Cases      []struct {
			Event tarn.RunEvent `json:"event"`
			Line  *string       `json:"line"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	kinds := []string{tarn.EventStart, tarn.EventPlan, tarn.EventEnv, tarn.EventStep, tarn.EventLog, tarn.EventPreview, tarn.EventPublish, tarn.EventInfo, tarn.EventJob}
	states := []string{tarn.StepQueued, tarn.StepRunning, tarn.StepDone, tarn.StepCached, tarn.StepFailed, tarn.StepSkipped, tarn.StepCancelled}
	if !equal(kinds, v.Kinds) || !equal(states, v.StepStates) {
		t.Fatalf("the event kinds %v or step states %v are not the vectors' %v, %v", kinds, states, v.Kinds, v.StepStates)
	}
	for _, c := range v.Cases {
		line, ok := formatEvent(c.Event)
		switch {
		case c.Line == nil && ok:
			t.Errorf("%+v prints %q, want nothing", c.Event, line)
		case c.Line != nil && (!ok || line != *c.Line):
			t.Errorf("%+v prints %q (%v), want %q", c.Event, line, ok, *c.Line)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
