package server

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
)

// component compiles a schema of the API document's components without
// its format, so that only what the document states (pattern, not,
// lengths) is checked.
func component(t *testing.T, name string) *schema {
	t.Helper()
	c := &compiler{refs: map[string]*schema{}}
	var doc map[string]any
	if err := yamlUnmarshal(&doc); err != nil {
		t.Fatal(err)
	}
	c.doc = doc
	s, err := c.compile(map[string]any{"$ref": "#/components/schemas/" + name})
	if err != nil {
		t.Fatal(err)
	}
	cp := *s
	cp.format = ""
	return &cp
}

// samples are strings from an alphabet of the characters that matter to
// names and refs, with the interesting ones written out.
func samples(n int, alphabet string, fixed ...string) []string {
	r := rand.New(rand.NewSource(1))
	out := append([]string{}, fixed...)
	for i := 0; i < n; i++ {
		b := make([]byte, 1+r.Intn(12))
		for j := range b {
			b[j] = alphabet[r.Intn(len(alphabet))]
		}
		out = append(out, string(b))
	}
	return out
}

// TestSpec_NamesAgree: what the API document allows for a name is what
// the domain's validation allows, so a request the document accepts is
// not refused for its syntax, and the other way round.
func TestSpec_NamesAgree(t *testing.T) {
	cases := []struct {
		schema   string
		domain   func(string) error
		alphabet string
		fixed    []string
	}{
		{"RefName", func(s string) error { return tarn.ValidateRefName(tarn.KindBranch, s) }, "ab0./-_HEADf~@ ",
			[]string{"main", "HEAD", "deadbeef", "deadbee", "a..b", "a//b", "a/", "a.", ".a", "-a", "a./b", "a/.b", "alice.dev", strings.Repeat("a", 128), strings.Repeat("a", 129), ""}},
		{"NamespaceName", tarn.ValidateNamespace, "aZ_0-.mMiInNtTeEpP",
			[]string{"main", "MAIN", "Temp", "information_schema", "pg_catalog", "system", "tarn", "_x", "0x", strings.Repeat("n", 129)}},
		{"TableName", tarn.ValidateTableName, "aZ_0-. ", []string{"t", "_", "0t", "a b", strings.Repeat("t", 128), strings.Repeat("t", 129)}},
		{"TablePath", func(s string) error { _, err := tarn.ParseTableIdent(s, tarn.DefaultNamespace); return err }, "aZ_0.-mMiInN",
			[]string{"t", "tarn.t", "main.t", "Main.t", "a.b.c", ".t", "t.", "main", strings.Repeat("n", 128) + "." + strings.Repeat("t", 128), strings.Repeat("n", 129) + ".t"}},
	}
	for _, tc := range cases {
		t.Run(tc.schema, func(t *testing.T) {
			s := component(t, tc.schema)
			for _, v := range samples(20000, tc.alphabet, tc.fixed...) {
				spec := s.validate(v, "", nil) == nil
				domain := tc.domain(v) == nil
				if spec != domain {
					t.Fatalf("%q: the document says %v, the server's validation %v", v, spec, domain)
				}
			}
		})
	}
}

// TestSpec_RefsAgree: every ref the document allows parses.
func TestSpec_RefsAgree(t *testing.T) {
	s := component(t, "RefExpr")
	fixed := []string{"main", "main~", "main~3", "main~1234567890", "main@{2026-05-19}", "main@{2026-05-19T06:11:33Z}", "v1@{2026-05-19T06:11:33.5+02:00}~2",
		"main@{2026-02-30}", "main@{yesterday}", "~1", "@{2026-01-01}", "main@", "main~x", "a b",
		"main@abcd", "main@abc", "main@ABCD", "main@abcd~2", "main~2@abcd", "main@abcd@abcd", "main@abcd@{2026-01-01}", "v1@0123456789abcdef",
		"main@" + strings.Repeat("a", 64), "main@" + strings.Repeat("a", 65)}
	accepted, hashSteps := 0, 0
	for _, v := range samples(20000, "m~@{}0129-:TZ.+a ", fixed...) {
		if s.validate(v, "", nil) != nil {
			continue
		}
		accepted++
		expr, err := tarn.ParseRef(v)
		if err != nil {
			t.Fatalf("%q: the document allows it, the server refuses it: %v", v, err)
		}
		if len(expr.Steps) > 0 && expr.Steps[0].Commit != "" {
			hashSteps++
		}
	}
	if accepted < 100 || hashSteps < 5 {
		t.Fatalf("only %d samples are refs, %d with @HASH", accepted, hashSteps)
	}
	// And the other way round for @HASH: what parses, the document allows.
	for _, v := range fixed {
		if expr, err := tarn.ParseRef(v); err == nil && len(expr.Steps) > 0 && expr.Steps[0].Commit != "" && s.validate(v, "", nil) != nil {
			t.Fatalf("%q parses, the document refuses it", v)
		}
	}
}
