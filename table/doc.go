// Package table is tarn's only importer of iceberg-go. It implements
// iceberg-go's catalog.Catalog over one branch of the versioned catalog (a
// Session), so every table write goes through iceberg-go's own commit path
// (requirements and updates), and builds the table operations the CLI
// offers on top: create from files, import, drop, revert, describe.
//
// # Basics
//
// A Session reads the branch at one commit (its base) and stages every
// table change in memory; Flush turns them into one catalog commit with
// optimistic concurrency (rebased when the branch moved but the staged
// tables did not, refused otherwise). Metadata and data files are written
// before the commit that points at them, under new unique names, so a crash
// at any point leaves every ref pointing at complete tables.
//
// # Caveats
//
// Namespaces have one level. tarn.Namespace properties are not stored.
//
// Every write checks its schema before it writes a file: column names
// follow tarn.ColumnNames at every level (ingest.CheckSchema, and an
// imported column may not differ from a table's column only in case), a
// table has at most tarn.MaxColumns columns, and the schema's JSON must fit
// the 1 MiB an Iceberg manifest header may hold with iceberg-go's Avro
// writer. A new namespace or table may not differ from an existing one only
// in case: queries resolve names ignoring case.
//
// Row filters (RowFilter, the language of tarn.Model(filter=...)) are the
// Python SDK's language with its results: testdata/filter holds the vectors
// both are tested against. A lake input pushes into the Iceberg scan only
// what prunes files soundly and applies the whole filter to the rows;
// overwrite filters must be expressible in Iceberg whole (ParsePredicate).
package table
