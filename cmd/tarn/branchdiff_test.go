package main

import (
	"strings"
	"testing"
)

// TestCLI_BranchDiffPlan: `tarn branch diff` shows, per table, what a
// merge would do — combine for a table both sides appended to, conflict
// with the reason for one replaced on one side and appended on the other,
// take for a table changed on the source only — and writes nothing; with
// two refs the plan is of REF2 into REF, and none when REF is a tag.
func TestCLI_BranchDiffPlan(t *testing.T) {
	l := newLakehouse(t)
	l.write("a.csv", csvRows(0, 10))
	l.write("b.csv", csvRows(10, 5))
	l.write("c.csv", csvRows(20, 3))
	l.ok("table", "create", "both", "--from", "a.csv")
	l.ok("table", "create", "clash", "--from", "a.csv")
	l.ok("table", "create", "devonly", "--from", "a.csv")
	l.ok("branch", "create", "dev")
	l.ok("table", "import", "both", "--from", "b.csv", "--ref", "dev")
	l.ok("table", "create", "clash", "--from", "c.csv", "--replace", "--ref", "dev")
	l.ok("table", "import", "devonly", "--from", "b.csv", "--ref", "dev")
	l.ok("table", "import", "both", "--from", "c.csv")
	l.ok("table", "import", "clash", "--from", "b.csv")
	l.ok("tag", "create", "v1")
	head := l.ok("branch", "get", "main")

	type item struct{ Key, Action, Source, Target, Reason string }
	var diff struct {
		Changes []struct{ Name string }
		Merge   *struct {
			Source, Into string
			Conflicts    int
			Plan         []item
		}
	}
	check := func(args ...string) {
		t.Helper()
		diff.Merge = nil
		l.json(&diff, append([]string{"branch", "diff"}, args...)...)
		if len(diff.Changes) != 3 || diff.Merge == nil || diff.Merge.Source != "dev" || diff.Merge.Into != "main" || diff.Merge.Conflicts != 1 {
			t.Fatalf("branch diff %v: %+v", args, diff)
		}
		got := map[string]item{}
		for _, it := range diff.Merge.Plan {
			got[it.Key] = it
		}
		if got["tarn.both"].Action != "combine" || got["tarn.devonly"].Action != "take" || got["tarn.clash"].Action != "conflict" || len(got) != 3 {
			t.Fatalf("branch diff %v plan: %+v", args, diff.Merge.Plan)
		}
		if c := got["tarn.clash"]; !strings.Contains(c.Source, "replaced") || !strings.Contains(c.Target, "appended") {
			t.Fatalf("the conflict does not say what each side did: %+v", c)
		}
	}
	check("dev")         // into the active branch, main
	check("main", "dev") // REF2 into REF
	out := l.ok("branch", "diff", "dev")
	for _, want := range []string{"merge plan of dev into main: 3 tables, 1 conflicts", "combine", "conflict", "replaced"} {
		if !strings.Contains(out, want) {
			t.Fatalf("text output lacks %q:\n%s", want, out)
		}
	}
	if after := l.ok("branch", "get", "main"); after != head {
		t.Fatalf("branch diff moved main:\n%s\n%s", head, after)
	}
	// Nothing merges into a tag.
	var tagDiff struct {
		Changes []struct{ Name string }
		Merge   any
	}
	l.json(&tagDiff, "branch", "diff", "v1", "dev")
	if tagDiff.Merge != nil || len(tagDiff.Changes) == 0 {
		t.Fatalf("branch diff v1 dev: %+v (want changes and no plan of a merge into a tag)", tagDiff)
	}
}
