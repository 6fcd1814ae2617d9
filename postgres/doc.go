// Package postgres keeps a lakehouse's shared state in PostgreSQL, so
// that several `tarn serve` processes (on several machines) can serve one
// lakehouse: the catalog (a catalog.Store), users and token hashes (a
// users.Store), and job records, logs and the queue of runs (a
// jobs.Store). It is the only importer of pgx.
//
// # Basics
//
// Open connects to a postgres:// URL and creates tarn's tables (all named
// tarn_*) on first use, under an advisory lock, so the first server on an
// empty database creates the lakehouse and later ones join it. The URL's
// search_path parameter (postgres://u:p@host/db?search_path=lake1) puts a
// lakehouse in a schema of its own, created when absent: one database
// can hold several. The stores made from a DB share its connection pool:
//
//	db, err := postgres.Open(ctx, "postgres://tarn:secret@db:5432/tarn")
//	cat, err := catalog.Open(ctx, db.Catalog())
//	defer db.Close()
//
// Refs move by a conditional UPDATE inside the transaction that stores a
// batch's objects and commits; a run is claimed with SELECT ... FOR
// UPDATE SKIP LOCKED and held by a lease its server renews; a lease that
// runs out lets any other server end the job as failed.
//
// # Caveats
//
// Errors that come from the database name the database (never its
// password), say what tarn was doing and what to check: an unreachable
// host, refused credentials, a missing database or privilege. The password
// may come from PGPASSWORD (or ~/.pgpass) instead of the URL; pgx reads
// the other PG* variables too. Times of leases are the database's clock,
// so servers' clocks need not agree.
package postgres
