// Package jobs records and runs a server's jobs (runs, queries, imports)
// over a Store: Manager implements tarn.JobRunner; FileStore keeps jobs
// in a home's folder (one server), postgres.JobStore in a database that
// several servers share. jobstest is the conformance suite every store
// runs, with two managers on one store acting as two servers.
//
// # Basics
//
// A run is queued as data (Start: its kind and input) and done by a
// runner that knows the kind (Handle) and has a free slot (MaxRuns),
// oldest first; a query or an import runs in its caller's goroutine
// (Track). Every job has a record and a log (NDJSON events) in the store,
// so any server lists, follows and cancels any job:
//
//	m := jobs.New(jobs.NewFileStore(home.JobsDir()), jobs.Options{MaxRuns: 1})
//	m.Handle("run", doRun)
//	job, err := m.Start(ctx, tarn.JobSpec{Kind: "run", Input: input})
//	err = m.JobLogs(ctx, job.ID, true, os.Stdout)
//
// A runner holds its jobs under a lease it renews every Poll; the
// renewal brings back the cancel requests other servers stored for them.
// A runner that cannot renew for half its lease cancels its own jobs; one
// that stops renewing (killed) has its jobs ended failed by the next
// runner that looks, once the lease has run out. Jobs are not retried.
//
// # Caveats
//
// The background work starts with the first Handle, Start or Track, so a
// Manager that only reads (a CLI command) never claims. FileStore is for
// one server per home: several processes may read it and ask for
// cancels, and claims are safe across processes (a rename), but its
// leases use this machine's clock. A job's log is written by the runner
// that holds it; a follower reads it from the store every 50 ms.
package jobs
