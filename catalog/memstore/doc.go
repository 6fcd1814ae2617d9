// Package memstore implements catalog.Store in memory: a map of objects, a
// map of commits and a map of refs behind one lock. Nothing is persisted.
//
// # Basics
//
// New returns an empty store; catalog.Open over it writes the first commit
// and the default branch, as over any store:
//
//	cat, err := catalog.Open(ctx, memstore.New())
//
// It is for tests of the layers above the catalog (server, services) that
// should not need SQLite, and it is the reference for the semantics a
// catalog.Store must have, with no database in the way:
//
//   - Objects and commits are immutable: writing one twice keeps the first.
//   - A ref changes only by compare-and-swap. In a catalog.RefUpdate, Old ""
//     means the ref must not exist and New "" deletes it; any other
//     expectation must match the ref's commit exactly. Kind is used when the
//     ref is created.
//   - Apply is atomic: its ref updates are checked in order (a later update
//     sees the earlier ones of the same batch) and, when every one holds, the
//     objects, commits and refs are all stored under the lock; when one does
//     not, Apply returns catalog.ErrRefMoved and stores nothing.
//   - Missing objects, commits and refs are catalog.ErrNotFound, wrapped with
//     what was looked up.
//
// The store is safe for concurrent use by many goroutines.
//
// # Caveats
//
// Everything is lost when the process ends, and two processes never share
// a store: use catalog/sqlstore for that. Values go in and out as copies,
// so a caller that changes a commit or an object's bytes after Apply (or
// after a Get) does not change the store. A store that is closed answers
// every call with ErrClosed.
package memstore
