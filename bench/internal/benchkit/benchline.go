package benchkit

import (
	"encoding/json"
	"strings"
)

// BenchLine decodes the JSON of a "BENCH {...}" line, the figures the
// benchmarks' Python helpers print, into v. It reports whether line is
// one; a BENCH line whose JSON does not decode leaves v as the decoder
// left it.
func BenchLine(line string, v any) bool {
	rest, ok := strings.CutPrefix(line, "BENCH ")
	if ok {
		json.Unmarshal([]byte(rest), v)
	}
	return ok
}
