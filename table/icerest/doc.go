// Package icerest serves the Apache Iceberg REST catalog API over tarn's
// versioned catalog, so that Spark, PyIceberg, DuckDB, Trino and
// iceberg-go read and write tarn tables on any branch. It is a subpackage
// of table because it speaks iceberg-go's types (requirements, updates,
// metadata), and iceberg-go is imported by table alone; tarn serve mounts
// it at /iceberg through the server's IcebergHandler seam, so the server
// itself stays free of iceberg-go.
//
// # Basics
//
// The catalog URI is http://HOST:PORT/iceberg and the warehouse a tarn
// ref. GET /v1/config?warehouse=REF answers the ref's prefix (a branch or
// tag by name with "/" written "~", anything else as its commit's full
// hash) and every other route lives under /v1/{prefix}/. A branch is read
// at its head on every request; each write is one table.Session on it,
// flushed as one tarn commit authored by the caller: a table commit
// checks the client's requirements against the branch's latest metadata,
// applies the updates with iceberg-go and writes a new metadata file; a
// multi-table transaction is one commit too. A concurrent change to the
// same table fails with 409 CommitFailedException naming what failed.
//
// # Caveats
//
//   - Namespaces have one level. Views, server-side scan planning, vended
//     credentials and remote signing are not served (the config's
//     endpoints list what is).
//   - Tags and commits are read-only (403); writes follow the caller's
//     rights (tarn.Caller.CanWrite: USER.* branches, protected branches by
//     merge only).
//   - A table's location, its write.data.path and write.metadata.path,
//     and registered metadata must lie in the warehouse. Data files an
//     engine commits are not checked against it (queries on a server are
//     confined to the warehouse when they read them).
//   - dropTable with purgeRequested removes the table from the branch and
//     keeps its files: history and other branches may point at them.
//   - Metrics reports are accepted and dropped.
package icerest
