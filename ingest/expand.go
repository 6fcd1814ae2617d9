package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Format is the file format of an input file.
type Format string

// Supported input formats.
const (
	// Parquet is an Apache Parquet file (.parquet, .pq).
	Parquet Format = "parquet"
	// CSV is a delimited text file with a header row (.csv, or .tsv for
	// tab-delimited).
	CSV Format = "csv"
	// JSONL is JSON Lines: one JSON object per line (.jsonl, .ndjson, .json).
	JSONL Format = "jsonl"
)

// File is one input file.
type File struct {
	// Path is the file path as given or as matched by a glob.
	Path string
	// Format is the format chosen from the file extension.
	Format Format
	// Size is the file size in bytes when Expand ran.
	Size int64
}

// SupportedExts lists the extensions Expand understands, for messages.
const SupportedExts = ".parquet, .pq, .csv, .tsv, .jsonl, .ndjson, .json"

// IsObjectInput reports whether an input (a --from argument) names
// objects in a bucket (s3://BUCKET/KEY, a prefix or a glob) rather than
// local files. Expand refuses them: the table service reads them (see
// table.Service.CreateTable).
func IsObjectInput(p string) bool { return strings.HasPrefix(p, "s3://") }

// FormatOf returns the format for a path (or an object key) by its
// extension (case-insensitive), false for an unsupported one.
func FormatOf(path string) (Format, bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".parquet", ".pq":
		return Parquet, true
	case ".csv", ".tsv":
		return CSV, true
	case ".jsonl", ".ndjson", ".json":
		return JSONL, true
	}
	return "", false
}

// isTSV reports whether a CSV-format path is tab-delimited.
func isTSV(path string) bool {
	return strings.EqualFold(filepath.Ext(path), ".tsv")
}

// Expand resolves paths, glob patterns (filepath.Glob syntax) and directories
// to input files, in argument order; a file named twice is kept once.
//
// A plain path must be an existing file with a supported extension or a
// directory. A directory yields the files with a supported extension directly
// inside it (non-recursive, sorted by name, skipping names that start with
// "." or "_" such as Spark's _SUCCESS). A glob yields its matching files in
// sorted order, skipping directories, files with an unsupported extension
// and, unless the pattern's last element starts with ".", hidden files.
//
// Formats are chosen by extension: .parquet and .pq are Parquet; .csv is
// CSV and .tsv tab-delimited CSV; .jsonl, .ndjson and .json are JSON Lines.
//
// A pattern matching nothing, a file with an unsupported extension and a
// directory or glob without a supported file are *Error values.
func Expand(patterns []string) ([]File, error) {
	if len(patterns) == 0 {
		return nil, &Error{Msg: "no input files given"}
	}
	var out []File
	seen := make(map[string]bool)
	add := func(path string, format Format, size int64) {
		key := filepath.Clean(path)
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, File{Path: path, Format: format, Size: size})
	}
	for _, p := range patterns {
		if IsObjectInput(p) {
			return nil, &Error{File: p, Msg: "is in a bucket, not a local file: import it with tarn table create or import"}
		}
		if strings.ContainsAny(p, "*?[") {
			if err := expandGlob(p, add); err != nil {
				return nil, err
			}
			continue
		}
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{File: p, Msg: "no such file or directory"}
		}
		if err != nil {
			return nil, fmt.Errorf("reading input: %w", err)
		}
		if st.IsDir() {
			if err := expandDir(p, add); err != nil {
				return nil, err
			}
			continue
		}
		format, ok := FormatOf(p)
		if !ok {
			return nil, &Error{File: p, Msg: fmt.Sprintf("unsupported file extension %q (supported: %s)", filepath.Ext(p), SupportedExts)}
		}
		add(p, format, st.Size())
	}
	return out, nil
}

func expandGlob(pattern string, add func(string, Format, int64)) error {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return &Error{Msg: fmt.Sprintf("invalid pattern %q: %v", pattern, err)}
	}
	if len(matches) == 0 {
		return &Error{Msg: fmt.Sprintf("no file matches %q", pattern)}
	}
	// Like a shell, "*" does not match a leading dot unless the pattern
	// asks for one.
	hidden := strings.HasPrefix(filepath.Base(pattern), ".")
	n := 0
	for _, m := range matches {
		if !hidden && strings.HasPrefix(filepath.Base(m), ".") {
			continue
		}
		format, ok := FormatOf(m)
		if !ok {
			continue
		}
		st, err := os.Stat(m)
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
		if st.IsDir() {
			continue
		}
		add(m, format, st.Size())
		n++
	}
	if n == 0 {
		return &Error{Msg: fmt.Sprintf("no supported file matches %q (supported: %s)", pattern, SupportedExts)}
	}
	return nil
}

func expandDir(dir string, add func(string, Format, int64)) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading input directory: %w", err)
	}
	n := 0
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		format, ok := FormatOf(name)
		if !ok {
			continue
		}
		path := filepath.Join(dir, name)
		st, err := os.Stat(path) // follows symlinks
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
		if st.IsDir() {
			continue
		}
		add(path, format, st.Size())
		n++
	}
	if n == 0 {
		return &Error{File: dir, Msg: fmt.Sprintf("directory has no supported file (supported: %s)", SupportedExts)}
	}
	return nil
}
