package tarn

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Namespace is a namespace with its table count.
type Namespace struct {
	Name   string `json:"name"`
	Tables int    `json:"tables"`
}

// TableSummary is one line of a table listing.
type TableSummary struct {
	Table    TableIdent `json:"table"`
	Snapshot int64      `json:"snapshot_id,omitempty"`
	Rows     int64      `json:"rows"`
	Files    int64      `json:"files"`
	Bytes    int64      `json:"bytes"`
	Metadata string     `json:"metadata_location"`
}

// Column is one column of a table schema.
type Column struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

// PartitionField is one field of a partition spec.
type PartitionField struct {
	Name      string `json:"name"`
	Transform string `json:"transform"`
	Source    string `json:"source"`
}

// SnapshotInfo describes one snapshot of a table.
type SnapshotInfo struct {
	ID        int64     `json:"snapshot_id"`
	ParentID  int64     `json:"parent_id,omitempty"`
	Time      time.Time `json:"time"`
	Operation string    `json:"operation"`
	Added     int64     `json:"added_rows"`
	Rows      int64     `json:"total_rows"`
	Current   bool      `json:"current"`
	// SchemaID is the schema the snapshot was written with (nil: not recorded).
	SchemaID *int `json:"schema_id,omitempty"`
}

// SchemaVersion is one of the schemas a table has had, oldest first.
type SchemaVersion struct {
	ID      int      `json:"schema_id"`
	Columns []Column `json:"columns"`
	Current bool     `json:"current"`
}

// DataFile is one data file of a table's current snapshot.
type DataFile struct {
	Path  string `json:"path"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// TableInfo describes a table at a ref.
type TableInfo struct {
	Table            TableIdent       `json:"table"`
	Ref              string           `json:"ref"`
	Commit           string           `json:"commit"`
	UUID             string           `json:"uuid"`
	FormatVersion    int              `json:"format_version"`
	Location         string           `json:"location"`
	MetadataLocation string           `json:"metadata_location"`
	Schema           []Column         `json:"schema"`
	Partition        []PartitionField `json:"partition_spec"`
	Snapshot         *SnapshotInfo    `json:"current_snapshot,omitempty"`
	Rows             int64            `json:"rows"`
	Files            int64            `json:"files"`
	Bytes            int64            `json:"bytes"`
	DataFiles        []DataFile       `json:"data_files"`
	History          []SnapshotInfo   `json:"history"`
	// Schemas is the evolution of the schema: every version, oldest first.
	Schemas []SchemaVersion `json:"schemas"`
}

// WriteResult describes a table write.
type WriteResult struct {
	Table   TableIdent `json:"table"`
	Branch  string     `json:"branch"`
	Commit  *Commit    `json:"commit"`
	Entry   *Entry     `json:"entry,omitempty"`
	Added   int64      `json:"added_rows"`
	Existed bool       `json:"existed,omitempty"`
	Evolved []string   `json:"schema_changes,omitempty"`
}

// VerifyReport is the result of a verification of the lakehouse.
type VerifyReport struct {
	Refs    int `json:"refs"`
	Commits int `json:"commits"`
	Tables  int `json:"table_versions"`
	Files   int `json:"files_checked"`
	// Expired counts the commits of history gc expired (gc.keep_history),
	// older than ExpiredBefore, which are not checked.
	Expired       int        `json:"expired_commits,omitempty"`
	ExpiredBefore *time.Time `json:"expired_before,omitempty"`
	Problems      []string   `json:"problems"`
}

// ColumnSpec is a column of an edited table plan: Type is an Iceberg type
// name (long, double, timestamptz, decimal(10,2), ...).
type ColumnSpec struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required,omitempty"`
}

// CreateTableRequest asks for a new table filled from files.
type CreateTableRequest struct {
	Table  TableIdent `json:"table"`
	Branch string     `json:"branch"`
	// From lists input files, globs or directories. An embedded service
	// reads them; the HTTP client uploads them. Objects in a bucket
	// (s3://BUCKET/KEY, a prefix ending in "/" or a glob) are read by the
	// service, a server's with its own AWS settings, and copied into the
	// table.
	From []string `json:"from,omitempty"`
	// Columns, when set, override the inferred schema (an edited plan).
	Columns     []ColumnSpec `json:"columns,omitempty"`
	PartitionBy string       `json:"partition_by,omitempty"`
	// InferRows is how many rows of each CSV or JSON Lines file the types
	// are inferred from: 0 for the default sample (ingest.DefaultSampleRows),
	// -1 for every row.
	InferRows   int        `json:"infer_rows,omitempty"`
	Replace     bool       `json:"replace,omitempty"`
	IfNotExists bool       `json:"if_not_exists,omitempty"`
	Info        CommitInfo `json:"info"`
}

// ImportRequest asks to append files to a table.
type ImportRequest struct {
	Table  TableIdent `json:"table"`
	Branch string     `json:"branch"`
	From   []string   `json:"from,omitempty"` // as in CreateTableRequest
	// InferRows is as in CreateTableRequest.
	InferRows int        `json:"infer_rows,omitempty"`
	Info      CommitInfo `json:"info"`
}

// What creating a table would do (TablePlan.Action).
const (
	PlanCreate  = "create"  // a new table
	PlanReplace = "replace" // the existing table is replaced (Replace)
	PlanKeep    = "keep"    // the table exists and stays as it is (IfNotExists): nothing is written
)

// TablePlan is what CreateTable would create, worked out without writing
// (TablePlanner). Columns are plan columns (Iceberg type names, as in
// `tarn table create --plan`); Partition is PartitionBy resolved against
// them. With PlanKeep, Columns and Partition are empty.
type TablePlan struct {
	Table       TableIdent       `json:"table"`
	Branch      string           `json:"branch"`
	Commit      string           `json:"commit"` // the head of Branch the plan was made at
	Action      string           `json:"action"`
	Columns     []ColumnSpec     `json:"columns"`
	PartitionBy string           `json:"partition_by,omitempty"`
	Partition   []PartitionField `json:"partition_spec"`
	Files       []string         `json:"files"` // the input files read
}

// MergeRequest asks to merge a ref into a branch.
type MergeRequest struct {
	Source        string     `json:"source"`
	Into          string     `json:"into"`
	Info          CommitInfo `json:"info"`
	NoFastForward bool       `json:"no_ff,omitempty"`
	// DryRun computes the merge's plan and writes nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// FormatBytes renders a byte count for people (KiB, MiB, ...).
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// GCRequest asks for a garbage collection of the lakehouse's storage.
type GCRequest struct {
	// OlderThan is the age past which an unreferenced file goes, judged by
	// its modification time, and past which a commit no ref reaches (of a
	// deleted or moved branch) no longer keeps its files, judged by the
	// commit's time (0: DefaultGCAge). Younger files may belong to a write
	// in progress and stay.
	OlderThan time.Duration `json:"older_than,omitempty"`
	// RunsOlderThan is the age past which the branch of a failed run
	// (run/YYYYMMDD-HHMMSS-xxxxxx, kept for inspection) is deleted, judged
	// by the run's start in its name (0: DefaultRunBranchAge).
	RunsOlderThan time.Duration `json:"runs_older_than,omitempty"`
	// KeepHistory is the retention window of history: a commit older than
	// it is expired — its files go unless a kept commit needs them — save
	// each ref's head and, per ref, the newest commit older than the window
	// (so the state at the window's start stays readable). 0 is the
	// lakehouse's setting (gc.keep_history; none: keep everything), below 0
	// keeps everything whatever the setting.
	KeepHistory time.Duration `json:"keep_history,omitempty"`
	// DryRun lists what would go and deletes nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// DefaultRunBranchAge is the default of GCRequest.RunsOlderThan.
const DefaultRunBranchAge = 7 * 24 * time.Hour

// DefaultGCAge is the default of GCRequest.OlderThan.
const DefaultGCAge = 7 * 24 * time.Hour

// GCFile is one file garbage collection removed (or would remove).
type GCFile struct {
	Path     string    `json:"path"` // relative to the warehouse
	Kind     string    `json:"kind"` // data, manifest, manifest-list, metadata, lease, run-upload, other
	Bytes    int64     `json:"bytes"`
	Modified time.Time `json:"modified"`
}

// GCReport is what a garbage collection found and removed.
type GCReport struct {
	DryRun    bool   `json:"dry_run"`
	OlderThan string `json:"older_than"`
	// Files and Bytes are the warehouse's files before the collection;
	// Referenced counts those some commit reachable from a ref needs.
	Files      int   `json:"files"`
	Bytes      int64 `json:"bytes"`
	Referenced int   `json:"referenced"`
	// Young counts unreferenced files kept because they are younger than
	// OlderThan or than the oldest write in progress (LiveWrites).
	Young      int `json:"young"`
	LiveWrites int `json:"live_writes"`
	Commits    int `json:"commits"` // commits reachable from a ref, walked
	// UnreachableCommits counts the commits no ref reaches (of deleted or
	// moved branches) kept because they are younger than OlderThan: their
	// files stay, and `tarn branch create NAME --from HASH` brings one back.
	UnreachableCommits int `json:"unreachable_commits"`
	// KeepHistory is the retention window applied ("" when none was);
	// HistoryHorizon is the time before which history is expired (by this
	// window or an earlier collection's, whichever is later) and
	// ExpiredCommits counts the reachable commits before it that no ref
	// keeps (their files are in Removed unless a kept commit needs them).
	KeepHistory    string     `json:"keep_history,omitempty"`
	ExpiredCommits int        `json:"expired_commits"`
	HistoryHorizon *time.Time `json:"history_horizon,omitempty"`
	// Removed lists the files removed (a dry run: that would be);
	// RemovedBytes is their size.
	Removed      []GCFile `json:"removed"`
	RemovedBytes int64    `json:"removed_bytes"`
	// Uploads lists the incomplete multipart uploads of an S3 warehouse
	// aborted (a dry run: that would be), by their key, the size of their
	// parts and when they started: a writer killed mid-upload leaves its
	// parts, stored and billed but no object, until they are aborted.
	// The same age and live writes protect them as unreferenced files.
	Uploads []GCFile `json:"uploads"`
	// ExpiredRuns lists the run branches of failed runs deleted (a dry
	// run: that would be); the files only they reached are in Removed.
	ExpiredRuns []string `json:"expired_runs"`
	// Failed lists files that could not be removed (a later run retries).
	Failed []string `json:"failed,omitempty"`
	// Skipped says what the collection could not check, and why (the
	// incomplete uploads of a bucket whose credentials may not list them).
	Skipped []string `json:"skipped,omitempty"`
	// SharedCache is the step cache's tier in the bucket of an s3://
	// warehouse (WAREHOUSE/.tarn/cache) and what was trimmed from it to
	// its bound (nil when the warehouse has none).
	SharedCache *GCCacheTier `json:"shared_cache,omitempty"`
}

// GCCacheTier is what garbage collection found in the bucket's tier of
// the step cache and removed to keep it within MaxBytes: the oldest
// complete entries first, by the time their meta.json was written.
type GCCacheTier struct {
	Entries  int   `json:"entries"` // complete entries before the collection
	Bytes    int64 `json:"bytes"`   // of every object of the tier
	MaxBytes int64 `json:"max_bytes"`
	// Incomplete counts entries without a meta.json (an upload in
	// progress, or one a killed server left): removed once older than
	// OlderThan, else kept.
	Incomplete     int   `json:"incomplete"`
	RemovedEntries int   `json:"removed_entries"`
	RemovedBytes   int64 `json:"removed_bytes"`
}

// ParseKeepHistory reads a retention window of history: "" is the
// lakehouse's setting (0), "all" keeps everything (-1), else an age
// (ParseAge; "0s" is 1ns: keep only heads and boundaries).
func ParseKeepHistory(s string) (time.Duration, error) {
	switch s {
	case "":
		return 0, nil
	case "all":
		return -1, nil
	}
	d, err := ParseAge(s)
	if err != nil {
		return 0, Errorf(EINVALID, "keep_history: %s (or all to keep everything)", ErrorMessage(err))
	}
	if d == 0 {
		d = 1
	}
	return d, nil
}

// FormatKeepHistory renders a retention window as ParseKeepHistory reads it.
func FormatKeepHistory(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d < 0:
		return "all"
	}
	return FormatAge(d)
}

// FormatAge renders a duration as ParseAge reads it ("7d", "36h", "90m", "30s", "1ns").
func FormatAge(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dns", d)
}

// ParseAge reads an age like 7d, 36h, 90m or 30s.
func ParseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != days {
			return 0, Errorf(EINVALID, "invalid age %q: give days (7d), hours (36h), minutes (90m) or seconds (30s)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, Errorf(EINVALID, "invalid age %q: give days (7d), hours (36h), minutes (90m) or seconds (30s)", s)
	}
	return d, nil
}

// OptimizeRequest asks for a table's small files to be rewritten into
// large ones, as one commit on a branch.
type OptimizeRequest struct {
	Table  TableIdent `json:"table"`
	Branch string     `json:"branch"`
	// TargetFileSize is the size of the files written (0: 256 MiB).
	TargetFileSize int64      `json:"target_file_size,omitempty"`
	Info           CommitInfo `json:"info"`
}

// OptimizeResult is what a compaction did. Unchanged is set (and nothing
// written) when the table already was one file per partition or less.
type OptimizeResult struct {
	Table       TableIdent `json:"table"`
	Branch      string     `json:"branch"`
	Commit      *Commit    `json:"commit"`
	Rows        int64      `json:"rows"`
	FilesBefore int        `json:"files_before"`
	FilesAfter  int        `json:"files_after"`
	BytesBefore int64      `json:"bytes_before"`
	BytesAfter  int64      `json:"bytes_after"`
	Unchanged   bool       `json:"unchanged"`
}

// Optimizer is the optional capability of a TableService to compact a
// table's files (the embedded service has it).
type Optimizer interface {
	Optimize(ctx context.Context, req OptimizeRequest) (*OptimizeResult, error)
}
