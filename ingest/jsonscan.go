package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
)

// objectParser decodes the lines of a JSON Lines file. Most lines are flat
// objects (keys and strings without escapes, numbers, booleans, nulls):
// those it scans byte by byte, in one pass without allocating per token;
// any other line (escapes, nested values, invalid JSON) goes through
// parseObject, encoding/json's decoder, so both give the same values and
// the same errors. A line is scanned in full before the first visit, so a
// line handed on to parseObject was not visited in part.
type objectParser struct {
	pairs []flatPair
	keys  map[string]string // interned keys: one string per distinct key
	last  []string          // the keys of the last flat line, in order
}

// flatPair is one member of a flat object: the key's bytes and its value.
type flatPair struct {
	key  []byte
	kind jsonKind
	raw  []byte // the number or literal, or the string between its quotes
}

func newObjectParser() *objectParser {
	return &objectParser{keys: make(map[string]string)}
}

// parse decodes one line holding a JSON object and calls visit for each
// member in order, as parseObject does.
func (p *objectParser) parse(line []byte, visit func(key string, v jsonValue) error) error {
	pairs, ok := scanFlatObject(line, p.pairs[:0])
	p.pairs = pairs
	if !ok {
		return parseObject(line, visit)
	}
	for i, m := range pairs {
		// Lines tend to repeat the keys of the line before, in order.
		var key string
		if i < len(p.last) && p.last[i] == string(m.key) {
			key = p.last[i]
		} else {
			var ok bool
			if key, ok = p.keys[string(m.key)]; !ok {
				key = string(m.key)
				if len(p.keys) < 1<<16 {
					p.keys[key] = key
				}
			}
			if i < len(p.last) {
				p.last[i] = key
			} else {
				p.last = append(p.last, key)
			}
		}
		v := jsonValue{kind: m.kind}
		if m.kind != jNull {
			v.text = string(m.raw)
		}
		if err := visit(key, v); err != nil {
			return err
		}
	}
	return nil
}

// jsonSpace reports whether c is JSON whitespace.
func jsonSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scanFlatObject appends the members of line to pairs when line is a flat
// JSON object; ok is false for anything else, valid or not.
func scanFlatObject(line []byte, pairs []flatPair) (_ []flatPair, ok bool) {
	i, n := 0, len(line)
	skip := func() {
		for i < n && jsonSpace(line[i]) {
			i++
		}
	}
	if n == 0 || line[0] != '{' {
		return pairs, false
	}
	i++
	skip()
	if i < n && line[i] == '}' {
		i++
		skip()
		return pairs, i == n
	}
	for {
		// The key.
		if i == n || line[i] != '"' {
			return pairs, false
		}
		end, ascii := plainString(line, i+1)
		if end < 0 {
			return pairs, false
		}
		key := line[i+1 : end]
		if !ascii && !utf8.Valid(key) {
			// encoding/json replaces invalid UTF-8 in keys.
			return pairs, false
		}
		i = end + 1
		skip()
		if i == n || line[i] != ':' {
			return pairs, false
		}
		i++
		skip()
		if i == n {
			return pairs, false
		}
		// The value.
		m := flatPair{key: key}
		switch c := line[i]; {
		case c == '"':
			end, _ := plainString(line, i+1)
			if end < 0 {
				return pairs, false
			}
			m.kind, m.raw = jString, line[i+1:end]
			i = end + 1
		case c == '-' || (c >= '0' && c <= '9'):
			end := scanNumber(line, i)
			if end < 0 {
				return pairs, false
			}
			m.kind, m.raw = jNumber, line[i:end]
			i = end
		case c == 't' && bytes.HasPrefix(line[i:], []byte("true")):
			m.kind, m.raw = jBool, line[i:i+4]
			i += 4
		case c == 'f' && bytes.HasPrefix(line[i:], []byte("false")):
			m.kind, m.raw = jBool, line[i:i+5]
			i += 5
		case c == 'n' && bytes.HasPrefix(line[i:], []byte("null")):
			m.kind = jNull
			i += 4
		default: // nested values, invalid JSON
			return pairs, false
		}
		pairs = append(pairs, m)
		skip()
		if i == n {
			return pairs, false
		}
		switch line[i] {
		case ',':
			i++
			skip()
			continue
		case '}':
			i++
			skip()
			return pairs, i == n
		}
		return pairs, false
	}
}

// plainString returns the index of the quote closing the string that
// starts at line[start], and whether the string is ASCII; -1 when the
// string has an escape or a control character, or does not end.
func plainString(line []byte, start int) (end int, ascii bool) {
	ascii = true
	for i := start; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"':
			return i, ascii
		case c == '\\' || c < 0x20:
			return -1, false
		case c >= 0x80:
			ascii = false
		}
	}
	return -1, false
}

// scanNumber returns the index past the JSON number at line[start], or -1
// when it is not one (RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)
// or is followed by anything but whitespace, ',' or '}'.
func scanNumber(line []byte, start int) int {
	i, n := start, len(line)
	digits := func() bool {
		from := i
		for i < n && line[i] >= '0' && line[i] <= '9' {
			i++
		}
		return i > from
	}
	if line[i] == '-' {
		i++
	}
	switch {
	case i < n && line[i] == '0':
		i++
	case i < n && line[i] >= '1' && line[i] <= '9':
		digits()
	default:
		return -1
	}
	if i < n && line[i] == '.' {
		i++
		if !digits() {
			return -1
		}
	}
	if i < n && (line[i] == 'e' || line[i] == 'E') {
		i++
		if i < n && (line[i] == '+' || line[i] == '-') {
			i++
		}
		if !digits() {
			return -1
		}
	}
	if i < n && !jsonSpace(line[i]) && line[i] != ',' && line[i] != '}' {
		return -1
	}
	return i
}

// CheckKeys reads every line of a JSON Lines file and returns an *Error
// (file, line, column) for the first top-level key that is not one of
// known, or for the first non-blank line that is not a JSON object. It
// does not validate the JSON otherwise: it is the check a reader that
// drops unknown keys needs, in a parallel pass over the file that reads
// it in chunks (memory does not grow with the file).
//
// Integer columns (ints: name to Int64 or Int32) are also checked: a
// value that is not an integer as this package reads it (a number with a
// fraction or an exponent, true or false, a string other than an integer
// between blanks) is an *Error with the message this package's reader
// gives. That is the check a reader parsing JSON numbers straight into
// integers needs, which would round 2.5, read 1e3 as 1000 and true as 1.
// Nested values and out-of-range integers are left to such a reader,
// which refuses them too.
func CheckKeys(ctx context.Context, file File, known []string, ints map[string]arrow.DataType) error {
	st, err := os.Stat(file.Path)
	if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	set := make(map[string]struct{}, len(known))
	for _, k := range known {
		set[k] = struct{}{}
	}
	// Chunks of checkChunkBytes, taken in file order by one worker per
	// core, so the pass moves through the file front to back as the COPY
	// beside it does, and a file larger than the page cache is read from
	// disk once for both (halves, one per core, read it twice at TPC-H
	// SF10: 21 GB of JSON Lines). Each chunk starts after a newline (a
	// line belongs to the chunk where it starts): its bounds are the line
	// starts at or after its nominal offsets, computed by the worker that
	// takes it.
	size := st.Size()
	chunks := int(max(1, (size+checkChunkBytes-1)/checkChunkBytes))
	workers := min(runtime.GOMAXPROCS(0), chunks)
	f, err := os.Open(file.Path)
	if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	defer f.Close()
	bound := func(i int) (int64, error) {
		if i >= chunks {
			return size, nil
		}
		return lineStart(f, int64(i)*checkChunkBytes)
	}
	type result struct {
		lines int    // lines in the chunk (when err is nil)
		err   *Error // with the line within the chunk
		ioErr error
	}
	results := make([]result, chunks)
	// A chunk is skipped, or stops, when an earlier one has found a
	// problem; the chunks before the first problem are read in full, for
	// its line number.
	var mu sync.Mutex
	firstBad := chunks
	stop := func(i int) bool {
		mu.Lock()
		defer mu.Unlock()
		return firstBad < i
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kc := &keyChecker{known: set, ints: ints}
			for {
				i := int(next.Add(1) - 1)
				if i >= chunks || stop(i) {
					return
				}
				r := &results[i]
				from, err := bound(i)
				var to int64
				if err == nil {
					to, err = bound(i + 1)
				}
				if err != nil {
					r.ioErr = fmt.Errorf("reading %s: %w", file.Path, err)
				} else {
					r.lines, r.err, r.ioErr = checkChunk(ctx, io.NewSectionReader(f, from, max(0, to-from)), i == 0, kc, func() bool { return stop(i) })
				}
				if r.err != nil || r.ioErr != nil {
					mu.Lock()
					firstBad = min(firstBad, i)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	line := 0
	for _, r := range results {
		switch {
		case r.err != nil:
			r.err.File, r.err.Line = file.Path, line+r.err.Line
			return r.err
		case r.ioErr != nil:
			return r.ioErr
		}
		line += r.lines
	}
	return nil
}

// checkChunkBytes is the size of CheckKeys' chunks.
var checkChunkBytes int64 = 16 << 20

// lineStart returns the offset of the first line starting at or after at.
func lineStart(f *os.File, at int64) (int64, error) {
	if at == 0 {
		return 0, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, at-1, 1<<62), 1<<16)
	skipped := int64(0)
	for {
		b, err := br.ReadSlice('\n')
		skipped += int64(len(b))
		switch {
		case err == nil:
			return at - 1 + skipped, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return at - 1 + skipped, nil
		default:
			return 0, err
		}
	}
}

// checkChunk checks the lines of one chunk; the *Error's line is within it.
func checkChunk(ctx context.Context, r io.Reader, first bool, kc *keyChecker, stopped func() bool) (lines int, _ *Error, _ error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var long []byte // a line longer than the buffer
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, b...)
			continue
		}
		if long != nil {
			b = append(long, b...)
			long = nil
		}
		if len(b) == 0 && errors.Is(err, io.EOF) {
			return lines, nil, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return lines, nil, err
		}
		lines++
		if lines%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return lines, nil, err
			}
			if stopped() {
				return lines, nil, nil
			}
		}
		if first && lines == 1 {
			b = bytes.TrimPrefix(b, []byte("\ufeff"))
		}
		if b = bytes.TrimSpace(b); len(b) > 0 {
			if key, msg := kc.check(b); msg != "" {
				return lines, &Error{Line: lines, Column: key, Msg: msg}, nil
			}
		}
		if err != nil { // io.EOF after a last line without newline
			return lines, nil, nil
		}
	}
}

// keyChecker finds top-level keys that are not known, and values of
// integer columns that are not integers. Lines tend to hold the keys of
// the line before in the same order, so it compares each key with the
// known key at the same position in the last line (a compare of bytes)
// before it looks it up in known (a hash): the lookups were half the
// check's CPU.
type keyChecker struct {
	known map[string]struct{}
	ints  map[string]arrow.DataType // integer columns, by name
	last  []knownKey                // the known keys of the last line, by position
}

// knownKey is a known key and, for an integer column, its type.
type knownKey struct {
	name       string
	token      string // `"name":`
	int        arrow.DataType
	head, tail uint64 // token's first and last 8 bytes, when it has 8 or more
}

// newKnownKey is the knownKey of a column name, an integer column when
// dt is not nil.
func newKnownKey(name string, dt arrow.DataType) knownKey {
	k := knownKey{name: name, token: `"` + name + `":`, int: dt}
	if t := k.token; len(t) >= 8 {
		k.head, k.tail = binary.LittleEndian.Uint64([]byte(t[:8])), binary.LittleEndian.Uint64([]byte(t[len(t)-8:]))
	}
	return k
}

// at reports whether line[i:e] is k's token, e-i being its length: two
// compares of 8 bytes for a token of 8 to 16 bytes (most keys), which
// cost a third of what a compare of strings did in the key check.
func (k *knownKey) at(line []byte, i, e int) bool {
	switch {
	case len(k.token) < 8:
		return string(line[i:e]) == k.token
	case binary.LittleEndian.Uint64(line[i:]) != k.head || binary.LittleEndian.Uint64(line[e-8:]) != k.tail:
		return false
	}
	return len(k.token) <= 16 || string(line[i+8:e-8]) == k.token[8:len(k.token)-8]
}

// unknownKeyMsg is the message of a key that is not known.
const unknownKeyMsg = "not in the target schema (first seen after the rows the types were inferred from)"

// check returns the first top-level key of the object in line that is
// not known, or the key of the first integer column whose value is not
// an integer, with a message; msg is "" when there is none.
func (kc *keyChecker) check(line []byte) (key, msg string) {
	if line[0] != '{' {
		return "", errNotObject.Error()
	}
	if key, msg, ok := kc.checkFlat(line); ok {
		return key, msg
	}
	// Without a backslash in the line a string ends at the next quote.
	return kc.checkAny(line, bytes.IndexByte(line, '\\') < 0)
}

// numberByte holds the bytes checkFlat takes as part of a number or a
// literal (true, false, null), valid or not.
var numberByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789abcdefghijklmnopqrstuvwxyz.-+E") {
		t[c] = true
	}
	return t
}()

// checkFlat is check for a line whose top-level values are strings,
// numbers, booleans and nulls, the most common kind, read member by
// member; ok is false for any other line, which check then reads byte by
// byte, and for a line where a quote it finds follows a backslash (an
// escape, or a key that has one).
//
// Its fast path is the line shaped as the one before it: at each
// position it first compares the bytes with `"key":` of the known key
// seen there last (one compare for key, quote and colon), and an integer
// column's value made of digits ends at the first byte that is not one.
// Anything else (blanks, another key, a sign or a fraction) takes the
// general route for that member.
func (kc *keyChecker) checkFlat(line []byte) (key, msg string, ok bool) {
	i, n, position := 1, len(line), 0
	for {
		var k *knownKey
		if position < len(kc.last) {
			k = &kc.last[position]
			if e := i + len(k.token); e < n && k.at(line, i, e) {
				i = e
				goto value
			}
		}
		for i < n && jsonSpace(line[i]) {
			i++
		}
		if i == n {
			return "", "", false
		}
		if line[i] == '}' {
			return "", "", i == n-1
		}
		if line[i] != '"' {
			return "", "", false
		}
		{
			j := bytes.IndexByte(line[i+1:], '"')
			if j < 0 {
				return "", "", false
			}
			end := i + 1 + j
			raw := line[i+1 : end]
			if bytes.IndexByte(raw, '\\') >= 0 {
				return "", "", false
			}
			found, known := kc.lookup(raw, position)
			if !known {
				return string(raw), unknownKeyMsg, true
			}
			k = &found
			i = end + 1
			for i < n && jsonSpace(line[i]) {
				i++
			}
			if i == n || line[i] != ':' {
				return "", "", false
			}
			i++
			for i < n && jsonSpace(line[i]) {
				i++
			}
			if i == n {
				return "", "", false
			}
		}
	value:
		position++
		if k.int != nil {
			// Digits, after an optional minus, up to a comma or the end of
			// the object: an integer. Anything else: checkInteger from the
			// colon on.
			start := i
			if line[i] == '-' {
				i++
			}
			digits := i
			for i < n && line[i]-'0' < 10 {
				i++
			}
			if i == digits || i == n || (line[i] != ',' && line[i] != '}') {
				colon := bytes.LastIndexByte(line[:start], ':')
				next, msg := checkInteger(line, colon, bytes.IndexByte(line, '\\') < 0, k.int)
				if msg != "" {
					return k.name, msg, true
				}
				i = next
			}
		} else {
			switch line[i] {
			case '"':
				j := bytes.IndexByte(line[i+1:], '"')
				if j < 0 || line[i+j] == '\\' {
					return "", "", false
				}
				i += j + 2
			case '{', '[':
				return "", "", false
			default: // a number or a literal, valid or not
				for i < n && numberByte[line[i]] {
					i++
				}
			}
		}
		if i < n && line[i] == ',' {
			i++
			continue
		}
		for i < n && jsonSpace(line[i]) {
			i++
		}
		if i == n {
			return "", "", false
		}
		switch line[i] {
		case ',':
			i++
		case '}':
			return "", "", i == n-1 // else not JSON: read it byte by byte, as before
		default:
			return "", "", false
		}
	}
}

// checkAny is check for any line, byte by byte.
func (kc *keyChecker) checkAny(line []byte, plain bool) (key, msg string) {
	depth, expectKey, position := 0, false, 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			if depth == 1 && expectKey {
				var k knownKey
				end := -1
				if plain && position < len(kc.last) {
					// Most often the key of the last line at this position.
					k = kc.last[position]
					if e := i + 1 + len(k.name); e < len(line) && line[e] == '"' && string(line[i+1:e]) == k.name {
						end = e
					}
				}
				if end < 0 {
					var escaped bool
					if end, escaped = quoteEnd(line, i+1, plain); end < 0 {
						return "", "" // invalid JSON: the reader reports it
					}
					raw := line[i+1 : end]
					if escaped {
						var s string
						if json.Unmarshal(line[i:end+1], &s) != nil {
							return "", ""
						}
						raw = []byte(s)
					}
					var ok bool
					if k, ok = kc.lookup(raw, position); !ok {
						return string(raw), unknownKeyMsg
					}
				}
				position++
				if k.int != nil {
					next, msg := checkInteger(line, end+1, plain, k.int)
					if msg != "" {
						return k.name, msg
					}
					i = next - 1
				} else {
					i = end
				}
				expectKey = false
				continue
			}
			end, _ := quoteEnd(line, i+1, plain)
			if end < 0 {
				return "", "" // invalid JSON: the reader reports it
			}
			expectKey = false
			i = end
		case '{':
			depth++
			expectKey = depth == 1
		case '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		case ':':
			expectKey = false
		}
	}
	return "", ""
}

// lookup returns the known key equal to key, the position-th key of its
// line.
func (kc *keyChecker) lookup(key []byte, position int) (knownKey, bool) {
	if position < len(kc.last) && kc.last[position].name == string(key) {
		return kc.last[position], true
	}
	if _, ok := kc.known[string(key)]; !ok {
		return knownKey{}, false
	}
	k := newKnownKey(string(key), kc.ints[string(key)])
	if position < len(kc.last) {
		kc.last[position] = k
	} else if position == len(kc.last) {
		kc.last = append(kc.last, k)
	}
	return k, true
}

// quoteEnd returns the index of the quote closing the string starting at
// line[start] (-1 if none) and whether it has escapes; plain says the
// line has no backslash.
func quoteEnd(line []byte, start int, plain bool) (end int, escaped bool) {
	if !plain {
		return stringEnd(line, start)
	}
	if j := bytes.IndexByte(line[start:], '"'); j >= 0 {
		return start + j, false
	}
	return -1, false
}

// checkInteger checks the value of an integer column of type dt that
// follows its key, from line[from] on (blanks, the colon, blanks, the
// value): next is the index past the value, msg the reader's message for
// a value that is not an integer ("" when it is one, or when the JSON is
// invalid or nested, or the integer out of range, which the reader
// refuses).
func checkInteger(line []byte, from int, plain bool, dt arrow.DataType) (next int, msg string) {
	i, n := from, len(line)
	for i < n && jsonSpace(line[i]) {
		i++
	}
	if i == n || line[i] != ':' {
		return i, ""
	}
	i++
	for i < n && jsonSpace(line[i]) {
		i++
	}
	if i == n {
		return i, ""
	}
	bits := 64
	if dt.ID() == arrow.INT32 {
		bits = 32
	}
	bad := func(text string) string { return (&parseError{value: text, dt: dt}).Error() }
	switch c := line[i]; {
	case c == '-' || (c >= '0' && c <= '9'):
		start, whole := i, true
		for ; i < n; i++ {
			if c := line[i]; c == '.' || c == 'e' || c == 'E' || c == '+' || (c == '-' && i > start) {
				whole = false // a fraction or an exponent, whose whole text the message gives
			} else if c < '0' || c > '9' {
				if c != '-' {
					break
				}
			}
		}
		if !whole {
			text := string(line[start:i])
			if _, err := strconv.ParseFloat(text, 64); err != nil {
				return i, "" // not a JSON number: the reader refuses it
			}
			return i, bad(text)
		}
		return i, "" // or out of range: the reader refuses it too
	case c == '"':
		end, escaped := quoteEnd(line, i+1, plain)
		if end < 0 {
			return i, ""
		}
		text := string(line[i+1 : end])
		if escaped && json.Unmarshal(line[i:end+1], &text) != nil {
			return end + 1, ""
		}
		if _, err := strconv.ParseInt(strings.TrimSpace(text), 10, bits); err != nil {
			return end + 1, bad(text)
		}
		return end + 1, ""
	case c == 't' && bytes.HasPrefix(line[i:], []byte("true")):
		return i + 4, bad("true")
	case c == 'f' && bytes.HasPrefix(line[i:], []byte("false")):
		return i + 5, bad("false")
	case c == 'n' && bytes.HasPrefix(line[i:], []byte("null")):
		return i + 4, ""
	}
	return i, "" // a nested value, invalid JSON
}

// stringEnd returns the index of the quote closing the string starting at
// line[start] (-1 if none) and whether it has escapes.
func stringEnd(line []byte, start int) (end int, escaped bool) {
	for i := start; i < len(line); {
		j := bytes.IndexByte(line[i:], '"')
		if j < 0 {
			return -1, escaped
		}
		j += i
		if k := bytes.IndexByte(line[i:j], '\\'); k >= 0 {
			escaped = true
			// The quote is escaped when an odd number of backslashes precede it.
			n := 0
			for p := j - 1; p >= start && line[p] == '\\'; p-- {
				n++
			}
			if n%2 == 1 {
				i = j + 1
				continue
			}
		}
		return j, escaped
	}
	return -1, escaped
}
