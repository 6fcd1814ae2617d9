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
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/tarnhq/tarn"
)

// jsonKind is the JSON type of a value.
type jsonKind uint8

const (
	jNull jsonKind = iota
	jNumber
	jBool
	jString
	jNested // object or array, kept as compact JSON text
)

// jsonValue is one value of a JSON object: its JSON type and its text (the
// number literal, "true"/"false", the decoded string or compact JSON).
type jsonValue struct {
	kind jsonKind
	text string
}

// kind returns the inferred kind of a JSON value: numbers are long when
// integral (no fraction or exponent) else double, strings stay strings
// unless they are RFC 3339 timestamps with an offset.
func (v jsonValue) inferKind() kind {
	switch v.kind {
	case jNull:
		return kNull
	case jBool:
		return kBool
	case jNumber:
		if _, err := strconv.ParseInt(v.text, 10, 64); err == nil {
			return kInt
		}
		if _, err := strconv.ParseFloat(v.text, 64); err == nil {
			return kFloat
		}
	case jString:
		if _, offset, ok := parseTimestamp(v.text); ok && offset {
			return kTSTZ
		}
	}
	return kString
}

// jsonlFile reads the non-blank lines of a JSON Lines file.
type jsonlFile struct {
	f    *os.File
	br   *bufio.Reader
	path string
	line int // 1-based number of the last line read
}

func openJSONL(file File) (*jsonlFile, error) {
	f, err := os.Open(file.Path)
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	return &jsonlFile{f: f, br: bufio.NewReaderSize(f, 1<<16), path: file.Path}, nil
}

// nextLine returns the next non-blank line, or nil at the end of the file.
func (j *jsonlFile) nextLine() ([]byte, error) {
	for {
		b, err := j.br.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			return nil, nil
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading %s: %w", j.path, err)
		}
		j.line++
		if j.line == 1 {
			b = bytes.TrimPrefix(b, []byte("\ufeff"))
		}
		b = bytes.TrimSpace(b)
		if len(b) > 0 {
			return b, nil
		}
		if err == io.EOF {
			return nil, nil
		}
	}
}

func (j *jsonlFile) close() error { return j.f.Close() }

// errNotObject is the message for a line that is not a JSON object.
var errNotObject = errors.New("line is not a JSON object")

// parseObject decodes one line holding a JSON object and calls visit for
// each member in order. Errors are messages without location.
func parseObject(line []byte, visit func(key string, v jsonValue) error) error {
	if line[0] != '{' {
		return errNotObject
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return jsonSyntax(err)
	}
	var buf bytes.Buffer
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonSyntax(err)
		}
		key, ok := tok.(string)
		if !ok {
			return errNotObject
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonSyntax(err)
		}
		v, err := rawValue(raw, &buf)
		if err != nil {
			return jsonSyntax(err)
		}
		if err := visit(key, v); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // closing brace
		return jsonSyntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

func jsonSyntax(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("invalid JSON: unexpected end of line")
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

// rawValue classifies one raw JSON value.
func rawValue(raw json.RawMessage, buf *bytes.Buffer) (jsonValue, error) {
	switch raw[0] {
	case 'n':
		return jsonValue{kind: jNull}, nil
	case 't', 'f':
		return jsonValue{kind: jBool, text: string(raw)}, nil
	case '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			return jsonValue{kind: jString, text: string(raw[1 : len(raw)-1])}, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return jsonValue{}, err
		}
		return jsonValue{kind: jString, text: s}, nil
	case '{', '[':
		buf.Reset()
		if err := json.Compact(buf, raw); err != nil {
			return jsonValue{}, err
		}
		return jsonValue{kind: jNested, text: buf.String()}, nil
	}
	return jsonValue{kind: jNumber, text: string(raw)}, nil
}

// inferJSONL reads a whole JSON Lines file and infers each key's kind;
// columns are in first-seen order.
func inferJSONL(ctx context.Context, file File, sample int) (*fileInfo, error) {
	j, err := openJSONL(file)
	if err != nil {
		return nil, err
	}
	defer j.close()
	var (
		names   []string
		kinds   []kind
		index   = make(map[string]int)
		checked tarn.ColumnNames
	)
	visit := func(key string, v jsonValue) error {
		i, ok := index[key]
		if !ok {
			if err := tarn.ValidColumnCount(len(names) + 1); err != nil {
				return err
			}
			if err := checked.Add(key); err != nil {
				return err
			}
			i = len(names)
			index[key] = i
			names = append(names, key)
			kinds = append(kinds, kNull)
		}
		if kinds[i] != kString {
			kinds[i] = join(kinds[i], v.inferKind())
		}
		return nil
	}
	parser := newObjectParser()
	rows, whole := 0, false
	for ; sample == 0 || rows < sample; rows++ {
		if rows%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line, err := j.nextLine()
		if err != nil {
			return nil, err
		}
		if line == nil {
			whole = true
			break
		}
		if err := parser.parse(line, visit); err != nil {
			return nil, &Error{File: file.Path, Line: j.line, Msg: err.Error()}
		}
	}
	if rows == 0 {
		return nil, &Error{File: file.Path, Msg: "file is empty"}
	}
	if !whole {
		// The sample ended: is it the file's end?
		line, err := j.nextLine()
		whole = err == nil && line == nil
	}
	info := &fileInfo{names: names, types: make([]arrow.DataType, len(kinds)), textual: true, whole: whole}
	for i, k := range kinds {
		info.types[i] = k.arrowType()
	}
	return info, nil
}

// jsonlReader produces record batches of the target schema from a JSON
// Lines file.
type jsonlReader struct {
	j      *jsonlFile
	schema *arrow.Schema
	bld    *array.RecordBuilder
	index  map[string]int // target field index by name
	apps   []textAppender
	cells  []jsonValue // current row, by target field
	parser *objectParser
	visit  func(key string, v jsonValue) error
	done   bool
}

func newJSONLReader(file File, target *arrow.Schema) (*jsonlReader, error) {
	j, err := openJSONL(file)
	if err != nil {
		return nil, err
	}
	r := &jsonlReader{
		j:      j,
		schema: target,
		bld:    array.NewRecordBuilder(mem, target),
		index:  make(map[string]int, target.NumFields()),
		apps:   make([]textAppender, target.NumFields()),
		cells:  make([]jsonValue, target.NumFields()),
		parser: newObjectParser(),
	}
	for i, f := range target.Fields() {
		r.index[f.Name] = i
		app, err := newTextAppender(r.bld.Field(i), f.Type)
		if err != nil {
			r.close()
			return nil, &Error{File: file.Path, Column: f.Name, Msg: err.Error()}
		}
		r.apps[i] = app
	}
	r.visit = func(key string, v jsonValue) error {
		i, ok := r.index[key]
		if !ok {
			return &Error{File: r.j.path, Line: r.j.line, Column: key, Msg: "not in the target schema"}
		}
		r.cells[i] = v
		return nil
	}
	return r, nil
}

// next returns the next batch, or nil at the end of the file.
func (r *jsonlReader) next(ctx context.Context) (arrow.RecordBatch, error) {
	if r.done {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := 0
	for n < batchRows {
		line, err := r.j.nextLine()
		if err != nil {
			return nil, err
		}
		if line == nil {
			r.done = true
			break
		}
		clear(r.cells)
		if err := r.parser.parse(line, r.visit); err != nil {
			var ie *Error
			if errors.As(err, &ie) {
				return nil, err
			}
			return nil, &Error{File: r.j.path, Line: r.j.line, Msg: err.Error()}
		}
		for i, v := range r.cells {
			if v.kind == jNull {
				if !r.schema.Field(i).Nullable {
					return nil, &Error{File: r.j.path, Line: r.j.line, Column: r.schema.Field(i).Name, Msg: errNotNullable}
				}
				r.bld.Field(i).AppendNull()
				continue
			}
			if err := r.apps[i](v.text); err != nil {
				return nil, &Error{File: r.j.path, Line: r.j.line, Column: r.schema.Field(i).Name, Msg: err.Error()}
			}
		}
		n++
	}
	if n == 0 {
		return nil, nil
	}
	return r.bld.NewRecordBatch(), nil
}

func (r *jsonlReader) close() {
	r.bld.Release()
	r.j.close()
}
