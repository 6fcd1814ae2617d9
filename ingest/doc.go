// Package ingest turns user files (Parquet, CSV, JSON Lines) into Arrow
// records for `tarn table create` and `tarn table import`.
//
// # Basics
//
// The flow is Expand (paths, globs, directories -> files), Infer (files ->
// one unified Arrow schema), then Source.Records (files -> a stream of Arrow
// records of a target schema, usually the inferred one or an existing
// table's schema):
//
//	files, err := ingest.Expand(args)
//	src, err := ingest.Infer(ctx, files)
//	rr, err := src.Records(ctx, nil)
//	defer rr.Release()
//	for rr.Next() { write(rr.RecordBatch()) }
//	err = rr.Err()
//
// Infer makes a full pass over every CSV and JSON Lines row, so type
// inference is exact and malformed rows are reported before anything is
// written; for Parquet it reads only the footer. InferSample reads only the
// first rows of each CSV and JSON Lines file (tarn table create uses
// 100,000): a later
// value that does not fit is then reported by Records, with its file, line
// and column. Records streams batches of
// about 64Ki rows, so memory does not grow with file size.
//
// Every problem with the input itself (a ragged row, a value that does not
// parse, an empty file, conflicting column types, a column name that
// tarn.ColumnNames refuses, more than tarn.MaxColumns columns) is an *Error
// carrying the file, line and column; other errors are I/O failures.
// Names are checked as soon as they are read (a CSV header, a new JSON key,
// a Parquet footer), before the rest of the file; CheckSchema applies the
// same rule to any Arrow schema (an edited plan, a model's output).
//
// # Caveats
//
// This package imports only the standard library, arrow-go and the root
// package tarn (for the column-name rule); it must not import iceberg-go or
// duckdb. Parquet type normalization (timestamp units,
// unsigned and large types) applies to top-level columns only; nested types
// are passed through unchanged.
package ingest
