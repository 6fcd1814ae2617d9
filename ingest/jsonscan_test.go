package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
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

// FuzzKeyCheckFlat: the key check's member-by-member reading of flat
// lines finds what its byte-by-byte reading finds, on any line it takes;
// each checker sees the line twice, the second time with its memory of
// key positions filled by the first.
func FuzzKeyCheckFlat(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":"x"}`, `{"a": 2.5 , "c":"1"}`, `{"a":true,"late":1}`, `{"b":null,"a":null}`, `{"a":"0x10"}`, `{"a":{"b":1}}`,
		`{"a":1e3}`, `{"a":-}`, `{"a":1-2}`, `{"a":1,}`, `{"a" 1}`, `{}`, `{"a":1}x`, `{"a":"12","b":[1,{"c":2}]}`,
		`{"b":"x\"y","a":1.5}`, `{"b":"x\\","a":2}`, `{"\u0061":1.5}`, `{"a":"1\"","b":1}`, `{"a":-5,"b":"\n"}`, `{"a" : 1 , "b":"x"}`,
		`{"l_orderkey":1,"l_shipinstruct":"x","l_receiptdate_of_the_line":2.5}`, `{"l_orderkey":1.5,"l_orderkez":1}`, `{"l_receiptdate_of_the_lin":1}`} {
		f.Add([]byte(s))
	}
	// Keys whose `"key":` is shorter than 8 bytes, 8 to 16 and longer,
	// for each way keyChecker compares them.
	known := map[string]struct{}{"a": {}, "b": {}, "c": {}, "l_orderkey": {}, "l_shipinstruct": {}, "l_receiptdate_of_the_line": {}}
	ints := map[string]arrow.DataType{"a": arrow.PrimitiveTypes.Int64, "l_orderkey": arrow.PrimitiveTypes.Int64, "l_receiptdate_of_the_line": arrow.PrimitiveTypes.Int32}
	f.Fuzz(func(t *testing.T, line []byte) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] != '{' {
			return
		}
		plain := bytes.IndexByte(line, '\\') < 0
		flat, any := &keyChecker{known: known, ints: ints}, &keyChecker{known: known, ints: ints}
		for range 2 {
			key, msg, ok := flat.checkFlat(line)
			akey, amsg := any.checkAny(line, plain)
			if ok && (key != akey || msg != amsg) {
				t.Fatalf("%q: member by member %q %q; byte by byte %q %q", line, key, msg, akey, amsg)
			}
		}
	})
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
			err := CheckKeys(context.Background(), File{Path: path, Format: JSONL}, known, nil)
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
	if err := CheckKeys(context.Background(), File{Path: path, Format: JSONL}, []string{"id", "zone"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int{0, 1, 57, 120, 198, 199} {
		lines := append([]string(nil), lines...)
		lines[bad] = `{"id":1,"late":2}`
		if bad+50 < len(lines) {
			lines[bad+50] = `{"id":1,"later":2}` // the first one is reported
		}
		path := writeLines(t, lines)
		err := CheckKeys(context.Background(), File{Path: path, Format: JSONL}, []string{"id", "zone"}, nil)
		var ie *Error
		if !errors.As(err, &ie) || ie.Line != bad+1 || ie.Column != "late" {
			t.Fatalf("unknown key on line %d: error %v", bad+1, err)
		}
	}
}

// TestCheckKeys_Integers: the check of integer columns agrees with this
// package's reader on every value it decides: the reader accepts what the
// check passes, and the check refuses what the reader refuses, with the
// reader's file, line, column and message. Nested values and integers out
// of range it leaves to the reader that follows it (which refuses them).
func TestCheckKeys_Integers(t *testing.T) {
	// What the check leaves to the reader after it: nested values, and
	// integer literals out of the column's range.
	left := func(v string, dt arrow.DataType) bool {
		if strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{") {
			return true
		}
		bits := 64
		if dt.ID() == arrow.INT32 {
			bits = 32
		}
		_, err := strconv.ParseInt(v, 10, bits)
		return strings.Trim(v, "-0123456789") == "" && err != nil
	}
	values := []string{
		`0`, `-0`, `7`, `-12`, `123456789`, `1234567890`, `9223372036854775807`, `-9223372036854775808`, `2147483647`, `-2147483648`,
		`2.5`, `1.0`, `1e3`, `1E3`, `-1e-2`, `10.000`, `1e+2`,
		`true`, `false`, `null`,
		`"12"`, `" 12 "`, `"\t12"`, `"+5"`, `"-5"`, `"007"`, `"1e3"`, `"2.5"`, `"0x10"`, `"1_000"`, `""`, `" "`, `"abc"`, `"\u0031\u0032"`, `"1\n"`,
		`[1]`, `{"a":1}`, `9223372036854775808`, `-9223372036854775809`, `2147483648`,
	}
	for _, dt := range []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32} {
		target := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "n", Type: dt, Nullable: true}}, nil)
		for _, v := range values {
			t.Run(dt.String()+"/"+v, func(t *testing.T) {
				// The value on the third line, after lines that fill the
				// checker's memory of the keys' positions.
				path := writeLines(t, []string{`{"s":"a","n":1}`, `{"n":2,"s":"b"}`, `{"s":"c", "n" : ` + v + ` ,"s2":1}`})
				err := CheckKeys(context.Background(), File{Path: path, Format: JSONL}, []string{"s", "n", "s2"}, map[string]arrow.DataType{"n": dt})
				wide := arrow.NewSchema(append(target.Fields(), arrow.Field{Name: "s2", Type: arrow.PrimitiveTypes.Int64, Nullable: true}), nil)
				rdr, rerr := (&Source{Files: []File{{Path: path, Format: JSONL}}}).Records(context.Background(), wide)
				if rerr == nil {
					for rdr.Next() {
					}
					rerr = rdr.Err()
					rdr.Release()
				}
				switch {
				case rerr == nil && err != nil:
					t.Fatalf("the reader reads %s as %s; the check refuses it: %v", v, dt, err)
				case rerr != nil && err == nil && !left(v, dt):
					t.Fatalf("the reader refuses %s as %s (%v); the check passes it", v, dt, rerr)
				case rerr != nil && err != nil && err.Error() != rerr.Error():
					t.Fatalf("the check says %q; the reader %q", err, rerr)
				case rerr == nil && left(v, dt):
					t.Fatalf("the reader reads %s as %s", v, dt)
				}
			})
		}
	}
}

// TestKnownKeyAt: the compare of a key's `"key":` with the bytes of a
// line, for tokens shorter than 8 bytes, of 8 to 16 and longer, each
// against a line differing from it in one byte at every position.
func TestKnownKeyAt(t *testing.T) {
	for _, name := range []string{"a", "abc", "abcde", "abcdef", "l_orderkey", "abcdefghijklmn", "abcdefghijklmno", "l_receiptdate_of_the_line"} {
		k := newKnownKey(name, nil)
		line := []byte("{" + k.token + "1}")
		if !k.at(line, 1, 1+len(k.token)) {
			t.Errorf("%q: not found in %q", k.token, line)
		}
		for p := 1; p < 1+len(k.token); p++ {
			other := bytes.Clone(line)
			other[p] ^= 0x20
			if k.at(other, 1, 1+len(k.token)) {
				t.Errorf("%q: found in %q", k.token, other)
			}
		}
	}
}
