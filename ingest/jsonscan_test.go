package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

type visited struct {
	key  string
	kind jsonKind
	text string
}

func visitAll(parse func([]byte, func(string, jsonValue) error) error, line []byte) ([]visited, string) {
	var got []visited
	err := parse(line, func(k string, v jsonValue) error {
		got = append(got, visited{k, v.kind, v.text})
		return nil
	})
	if err != nil {
		return got, err.Error()
	}
	return got, ""
}

// checkSameAsDecoder fails unless the object parser visits line exactly
// as encoding/json's parseObject does, with the same error.
func checkSameAsDecoder(t *testing.T, line []byte) {
	t.Helper()
	if len(line) == 0 {
		return
	}
	want, wantErr := visitAll(parseObject, line)
	p := newObjectParser()
	for round := range 2 { // the second round uses the interned keys
		got, gotErr := visitAll(p.parse, line)
		if gotErr != wantErr || (wantErr == "" && !reflect.DeepEqual(got, want)) {
			t.Fatalf("round %d: %q: parsed %v (error %q), encoding/json gives %v (error %q)", round, line, got, gotErr, want, wantErr)
		}
	}
}

func TestObjectParser_SameAsDecoder(t *testing.T) {
	tests := []struct {
		line string
		flat bool // taken by the byte scanner
	}{
		{`{"a":1,"b":"x","c":true,"d":false,"e":null}`, true},
		{`{}`, true},
		{`{ "a" : -0.5e+10 , "b" : "" } `, true},
		{` {"a":1}`, false},
		{"{\"a\":1,\t\"b\":2}", true},
		{`{"n":9223372036854775807,"m":9223372036854775808,"big":123456789012345678901234567890}`, true},
		{`{"f":1.0,"g":1E3,"h":-0,"i":0.0001}`, true},
		{`{"é":"ünïcødé ☃ 𝄞","日本":"語"}`, true},
		{`{"a":1,"a":2}`, true},
		{`{"ts":"2024-01-02T03:04:05Z","d":"2024-01-02"}`, true},
		{"{\"bad utf8\":\"\xff\xfe\"}", true},
		// Not flat: encoding/json decides.
		{`{"a":"x\"y"}`, false},
		{`{"a\u00e9":1}`, false},
		{`{"a":"\u00e9\n"}`, false},
		{"{\"bad utf8 key \xff\":1}", false},
		{`{"a":{"b":[1,2]}}`, false},
		{`{"a":[]}`, false},
		{`{"a":01}`, false},
		{`{"a":1.}`, false},
		{`{"a":.5}`, false},
		{`{"a":-}`, false},
		{`{"a":1e}`, false},
		{`{"a":+1}`, false},
		{`{"a":NaN}`, false},
		{`{"a":tru}`, false},
		{`{"a":truex}`, false},
		{`{"a":nul}`, false},
		{`{"a":1,}`, false},
		{`{"a":1 "b":2}`, false},
		{`{"a" 1}`, false},
		{`{a:1}`, false},
		{`{"a":1}x`, false},
		{`{"a":1}{"a":2}`, false},
		{`{"a":1`, false},
		{`{"a":"open`, false},
		{"{\"a\":\"tab\there\"}", false},
		{`[1,2]`, false},
		{`"x"`, false},
		{`{"a":1}}`, false},
		{`{"a":12e5x}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			if _, ok := scanFlatObject([]byte(tt.line), nil); ok != tt.flat {
				t.Errorf("scanFlatObject(%q) ok = %v, want %v", tt.line, ok, tt.flat)
			}
			checkSameAsDecoder(t, []byte(tt.line))
		})
	}
}

func FuzzObjectParser(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":"x"}`, `{"a":{"b":1}}`, `{"a":-1.5e3,"c":null,"d":true}`, `{"a":"\u00e9"}`, `{}`, `{"a":01}`, `[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkSameAsDecoder(t, line) })
}

func writeLines(t *testing.T, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckKeys(t *testing.T) {
	known := []string{"id", "zone", "é"}
	tests := []struct {
		name    string
		lines   []string
		line    int
		column  string
		message string
	}{
		{"OK", []string{`{"id":1,"zone":"a"}`, "", `  {"é":{"x":[{"other":1}]},"zone":"a,\"b\"}"}`, `{}`}, 0, "", ""},
		{"ErrLateKey", []string{`{"id":1}`, `{"id":2}`, "", `{"id":3,"extra":"x"}`}, 4, "extra", "not in the target schema"},
		{"ErrEscapedKey", []string{`{"id":1}`, `{"z\u006fne2":1}`}, 2, "zone2", "not in the target schema"},
		{"OKEscapedKnownKey", []string{`{"\u00e9":1,"z\u006fne":"\"x\\"}`}, 0, "", ""},
		{"OKKeyLookalikeInString", []string{`{"zone":"{\"extra\":1}"}`, `{"zone":"a\\","id":2}`}, 0, "", ""},
		{"ErrNotObject", []string{`{"id":1}`, `[1,2]`}, 2, "", "line is not a JSON object"},
		{"ErrKeyInNestedArrayIgnoredTopLevelChecked", []string{`{"id":[{"deep":1},2],"late":1}`}, 1, "late", "not in the target schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeLines(t, tt.lines)
			err := CheckKeys(context.Background(), File{Path: path, Format: JSONL}, known)
			if tt.message == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ie *Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T), want an *Error", err, err)
			}
			if ie.File != path || ie.Line != tt.line || ie.Column != tt.column || !strings.Contains(ie.Msg, tt.message) {
				t.Fatalf("error %+v, want line %d column %q message %q", ie, tt.line, tt.column, tt.message)
			}
		})
	}
}

// TestCheckKeys_Chunks: in a file split among cores, the first unknown key
// is found with its line number, whichever chunk holds it.
func TestCheckKeys_Chunks(t *testing.T) {
	defer func(n int64) { checkChunkBytes = n }(checkChunkBytes)
	checkChunkBytes = 64
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	}
	lines := make([]string, 200)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"id":%d,"zone":"z%d"}`, i, i%7)
	}
	path := writeLines(t, lines)
	if err := CheckKeys(context.Background(), File{Path: path, Format: JSONL}, []string{"id", "zone"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int{0, 1, 57, 120, 198, 199} {
		lines := append([]string(nil), lines...)
		lines[bad] = `{"id":1,"late":2}`
		if bad+50 < len(lines) {
			lines[bad+50] = `{"id":1,"later":2}` // the first one is reported
		}
		path := writeLines(t, lines)
		err := CheckKeys(context.Background(), File{Path: path, Format: JSONL}, []string{"id", "zone"})
		var ie *Error
		if !errors.As(err, &ie) || ie.Line != bad+1 || ie.Column != "late" {
			t.Fatalf("unknown key on line %d: error %v", bad+1, err)
		}
	}
}
