package tarn

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRef(t *testing.T) {
	day := time.Date(2026, 5, 19, 0, 0, 0, 0, time.UTC)
	hash := strings.Repeat("ab", 32)
	cases := []struct {
		in   string
		want RefExpr
	}{
		{"main", RefExpr{Base: "main"}},
		{"main~", RefExpr{Base: "main", Steps: []RefStep{{Ancestors: 1}}}},
		{"main~3~2", RefExpr{Base: "main", Steps: []RefStep{{Ancestors: 3}, {Ancestors: 2}}}},
		{"main@{2026-05-19}", RefExpr{Base: "main", Steps: []RefStep{{AsOf: day}}}},
		{"main@abcd", RefExpr{Base: "main", Steps: []RefStep{{Commit: "abcd"}}}},
		{"alice.dev@" + hash, RefExpr{Base: "alice.dev", Steps: []RefStep{{Commit: hash}}}},
		{"v1@0123abcd~2", RefExpr{Base: "v1", Steps: []RefStep{{Commit: "0123abcd"}, {Ancestors: 2}}}},
		{"main@abcd@{2026-05-19}", RefExpr{Base: "main", Steps: []RefStep{{Commit: "abcd"}, {AsOf: day}}}},
	}
	for _, tc := range cases {
		got, err := ParseRef(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRef_Err(t *testing.T) {
	cases := []struct{ in, mentions string }{
		{"", "empty"},
		{"~1", "must start with"},
		{"@abcd", "must start with"},
		{"main@", "after @ give a commit hash (4 to 64 lowercase hex digits)"},
		{"main@abc", "after @ give a commit hash"},
		{"main@ABCD", "lowercase hex"},
		{"main@abcz", "after @ give a commit hash"},
		{"main@" + strings.Repeat("a", 65), "after @ give a commit hash"},
		{"main~1@abcd", "@abcd must follow the branch or tag name, as in main@abcd~1"},
		{"main@abcd@abcd", "must follow the branch or tag name"},
		{"main@{yesterday}", "RFC3339"},
		{"main~x", "unexpected"},
	}
	for _, tc := range cases {
		_, err := ParseRef(tc.in)
		if ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), tc.mentions) {
			t.Errorf("ParseRef(%q) = %v, want an invalid error mentioning %q", tc.in, err, tc.mentions)
		}
	}
}
