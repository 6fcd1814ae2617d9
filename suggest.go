package tarn

import (
	"sort"
	"strings"
)

// Suggest returns ` (did you mean "x"?)` naming the candidates closest to
// name, or "" when none is close. A candidate equal to name is never
// offered: a message saying "x not found (did you mean x?)" helps no one,
// so the caller must explain such a case itself. Error messages append it.
func Suggest(name string, candidates []string) string {
	type scored struct {
		s string
		d int
	}
	var close []scored
	lname := strings.ToLower(name)
	for _, c := range candidates {
		if c == name {
			continue
		}
		lc := strings.ToLower(c)
		d := editDistance(lname, lc)
		limit := max(1, (len(name)+2)/3)
		if d <= limit || (len(lname) >= 3 && (strings.Contains(lc, lname) || strings.Contains(lname, lc))) {
			close = append(close, scored{c, d})
		}
	}
	if len(close) == 0 {
		return ""
	}
	sort.Slice(close, func(i, j int) bool {
		if close[i].d != close[j].d {
			return close[i].d < close[j].d
		}
		return close[i].s < close[j].s
	})
	if len(close) > 3 {
		close = close[:3]
	}
	quoted := make([]string, len(close))
	for i, c := range close {
		quoted[i] = `"` + c.s + `"`
	}
	return " (did you mean " + strings.Join(quoted, " or ") + "?)"
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and adjacent transpositions cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
