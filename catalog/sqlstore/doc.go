// Package sqlstore implements catalog.Store on SQL databases: SQLite
// (modernc.org/sqlite, pure Go) for the embedded default.
//
// # Basics
//
// Objects and commits are immutable rows; refs are rows updated only by
// compare-and-swap inside one write transaction. SQLite runs in WAL mode with
// a busy timeout and IMMEDIATE write transactions, so several processes can
// share one database file safely.
//
// # Caveats
//
// Open refuses a file that is not a tarn catalog (a corrupt or foreign file is
// never overwritten).
package sqlstore
