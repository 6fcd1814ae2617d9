// Package query runs read-only SQL over the lakehouse at any ref with
// embedded DuckDB. It is tarn's only importer of duckdb-go; `tarn query`,
// a server and the pipeline runtime share its one path. Its Importer is
// the other use of DuckDB: the table.BulkWriter that parses import files
// and writes the tables' Parquet data files (see Importer.WriteFiles).
//
// # Basics
//
// An Engine is built on a *table.Service. Engine.Query takes a Request
// (one SELECT statement, a ref, a default namespace) and returns a Result
// whose Records stream Arrow record batches; Engine.CopyTo writes the
// result to a file (CSV, JSON, JSON Lines, Parquet, Arrow IPC) through a
// temporary file that is renamed into place only when complete.
//
// A query runs in five steps:
//
//  1. The ref resolves to one commit; every table is read at it.
//  2. DuckDB parses the statement (json_serialize_sql). Anything but a
//     query (INSERT, CREATE, COPY, ATTACH, SET, ...) is refused: tarn query
//     never writes. Syntax errors are reported with line and column.
//  3. Base-table names resolve in the commit's catalog state: NAME in the
//     request's namespace (default "tarn"), NS.NAME qualified. CTE names and
//     DuckDB's own catalogs are left to DuckDB.
//  4. Simple conjunctive predicates on a table's columns (col <op> constant,
//     BETWEEN, IN, IS [NOT] NULL, LIKE 'prefix%') are taken from the parse
//     tree per table reference, their constants evaluated by DuckDB in the
//     column's type, and Iceberg planning (table.TableScan.Plan) skips data
//     files by partition values and column statistics.
//  5. Each table becomes a view over read_parquet([planned files]) in a
//     DuckDB schema named after its namespace; DuckDB then does projection
//     and row-group pruning itself and runs the statement unchanged.
//     Row-level deletes that other engines wrote (position and equality
//     delete files, deletion vectors) are applied in the view: files
//     without any are read as they are, the others anti-joined with the
//     (file, position) pairs and the equality rows that delete from them.
//
// Result.Tables reports per table how many files were planned and skipped.
// Request.MaxRows asks for a preview: the first MaxRows+1 rows of the
// result go into a DuckDB temp table (LIMIT: DuckDB stops reading there)
// and the first MaxRows are turned into Arrow, as `tarn query` does for
// its text output. Result.TotalRows is the count when the preview holds
// the whole result, -1 when there are more rows (not counted).
//
// An Engine caches what is immutable per commit (catalog entries, opened
// tables, plans per filter), so a long-lived engine plans a repeated
// query without reading Iceberg metadata again; a moving branch resolves
// to a new commit and misses.
//
// # Caveats
//
//   - Data files in an object store (s3://) are read from their copies in
//     the table service's local cache (table.Config.CacheDir), downloaded
//     while planning; Result.Tables says what a query downloaded.
//   - Deletion vectors are read in Go and sent to DuckDB as lists of
//     positions; equality deletes on a column the current schema dropped
//     are refused (rewrite the table).
//   - Record batches are built from duckdb-go's row API (its Arrow API needs
//     the duckdb_arrow build tag, which tarn avoids). duckdb-go v2.10506
//     materializes a query's result inside DuckDB before the first row is
//     read, so a huge result held in a Result costs memory; CopyTo streams
//     from DuckDB to disk instead. CopyTo turns DuckDB's
//     preserve_insertion_order off (with it, memory grows with the result):
//     rows come in the order of the statement's ORDER BY, and in no
//     particular order without one.
//   - Nested, JSON, UUID, ENUM and other non-scalar result columns become
//     Arrow strings (JSON text for nested values).
//   - Statements may read local files with DuckDB's table functions
//     (read_csv, read_parquet, ...): fine for a CLI user. A server sets
//     Options.AllowedDirs to the warehouse (DuckDB's allowed_directories
//     with external access off), and CopyTo then writes with a database of
//     its own that may also use its file's folder.
//   - Options.Limits bound a query's memory, spill, streamed result and
//     export file (a server sets them). With a memory limit a result is
//     stored in a DuckDB temp table and read back in pages, since
//     duckdb-go builds a whole result outside the limit before its first
//     row.
//   - Pruning never drops a file that may hold a matching row: predicates
//     on floating-point columns, under outer joins (IS NULL), with inexact
//     constants or in sampled statements are not used.
package query
