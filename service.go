package tarn

import (
	"context"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// The service interfaces below are what the CLI (and any other client)
// needs from a lakehouse. The embedded implementations (package local)
// work on a lakehouse home directly; the HTTP client (package client)
// implements the same interfaces against `tarn serve`. Errors carry the
// codes of error.go; each method names the codes a caller should expect
// besides EINTERNAL (and EUNAUTHORIZED/EFORBIDDEN from a server).

// RefService reads and changes refs and history.
type RefService interface {
	// ListRefs lists branches or tags by name.
	ListRefs(ctx context.Context, kind RefKind) ([]Ref, error)
	// GetRef returns a named ref (ENOTFOUND).
	GetRef(ctx context.Context, name string) (*Ref, error)
	// CreateRef creates a branch or tag at a ref (EEXISTS, ENOTFOUND, EINVALID).
	CreateRef(ctx context.Context, kind RefKind, name, from string) (*Ref, error)
	// DeleteRef deletes a branch or tag (ENOTFOUND, EINVALID for main).
	DeleteRef(ctx context.Context, kind RefKind, name string) error
	// RenameBranch renames a branch (ENOTFOUND, EEXISTS, EINVALID).
	RenameBranch(ctx context.Context, oldName, newName string) (*Ref, error)
	// RenameTag renames a tag atomically; it keeps its commit (ENOTFOUND,
	// EEXISTS, EINVALID).
	RenameTag(ctx context.Context, oldName, newName string) (*Ref, error)
	// Resolve resolves any ref expression to a commit (ENOTFOUND, EINVALID).
	Resolve(ctx context.Context, ref string) (*Commit, error)
	// BranchHead returns the head of a branch; EINVALID when ref is not a
	// branch, ENOTFOUND when it does not exist.
	BranchHead(ctx context.Context, ref string) (*Commit, error)
	// GetCommit returns a commit by full hash (ENOTFOUND).
	GetCommit(ctx context.Context, hash string) (*Commit, error)
	// Log returns up to limit commits (0: all) of a ref's history, newest first.
	Log(ctx context.Context, ref string, limit int) ([]*Commit, error)
	// History returns a page of up to limit commits of a ref's history,
	// newest first (as Log), continuing after the page whose Next is
	// cursor ("" for the first page). A cursor names commits: ENOTFOUND
	// for one that does not exist, EINVALID for one that is malformed.
	History(ctx context.Context, ref, cursor string, limit int) (*LogPage, error)
	// MergeBase returns the merge base of two refs, nil when they share none.
	MergeBase(ctx context.Context, a, b string) (*Commit, error)
	// Diff lists the changes from one ref to another.
	Diff(ctx context.Context, from, to string) ([]Change, error)
	// Merge merges a ref into a branch (ECONFLICT names the conflicting keys).
	Merge(ctx context.Context, req MergeRequest) (*MergeResult, error)
}

// LogPage is one page of a ref's history.
type LogPage struct {
	Commits []*Commit `json:"commits"`
	// Next is the cursor of the next page, "" after the last one.
	Next string `json:"next,omitempty"`
}

// TableService manages namespaces and tables on branches.
type TableService interface {
	ListNamespaces(ctx context.Context, ref string) ([]Namespace, error)
	// CreateNamespace creates a namespace on a branch (EEXISTS, EINVALID).
	CreateNamespace(ctx context.Context, branch, ns string, info CommitInfo) (*Commit, error)
	// DropNamespace deletes a namespace; with force also its tables
	// (EINVALID when not empty, ENOTFOUND).
	DropNamespace(ctx context.Context, branch, ns string, force bool, info CommitInfo) (*Commit, error)
	// ListTables lists the tables at a ref, optionally of one namespace.
	ListTables(ctx context.Context, ref, namespace string) ([]TableSummary, *Commit, error)
	// GetTable describes a table at a ref (ENOTFOUND).
	GetTable(ctx context.Context, ident TableIdent, ref string) (*TableInfo, error)
	// CreateTable creates a table from files in one commit (EEXISTS, EINVALID).
	CreateTable(ctx context.Context, req CreateTableRequest) (*WriteResult, error)
	// ImportTable appends files to a table in one commit (ENOTFOUND, EINVALID).
	ImportTable(ctx context.Context, req ImportRequest) (*WriteResult, error)
	// DropTable removes a table from a branch (ENOTFOUND).
	DropTable(ctx context.Context, ident TableIdent, branch string, info CommitInfo) (*Commit, error)
	// RevertTable sets a table back to its state at another ref.
	RevertTable(ctx context.Context, ident TableIdent, branch, to string, info CommitInfo) (*WriteResult, error)
	// Verify checks that every file every ref points at exists.
	Verify(ctx context.Context, history bool) (*VerifyReport, error)
}

// TablePlanner is the optional capability of a TableService to work out
// what CreateTable would do without writing (the embedded service and the
// HTTP client have it):
//
//	if p, ok := svc.Tables.(tarn.TablePlanner); ok {
//		plan, err := p.PlanTable(ctx, req)
//	}
type TablePlanner interface {
	// PlanTable checks req as CreateTable does and returns what it would
	// create, writing nothing (the same errors: EEXISTS, ENOTFOUND,
	// EINVALID). The plan's columns and partition spec given back in a
	// CreateTableRequest create that table.
	PlanTable(ctx context.Context, req CreateTableRequest) (*TablePlan, error)
}

// Collector is the optional capability of a TableService to collect
// garbage (the embedded service and the HTTP client have it): remove the
// files of the warehouse that no commit reachable from a ref needs, past
// an age, never those of a write in progress.
type Collector interface {
	CollectGarbage(ctx context.Context, req GCRequest) (*GCReport, error)
}

// QueryRequest is one SQL statement to run at a ref.
type QueryRequest struct {
	SQL       string `json:"sql"`
	Ref       string `json:"ref"`
	Namespace string `json:"namespace,omitempty"`
	// MaxRows, above 0, asks for a preview: at most MaxRows rows are
	// computed and returned; TotalRows is the result's count when that is
	// all of it, -1 when there are more.
	MaxRows int `json:"max_rows,omitempty"`
}

// QueryColumn is one column of a result with its SQL type.
type QueryColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// QueryTableStats says how one table was planned for a query.
type QueryTableStats struct {
	Table        TableIdent `json:"table"`
	Snapshot     int64      `json:"snapshot_id,omitempty"`
	FilesTotal   int        `json:"files_total"`
	FilesPlanned int        `json:"files_planned"`
	FilesSkipped int        `json:"files_skipped"`
	Filter       string     `json:"filter,omitempty"`
	// Downloaded* say what the query waited for: data files of a table
	// in an object store copied into the server's local cache (none once
	// warm).
	DownloadedFiles   int     `json:"downloaded_files,omitempty"`
	DownloadedBytes   int64   `json:"downloaded_bytes,omitempty"`
	DownloadedSeconds float64 `json:"downloaded_seconds,omitempty"`
}

// QueryInfo is what is known of a result before its first row.
type QueryInfo struct {
	Commit    *Commit           `json:"commit"`
	Columns   []QueryColumn     `json:"columns"`
	Tables    []QueryTableStats `json:"tables"`
	TotalRows int64             `json:"total_rows"` // a preview's count when it holds the whole result, else -1
	PlanTime  time.Duration     `json:"plan_time_ns"`
}

// QueryResult is a running query. Close it when done.
type QueryResult struct {
	QueryInfo
	Schema  *arrow.Schema
	Records array.RecordReader
	// Closer releases what the result holds (set by implementations).
	Closer func() error
}

// Close releases the result.
func (r *QueryResult) Close() error {
	if r.Closer == nil {
		return nil
	}
	f := r.Closer
	r.Closer = nil
	return f()
}

// CopyResult describes a result written to a file.
type CopyResult struct {
	Path     string            `json:"path"`
	Format   string            `json:"format"`
	Rows     int64             `json:"rows"`
	Commit   *Commit           `json:"commit"`
	Tables   []QueryTableStats `json:"tables"`
	Duration time.Duration     `json:"duration_ns"`
}

// QueryService runs read-only SQL over a ref.
type QueryService interface {
	// Query starts a statement; the rows stream from Records (EINVALID
	// for bad or writing SQL, ENOTFOUND for unknown refs and tables).
	Query(ctx context.Context, req QueryRequest) (*QueryResult, error)
	// CopyTo writes a result to a local file atomically in a format
	// (csv, json, jsonl, parquet, arrow).
	CopyTo(ctx context.Context, req QueryRequest, format, path string) (*CopyResult, error)
}

// RunRequest asks to run a project.
type RunRequest struct {
	// ProjectDir is the project folder; the HTTP client uploads it.
	ProjectDir string            `json:"-"`
	Ref        string            `json:"ref"`
	Params     map[string]string `json:"params,omitempty"`
	DryRun     bool              `json:"dry_run,omitempty"`
	Strict     bool              `json:"strict,omitempty"`
	// Preview shows rows of each output: the first N, or the last -N.
	Preview int `json:"preview,omitempty"`
	// Namespace, when set, is where the run's models write and where
	// unqualified inputs resolve, instead of the project's default.
	Namespace string `json:"namespace,omitempty"`
	Author    string `json:"author,omitempty"`
	// NoCache runs every step and scan, neither reading nor writing the cache.
	NoCache bool `json:"no_cache,omitempty"`
}

// The kinds of RunEvent (testdata/events.json holds them for the Python
// client, which renders them too).
const (
	EventStart   = "start"   // the run began: project, target, isolation
	EventPlan    = "plan"    // the plan of steps
	EventEnv     = "env"     // an environment is built or reused
	EventStep    = "step"    // a step changed state (State)
	EventLog     = "log"     // a line the user's code printed (Step)
	EventPreview = "preview" // the first rows of a step's output
	EventPublish = "publish" // the outputs were published
	EventInfo    = "info"    // anything else to tell
	EventJob     = "job"     // the job that ran it ended (State)
)

// RunEvent is progress of a run, for live display.
type RunEvent struct {
	Kind     string        `json:"kind"` // one of the Event* kinds
	Step     string        `json:"step,omitempty"`
	StepKind string        `json:"step_kind,omitempty"`
	State    string        `json:"state,omitempty"`
	Rows     int64         `json:"rows,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	Saved    time.Duration `json:"saved_ns,omitempty"` // a cached step: the time its computation took
	Message  string        `json:"message,omitempty"`
	// Plan is the run's DAG (a plan event): its steps in a topological order.
	Plan []PlanStep `json:"plan,omitempty"`
}

// PlanStep is one step of a run's plan.
type PlanStep struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // python, sql or expectation
	// Deps are the steps it reads, Inputs the lake tables
	// (NAMESPACE.NAME), Table the table it writes, if any.
	Deps   []string `json:"deps,omitempty"`
	Inputs []string `json:"inputs,omitempty"`
	Table  string   `json:"table,omitempty"`
}

// Step states reported in run events and results.
const (
	StepQueued  = "queued"
	StepRunning = "running"
	StepDone    = "done"
	StepCached  = "cached"  // served from the cache
	StepFailed  = "failed"  // its own error (StepReport.Error)
	StepSkipped = "skipped" // never started: something it needs failed
	// StepCancelled: stopped, or never started, because another step
	// failed (or the run was cancelled).
	StepCancelled = "cancelled"
)

// StepReport is the outcome of one step of a run.
type StepReport struct {
	Name     string        `json:"name"`
	Kind     string        `json:"kind"`
	State    string        `json:"state"`
	Rows     int64         `json:"rows"`
	Duration time.Duration `json:"duration_ns"`
	Table    string        `json:"table,omitempty"`
	Env      string        `json:"env,omitempty"`
	Error    string        `json:"error,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Cached   bool          `json:"cached,omitempty"`
	Saved    time.Duration `json:"saved_ns,omitempty"` // for a cached step: what computing it cost
	// Profile is where the step's time went, phase by phase (see
	// StepPhase); a cached step has only its cache lookup.
	Profile []StepPhase `json:"profile,omitempty"`
	// PeakAnonBytes is the most anonymous memory (heap, anonymous maps;
	// not the pages of files it maps or reads) the step's processes held
	// together, sampled; MemoryLimit is the limit that applied to it.
	PeakAnonBytes int64 `json:"peak_anon_bytes,omitempty"`
	MemoryLimit   int64 `json:"memory_limit_bytes,omitempty"`
}

// Step phases, in the order a step goes through them.
const (
	PhasePlan        = "plan"        // Iceberg planning of lake inputs: files pruned, columns, filter
	PhaseExport      = "export"      // a lake input exported as Arrow (tables the worker cannot read itself)
	PhaseHandoff     = "handoff"     // from scheduling to the worker's first instruction of the step
	PhaseImport      = "import"      // importing the model's file
	PhaseRead        = "read"        // the worker reading its inputs (inside the model's loop for batches)
	PhaseCode        = "code"        // the user's code
	PhaseWrite       = "write"       // writing the output's Arrow file
	PhaseMaterialize = "materialize" // Parquet files written into the table and registered
	PhaseCache       = "cache"       // storing the output in the step cache, or serving it from there
)

// StepPhase is one phase of a step: how long it took and how much data
// it moved.
type StepPhase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Rows    int64   `json:"rows,omitempty"`
	Bytes   int64   `json:"bytes,omitempty"`
	Files   int     `json:"files,omitempty"`
	// Detail says more in words ("3 of 40 files", "spooled to disk").
	Detail string `json:"detail,omitempty"`
}

// RunResult is the outcome of a run.
type RunResult struct {
	RunID     string        `json:"run_id"`
	Project   string        `json:"project"`
	Target    string        `json:"target"`
	RunBranch string        `json:"run_branch,omitempty"`
	Base      string        `json:"base"`
	Commit    *Commit       `json:"commit,omitempty"`
	Published bool          `json:"published"`
	DryRun    bool          `json:"dry_run"`
	Isolation string        `json:"isolation"`
	Steps     []*StepReport `json:"steps"`
	Duration  time.Duration `json:"duration_ns"`
	Error     string        `json:"error,omitempty"`
	JobID     string        `json:"job_id,omitempty"`
}

// RunService runs projects.
type RunService interface {
	// Run plans and runs a project, calling events with progress. The
	// result is returned with the run's error when steps ran (so a
	// failed run still reports its steps).
	Run(ctx context.Context, req RunRequest, events func(RunEvent)) (*RunResult, error)
}

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// Job is a unit of work a server runs: a run, a query or an import.
type Job struct {
	ID       string     `json:"id"`
	Kind     string     `json:"kind"` // run, query, import, create
	State    string     `json:"state"`
	User     string     `json:"user,omitempty"`
	Ref      string     `json:"ref,omitempty"`
	Summary  string     `json:"summary,omitempty"`
	Created  time.Time  `json:"created"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	Error    *JobError  `json:"error,omitempty"`
	// Result is the run result of a finished run job.
	Result *RunResult `json:"result,omitempty"`
}

// JobError is the error a job ended with.
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Done reports whether the job has ended.
func (j *Job) Done() bool {
	return j.State == JobSucceeded || j.State == JobFailed || j.State == JobCancelled
}

// JobService lists and controls jobs.
type JobService interface {
	ListJobs(ctx context.Context) ([]*Job, error)
	// GetJob returns a job (ENOTFOUND).
	GetJob(ctx context.Context, id string) (*Job, error)
	// JobLogs copies a job's log to w; with follow it waits for the job to
	// end and copies new lines as they come.
	JobLogs(ctx context.Context, id string, follow bool, w io.Writer) error
	// CancelJob cancels a queued or running job (EINVALID when it has ended).
	CancelJob(ctx context.Context, id string) (*Job, error)
	// SubmitRun starts a run as a job and returns at once.
	SubmitRun(ctx context.Context, req RunRequest) (*Job, error)
}

// User is someone who may call a server.
type User struct {
	Name    string    `json:"name"`
	Admin   bool      `json:"admin"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
}

// NewUser asks for a user.
type NewUser struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin,omitempty"`
	// ValidFor, above 0, makes the token expire after that long.
	ValidFor time.Duration `json:"valid_for_ns,omitempty"`
}

// UserService manages users and their tokens.
type UserService interface {
	// AddUser creates a user and returns its token, shown only once (EEXISTS, EINVALID).
	AddUser(ctx context.Context, req NewUser) (*User, string, error)
	ListUsers(ctx context.Context) ([]User, error)
	// RemoveUser deletes a user, whose token stops working at once
	// (ENOTFOUND; EINVALID for the last admin).
	RemoveUser(ctx context.Context, name string) error
	// ResetToken gives a user a new token, shown only once; the old one
	// stops working at once (ENOTFOUND).
	ResetToken(ctx context.Context, name string) (string, error)
}

// Services bundles what a lakehouse offers, embedded or remote.
type Services struct {
	Refs   RefService
	Tables TableService
	Query  QueryService
	Runs   RunService
	Jobs   JobService
	Users  UserService
	// Secrets gives out the key secret parameters are sealed with.
	Secrets SecretService
	// Mode is "embedded" or "remote"; Location the home or the endpoint.
	Mode, Location string
	// Catalog says where an embedded lakehouse's catalog lives (its SQLite
	// file, or its database without the password); "" when remote.
	Catalog string
	// Warehouse says where an embedded lakehouse's tables live (a folder,
	// or s3://BUCKET/PREFIX and its endpoint); "" when remote.
	Warehouse string
	// Ready, when set, checks what /readyz checks besides the catalog
	// (that the warehouse's object store answers).
	Ready func(context.Context) error
	// Closer releases the services.
	Closer func() error
}

// Close releases the services.
func (s *Services) Close() error {
	if s == nil || s.Closer == nil {
		return nil
	}
	return s.Closer()
}
