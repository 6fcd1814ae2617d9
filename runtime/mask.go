package runtime

import (
	"encoding/json"
	"sort"
	"strings"
)

// MaskText replaces a secret value in what a worker prints.
const MaskText = "***"

// A Masker hides secret values in text: each value becomes ***, and so do
// each line of a value that spans lines and the value's JSON-escaped form
// (how it appears in a printed dict or a JSON document). It is a guard
// against accidents, not against a step that wants the value out (which
// may encode it first). A nil *Masker hides nothing.
type Masker struct{ r *strings.Replacer }

// NewMasker returns a Masker of the values (nil when none is non-empty).
func NewMasker(values ...string) *Masker {
	seen := map[string]bool{}
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		forms := []string{v}
		if b, err := json.Marshal(v); err == nil {
			forms = append(forms, strings.Trim(string(b), `"`))
		}
		if strings.Contains(v, "\n") {
			for _, line := range strings.Split(v, "\n") {
				forms = append(forms, strings.TrimSuffix(line, "\r"))
			}
		}
		for _, f := range forms {
			if strings.TrimSpace(f) != "" {
				seen[f] = true
			}
		}
	}
	if len(seen) == 0 {
		return nil
	}
	forms := make([]string, 0, len(seen))
	for f := range seen {
		forms = append(forms, f)
	}
	// Longest first: where two forms start at one place, the longer wins.
	sort.Slice(forms, func(i, j int) bool {
		if len(forms[i]) != len(forms[j]) {
			return len(forms[i]) > len(forms[j])
		}
		return forms[i] < forms[j]
	})
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, MaskText)
	}
	return &Masker{r: strings.NewReplacer(pairs...)}
}

// Mask returns s with the values hidden.
func (m *Masker) Mask(s string) string {
	if m == nil {
		return s
	}
	return m.r.Replace(s)
}

// secretValues are the values of a step's secrets.
func secretValues(secrets map[string]string) []string {
	out := make([]string, 0, len(secrets))
	for _, v := range secrets {
		out = append(out, v)
	}
	return out
}
