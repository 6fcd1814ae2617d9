package server

import "testing"

func TestBearerToken(t *testing.T) {
	cases := []struct {
		header, token string
		ok            bool
	}{
		{"Bearer tarn_abc", "tarn_abc", true},
		{"bearer tarn_abc", "tarn_abc", true},
		{"BEARER tarn_abc", "tarn_abc", true},
		{"BeArEr   tarn_abc  ", "tarn_abc", true},
		{"Bearer\ttarn_abc", "", false},
		{"Bearer", "", false},
		{"Bearer    ", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearertarn_abc", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		token, ok := bearerToken(tc.header)
		if token != tc.token || ok != tc.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tc.header, token, ok, tc.token, tc.ok)
		}
	}
}
