package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"unicode/utf8"
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
func CheckKeys(ctx context.Context, file File, known []string) error {
	st, err := os.Stat(file.Path)
	if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	set := make(map[string]struct{}, len(known))
	for _, k := range known {
		set[k] = struct{}{}
	}
	// Chunks of at least checkChunkBytes, one per core: each starts
	// after a newline, so a line belongs to the chunk where it starts.
	size := st.Size()
	workers := int(min(int64(runtime.GOMAXPROCS(0)), max(1, size/checkChunkBytes)))
	bounds := make([]int64, workers+1)
	f, err := os.Open(file.Path)
	if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	defer f.Close()
	bounds[workers] = size
	for w := 1; w < workers; w++ {
		at, err := lineStart(f, size*int64(w)/int64(workers))
		if err != nil {
			return fmt.Errorf("reading %s: %w", file.Path, err)
		}
		bounds[w] = max(at, bounds[w-1])
	}
	type result struct {
		lines int    // lines in the chunk (when err is nil)
		err   *Error // with the line within the chunk
		ioErr error
	}
	results := make([]result, workers)
	// A chunk stops when an earlier one has found a problem; the chunks
	// before the first problem are read in full, for its line number.
	var mu sync.Mutex
	firstBad := workers
	stop := func(w int) bool {
		mu.Lock()
		defer mu.Unlock()
		return firstBad < w
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[w]
			r.lines, r.err, r.ioErr = checkChunk(ctx, io.NewSectionReader(f, bounds[w], bounds[w+1]-bounds[w]), w == 0, set, func() bool { return stop(w) })
			if r.err != nil || r.ioErr != nil {
				mu.Lock()
				firstBad = min(firstBad, w)
				mu.Unlock()
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

// checkChunkBytes is the smallest chunk CheckKeys gives a core.
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
func checkChunk(ctx context.Context, r io.Reader, first bool, known map[string]struct{}, stopped func() bool) (lines int, _ *Error, _ error) {
	br := bufio.NewReaderSize(r, 1<<20)
	kc := &keyChecker{known: known}
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
			if key, msg := kc.unknownKey(b); msg != "" {
				return lines, &Error{Line: lines, Column: key, Msg: msg}, nil
			}
		}
		if err != nil { // io.EOF after a last line without newline
			return lines, nil, nil
		}
	}
}

// keyChecker finds top-level keys that are not known. Lines tend to hold
// the keys of the line before in the same order, so it compares each key
// with the known key at the same position in the last line (a compare of
// bytes) before it looks it up in known (a hash): the lookups were half
// the check's CPU.
type keyChecker struct {
	known map[string]struct{}
	last  []string // the known keys of the last line, by position
}

// unknownKey returns the first top-level key of the object in line that
// is not known, with a message; msg is "" when there is none.
func (kc *keyChecker) unknownKey(line []byte) (key, msg string) {
	if line[0] != '{' {
		return "", errNotObject.Error()
	}
	depth, expectKey, position := 0, false, 0
	// Without a backslash in the line a string ends at the next quote.
	plain := bytes.IndexByte(line, '\\') < 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			end, escaped := -1, false
			if plain {
				if j := bytes.IndexByte(line[i+1:], '"'); j >= 0 {
					end = i + 1 + j
				}
			} else {
				end, escaped = stringEnd(line, i+1)
			}
			if end < 0 {
				return "", "" // invalid JSON: the reader reports it
			}
			if depth == 1 && expectKey {
				raw := line[i+1 : end]
				if escaped {
					var s string
					if json.Unmarshal(line[i:end+1], &s) != nil {
						return "", ""
					}
					raw = []byte(s)
				}
				if !kc.isKnown(raw, position) {
					return string(raw), "not in the target schema (first seen after the rows the types were inferred from)"
				}
				position++
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

// isKnown reports whether key, the position-th key of its line, is known.
func (kc *keyChecker) isKnown(key []byte, position int) bool {
	if position < len(kc.last) && kc.last[position] == string(key) {
		return true
	}
	if _, ok := kc.known[string(key)]; !ok {
		return false
	}
	if position < len(kc.last) {
		kc.last[position] = string(key)
	} else if position == len(kc.last) {
		kc.last = append(kc.last, string(key))
	}
	return true
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
