//go:build integration

package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPipeline_BadOutputSchema: a model whose output cannot be stored as a
// queryable table (a column of type null, names SQL cannot tell apart or
// cannot name, too many columns) fails the run with exit 2 and a message
// naming the column, before anything is written; nothing is published.
func TestPipeline_BadOutputSchema(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	cases := []struct {
		name   string
		output string
		want   []string
	}{
		{"NullColumn", `pa.table({"a": [1, 2], "n": pa.nulls(2)})`, []string{`column "n"`, "type null", "pa.string()"}},
		{"CaseOnlyDuplicate", `pa.table({"fare": [1], "Fare": [2]})`, []string{`"fare" and "Fare" differ only in case`}},
		{"NUL", `pa.table({"a\x00b": [1]})`, []string{`"a\x00b"`, "U+0000"}},
		{"NestedDuplicate", `pa.table({"s": pa.array([{"x": 1, "X": 2}])})`, []string{`column "s"`, `"x" and "X"`}},
		{"TooManyColumns", `pa.table({f"c{i}": [i] for i in range(5000)})`, []string{"5000 columns", "4096"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := project(t, map[string]string{"m.py": "import tarn\nimport pyarrow as pa\n\n" +
				"@tarn.model(materialization_strategy=\"REPLACE\")\ndef m():\n    return " + tc.output + "\n"})
			tarn(t, home, "branch", "ls") // initialize
			before := head(t, home, "main")
			r := tarnRun(t, home, "run", "-p", dir)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2:\n%s", r.code, r.stderr)
			}
			for _, w := range append(tc.want, "materialize m into tarn.m", "nothing was published") {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr does not mention %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "internal error") {
				t.Fatalf("reported as an internal error:\n%s", r.stderr)
			}
			if head(t, home, "main") != before || rowsOf(t, home, "main", "tarn.m") != -1 {
				t.Fatal("a failed run changed main")
			}
		})
	}
}
