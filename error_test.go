package tarn

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuote(t *testing.T) {
	long := strings.Repeat("b", 20<<20)
	cases := []struct{ in, want string }{
		{"main", `"main"`},
		{"", `""`},
		{"a\"b\n", `"a\"b\n"`},
		{strings.Repeat("x", 64), `"` + strings.Repeat("x", 64) + `"`},
		{strings.Repeat("x", 65), `"` + strings.Repeat("x", 64) + `"… (65 bytes)`},
		{long, `"` + strings.Repeat("b", 64) + `"… (20971520 bytes)`},
		// A cut never splits a character: 63 bytes of x, then é (2 bytes).
		{strings.Repeat("x", 63) + "éé", `"` + strings.Repeat("x", 63) + `"… (67 bytes)`},
	}
	for _, tc := range cases {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%.80q) = %.120s, want %.120s", tc.in, got, tc.want)
		}
	}
}

func TestCapMessage(t *testing.T) {
	short := "branch \"x\" not found"
	if got := CapMessage(short); got != short {
		t.Fatalf("CapMessage(short) = %q", got)
	}
	long := strings.Repeat("é", MaxMessage) // 2 bytes each
	got := CapMessage(long)
	if len(got) > MaxMessage+64 || !utf8.ValidString(got) || !strings.HasSuffix(got, "… (message cut: 8192 more bytes)") {
		t.Fatalf("CapMessage(long) = %d bytes, ends %q", len(got), got[len(got)-40:])
	}
}

func TestErrorResource(t *testing.T) {
	notFound := Errorf(ENOTFOUND, "branch %q not found", "dev").About(ResourceBranch)
	cases := []struct {
		name             string
		err              error
		resource, reason string
	}{
		{"Nil", nil, "", ""},
		{"Plain", errors.New("boom"), "", ""},
		{"NoResource", Errorf(EINVALID, "bad"), "", ""},
		{"Set", notFound, ResourceBranch, ""},
		{"WrappedByFmt", fmt.Errorf("merge: %w", notFound), ResourceBranch, ""},
		// A redacted copy of the message wraps the original under the same code.
		{"SameCodeWrapper", &Error{Code: ENOTFOUND, Message: "redacted", Err: notFound}, ResourceBranch, ""},
		{"OtherCodeWrapper", Errorf(EINVALID, "cannot merge: %w", notFound), "", ""},
		{"OuterWins", Errorf(ENOTFOUND, "x: %w", notFound).About(ResourceTable), ResourceTable, ""},
		{"Reason", Errorf(EINVALID, "not empty").About(ResourceNamespace).Because(ReasonNotEmpty), ResourceNamespace, ReasonNotEmpty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorResource(tc.err); got != tc.resource {
				t.Errorf("ErrorResource = %q, want %q", got, tc.resource)
			}
			if got := ErrorReason(tc.err); got != tc.reason {
				t.Errorf("ErrorReason = %q, want %q", got, tc.reason)
			}
		})
	}
}
