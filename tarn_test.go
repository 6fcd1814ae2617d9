package tarn_test

import (
	"testing"

	"github.com/tarnhq/tarn"
)

func TestSameState(t *testing.T) {
	ns := func(props map[string]string) *tarn.Entry {
		return &tarn.Entry{Kind: tarn.EntryNamespace, Properties: props}
	}
	tbl := func(loc string, rows int64) *tarn.Entry {
		return &tarn.Entry{Kind: tarn.EntryTable, Metadata: loc, Rows: rows}
	}
	for _, tc := range []struct {
		name string
		a, b *tarn.Entry
		same bool
	}{
		{"both absent", nil, nil, true},
		{"one absent", nil, ns(nil), false},
		{"same table, other counters", tbl("m1", 1), tbl("m1", 2), true},
		{"another metadata file", tbl("m1", 1), tbl("m2", 1), false},
		{"no properties and empty ones", ns(nil), ns(map[string]string{}), true},
		{"a property changed", ns(map[string]string{"owner": "a"}), ns(map[string]string{"owner": "b"}), false},
		{"a property added", ns(nil), ns(map[string]string{"owner": "a"}), false},
	} {
		if got := tarn.SameState(tc.a, tc.b); got != tc.same {
			t.Errorf("%s: SameState = %v", tc.name, got)
		}
	}
}
