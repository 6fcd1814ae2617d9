package icerest

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestPage: every pageSize and pageToken, however large or negative,
// gives a page or a 400, never a panic.
func TestPage(t *testing.T) {
	items := []string{"a", "b", "c"}
	for _, tc := range []struct {
		size, token string
		want        []string
		next        string // "" for the last page
		err         string
	}{
		{size: "", want: items},
		{size: "1", want: []string{"a"}, next: "a"},
		{size: "2", token: "a", want: []string{"b", "c"}},
		{size: "1", token: "b", want: []string{"c"}},
		{size: "3", want: items},
		{size: "9223372036854775807", want: items},
		{size: "9223372036854775807", token: "a", want: []string{"b", "c"}},
		{size: "9223372036854775807", token: "c", want: []string{}},
		{size: "9223372036854775807", token: "zzz", want: []string{}},
		{size: "9223372036854775806", token: "b", want: []string{"c"}},
		{size: "1", token: "zzz", want: []string{}},
		{size: "1", token: "9223372036854775807", want: []string{"a"}, next: "a"},
		{size: "1", token: "-1", want: []string{"a"}, next: "a"},
		{size: "9223372036854775808", err: "give a number of at least 1"},
		{size: "0", err: "give a number of at least 1"},
		{size: "-1", err: "give a number of at least 1"},
		{size: "-9223372036854775808", token: "a", err: "give a number of at least 1"},
		{size: "x", err: "give a number of at least 1"},
	} {
		t.Run("pageSize="+tc.size+",pageToken="+tc.token, func(t *testing.T) {
			q := url.Values{}
			if tc.size != "" {
				q.Set("pageSize", tc.size)
			}
			if tc.token != "" {
				q.Set("pageToken", tc.token)
			}
			r := httptest.NewRequest("GET", "/v1/main/namespaces?"+q.Encode(), nil)
			got, next, err := page(r, items, func(s string) string { return s })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("page %q, want %q", got, tc.want)
			}
			if (next == nil) != (tc.next == "") || next != nil && *next != tc.next {
				t.Errorf("next token %v, want %q", next, tc.next)
			}
		})
	}
}
