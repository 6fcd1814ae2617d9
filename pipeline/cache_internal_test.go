package pipeline

import "testing"

func TestNormalizeSQL(t *testing.T) {
	base := normalizeSQL("select a, b from t where s = 'x  -- y' and c > 1")
	same := []string{
		"-- tarn: materialization_strategy=REPLACE\nselect a,  b\nfrom t   -- the table\nwhere s = 'x  -- y' /* c */ and c > 1\n",
		"  select a, b from t where s = 'x  -- y' and c > 1  ",
	}
	for _, s := range same {
		if got := normalizeSQL(s); got != base {
			t.Errorf("normalizeSQL(%q) = %q, want %q", s, got, base)
		}
	}
	different := []string{
		"select a, b from t where s = 'x -- y' and c > 1", // inside a string, spaces count
		"select a, b from t where s = 'x  -- y' and c > 2",
		"select a, b, c from t where s = 'x  -- y' and c > 1",
	}
	for _, s := range different {
		if normalizeSQL(s) == base {
			t.Errorf("normalizeSQL(%q) equals the base", s)
		}
	}
}

func TestContentKey(t *testing.T) {
	if contentKey("ab", "c") == contentKey("a", "bc") {
		t.Fatal("parts are not delimited")
	}
	if k := contentKey("x"); len(k) != 64 || k != contentKey("x") {
		t.Fatalf("key %q", k)
	}
}
