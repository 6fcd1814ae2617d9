// Package tarn holds the domain types of the tarn lakehouse (commits, refs,
// table entries), the service interfaces the CLI and server program against,
// and the error codes shared by every layer.
//
// # Basics
//
// A lakehouse is a versioned catalog: every commit records the full state of
// every namespace and table (a table name maps to an Iceberg metadata file).
// Branches move, tags and commits do not. Implementations live in
// subpackages: catalog (refs, commits, merges), table (Iceberg), cmd/tarn
// (wiring).
//
// # Caveats
//
// This package imports no implementation package; keep it that way.
package tarn
