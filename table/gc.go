package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
)

var _ tarn.Collector = (*Service)(nil)

// leaseSlack is how much earlier than the oldest live lease's start a file
// must have been modified for garbage collection to consider it: clocks of
// writers and file systems differ a little.
const leaseSlack = time.Minute

// CollectGarbage implements tarn.Collector. It removes the warehouse's
// files that no table version of any commit reachable from a branch or a
// tag references (data files, manifests, manifest lists, metadata files of
// dropped or replaced tables, of failed writes, of deleted branches),
// modified longer ago than req.OlderThan, and the lease files of crashed
// writers.
//
// It is safe while writers run. The order is what makes it so: it notes
// the time, lists the files, reads the live leases, and only then reads
// the refs. A file of a write in progress is younger than the listing's
// start minus the age, or younger than that write's lease (the lease is
// made before the write's first file and removed after its commit); a
// write that committed before the refs were read is referenced. A table
// version that cannot be read stops the collection before anything is
// removed: what it references is unknown. A crash part way leaves some
// garbage; the next run removes it.
//
// Local warehouses and S3 warehouses (s3Store) are supported.
func (s *Service) CollectGarbage(ctx context.Context, req tarn.GCRequest) (*tarn.GCReport, error) {
	if req.OlderThan < 0 {
		return nil, tarn.Errorf(tarn.EINVALID, "gc: the age must not be negative, got %s", req.OlderThan)
	}
	age := req.OlderThan
	if age == 0 {
		age = tarn.DefaultGCAge
	}
	runAge := req.RunsOlderThan
	if runAge < 0 {
		return nil, tarn.Errorf(tarn.EINVALID, "gc: the age of run branches must not be negative, got %s", runAge)
	} else if runAge == 0 {
		runAge = tarn.DefaultRunBranchAge
	}
	keep := req.KeepHistory
	if keep == 0 {
		keep = s.keep
	}
	store, err := s.store(ctx)
	if err != nil {
		return nil, err
	}
	rep := &tarn.GCReport{DryRun: req.DryRun, OlderThan: tarn.FormatAge(age), Removed: []tarn.GCFile{}, Uploads: []tarn.GCFile{}, ExpiredRuns: []string{}}
	expired, err := s.expireRunBranches(ctx, time.Now().Add(-runAge), req.DryRun)
	if err != nil {
		return nil, err
	}
	rep.ExpiredRuns = append(rep.ExpiredRuns, expired...)
	skip := map[string]bool{}
	for _, name := range expired {
		skip[name] = true
	}
	// In the storage's clock: modification times are.
	started, err := store.now(ctx)
	if err != nil {
		return nil, err
	}
	files, leases, tier, err := listWarehouse(ctx, store, s.liveUploads != nil)
	if err != nil {
		return nil, err
	}
	cutoff := started.Add(-age)
	var stale []tarn.GCFile
	for _, l := range leases {
		if started.Sub(l.Modified) > leaseTTL {
			stale = append(stale, l) // its writer crashed: it protects nothing
			continue
		}
		rep.LiveWrites++
		if st := leaseStart(ctx, store, l); st.Add(-leaseSlack).Before(cutoff) {
			cutoff = st.Add(-leaseSlack)
		}
	}
	// The horizon is taken after the leases were read: a commit made
	// since is younger than it, so kept.
	var horizon time.Time
	if keep > 0 {
		horizon = time.Now().Add(-keep).UTC()
		rep.KeepHistory = tarn.FormatAge(keep)
	}
	// History an earlier collection expired stays expired: its files may
	// be gone, whatever this request's window.
	old, _, err := readHorizon(ctx, store)
	if err != nil {
		return nil, err
	}
	if old != nil && old.After(horizon) {
		horizon = *old
	}
	if !horizon.IsZero() {
		rep.HistoryHorizon = &horizon
	}
	// Commits no ref reaches stay as long as unreferenced files do.
	refd, err := s.referencedFiles(ctx, skip, horizon, time.Now().Add(-age))
	if err != nil {
		return nil, err
	}
	used := refd.used
	if s.liveUploads != nil {
		// After the listing: a run upload listed was stored before its
		// job was queued, so a job queued since is in this answer too.
		locs, err := s.liveUploads(ctx)
		if err != nil {
			return nil, fmt.Errorf("gc: list the projects of unfinished runs: %w", err)
		}
		for rel := range s.uploadsInUse(locs) {
			used[rel] = true
		}
	}
	rep.Commits = refd.commits
	rep.ExpiredCommits = refd.expired
	rep.UnreachableCommits = refd.unreachable
	for _, f := range files {
		rep.Files++
		rep.Bytes += f.Bytes
		switch {
		case used[f.Path]:
			rep.Referenced++
		case !f.Modified.Before(cutoff):
			rep.Young++
		default:
			rep.Removed = append(rep.Removed, f)
		}
	}
	rep.Removed = append(rep.Removed, stale...)
	sortedGC(rep.Removed)
	// Multipart uploads never completed (a writer killed mid-upload): by
	// when they started, as files are by when they were written.
	ups, skipped, err := listUploads(ctx, store)
	if err != nil {
		return nil, err
	}
	rep.Skipped = append(rep.Skipped, skipped...)
	var stuck []s3fetch.Upload
	for _, u := range ups {
		if u.Initiated.Before(cutoff) {
			stuck = append(stuck, u)
			rep.Uploads = append(rep.Uploads, tarn.GCFile{Path: u.Key, Kind: "upload", Bytes: u.Size, Modified: u.Initiated})
		}
	}
	var tierRemoved []tarn.GCFile
	if len(tier) > 0 {
		rep.SharedCache, tierRemoved = trimCacheTier(tier, s.SharedCacheBound(), started.Add(-age))
	}
	for _, f := range rep.Removed {
		rep.RemovedBytes += f.Bytes
	}
	if req.DryRun {
		return rep, nil
	}
	if refd.expired > 0 {
		// Before any file goes: a reader of an expired commit then says
		// why its files are missing, even if this run stops part way.
		if err := recordHorizon(ctx, store, horizon); err != nil {
			return nil, err
		}
		s.horizon.forget() // this process's next write reads it
	}
	paths := make([]string, len(rep.Removed))
	for i, f := range rep.Removed {
		paths[i] = f.Path
	}
	rep.Failed = store.remove(ctx, paths)
	rep.Failed = append(rep.Failed, store.abort(ctx, stuck)...)
	if len(tierRemoved) > 0 {
		rep.Failed = append(rep.Failed, removeCacheEntries(ctx, store, tierRemoved)...)
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

// runBranch matches the branch a run makes (pipeline.Runner), whose name
// holds the run's start: run/YYYYMMDD-HHMMSS-xxxxxx.
var runBranch = regexp.MustCompile(`^run/(\d{8}-\d{6})-[0-9a-f]{6}$`)

// expireRunBranches deletes (unless dryRun) the run branches of runs that
// started before cutoff, and returns their names, sorted. A successful run
// deletes its branch itself; what is left is of failed or killed runs.
func (s *Service) expireRunBranches(ctx context.Context, cutoff time.Time, dryRun bool) ([]string, error) {
	refs, err := s.cat.ListRefs(ctx, tarn.KindBranch)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range refs {
		m := runBranch.FindStringSubmatch(r.Name)
		if m == nil {
			continue
		}
		began, err := time.Parse("20060102-150405", m[1])
		if err != nil || !began.Before(cutoff) {
			continue
		}
		if !dryRun {
			if err := s.cat.DeleteRef(ctx, tarn.KindBranch, r.Name); err != nil && tarn.ErrorCode(err) != tarn.ENOTFOUND {
				return out, fmt.Errorf("gc: delete the run branch %s: %w", r.Name, err)
			}
		}
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out, nil
}

// listWarehouse lists the warehouse's files and, apart, the lease files
// and the objects of the step cache's shared tier; gc's own record is in
// none. With runs, the projects of queued runs (RunUploads) are files of
// kind run-upload; without (gc cannot tell which jobs are unfinished),
// they are left out.
func listWarehouse(ctx context.Context, store warehouseStore, runs bool) (files, leases, tier []tarn.GCFile, err error) {
	all, err := store.list(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, f := range all {
		switch {
		case f.Path == horizonFile || strings.HasPrefix(f.Path, horizonFile+"."):
			// gc's own record (and its temporary while written)
		case strings.HasPrefix(f.Path, clockDir+"/"):
			// a probe of the store's clock, this gc's or one a failure left
		case strings.HasPrefix(f.Path, CacheTierDir+"/"):
			// the shared tier of the step cache (CacheTier), no table's
			// files: bounded apart (trimCacheTier)
			f.Kind = "cache"
			tier = append(tier, f)
		case strings.HasPrefix(f.Path, RunUploadsDir+"/"):
			if runs {
				f.Kind = "run-upload"
				files = append(files, f)
			}
		case strings.HasPrefix(f.Path, leaseDir+"/"):
			f.Kind = "lease"
			leases = append(leases, f)
		default:
			f.Kind = fileKind(f.Path)
			files = append(files, f)
		}
	}
	return files, leases, tier, nil
}

// leaseStart is when the write of a lease began, in the storage's clock:
// the lease's modification time less the time its writer counted from
// the start to the lease's last refresh (both in the writer's clock, so
// the clocks need not agree). A lease that cannot be read (being
// rewritten) began, at worst, a refresh period before its modification.
func leaseStart(ctx context.Context, store warehouseStore, l tarn.GCFile) time.Time {
	data, _, err := store.read(ctx, l.Path)
	var info leaseInfo
	if err != nil || json.Unmarshal(data, &info) != nil || info.Started.IsZero() {
		return l.Modified.Add(-leaseTTL)
	}
	if info.Refreshed.IsZero() || info.Refreshed.Before(info.Started) {
		// A lease of an older tarn: its start in the writer's clock.
		if info.Started.After(l.Modified) {
			return l.Modified.Add(-leaseTTL)
		}
		return info.Started
	}
	return l.Modified.Add(-info.Refreshed.Sub(info.Started))
}

// fileKind names what a warehouse file is, from its name.
func fileKind(rel string) string {
	base := rel[strings.LastIndex(rel, "/")+1:]
	switch {
	case strings.Contains(rel, "/data/"):
		return "data"
	case strings.HasSuffix(base, ".metadata.json"):
		return "metadata"
	case strings.HasPrefix(base, "snap-") && strings.HasSuffix(base, ".avro"):
		return "manifest-list"
	case strings.HasSuffix(base, ".avro"):
		return "manifest"
	}
	return "other"
}

// referenced is what referencedFiles found.
type referenced struct {
	used        map[string]bool // warehouse-relative paths
	commits     int             // reachable from a ref, walked
	expired     int             // reachable, before the horizon, kept by no ref
	unreachable int             // reachable from no ref and younger than the age: kept
	gone        int             // of those, table versions whose files were already collected
}

// referencedFiles returns the files that a table version of a commit
// needs: every commit reachable from a ref and kept by the history horizon
// (zero: every commit; see retained), and every commit no ref reaches made
// after keepSince (a deleted branch's commits stay that long). Any error
// stops the collection, save a table version of an unreachable commit
// whose files an earlier collection removed.
func (s *Service) referencedFiles(ctx context.Context, skip map[string]bool, horizon, keepSince time.Time) (*referenced, error) {
	out := &referenced{used: map[string]bool{}}
	mark := func(loc string) {
		if rel, ok := s.warehouseRel(loc); ok {
			out.used[rel] = true
		}
	}
	refs, err := s.cat.ListRefs(ctx, "")
	if err != nil {
		return nil, err
	}
	seenCommit, seenMeta, seenManifest := map[string]bool{}, map[string]bool{}, map[string]bool{}
	reachable := map[string]bool{} // every commit reachable, kept or expired
	markCommit := func(c *tarn.Commit, unreachable bool) error {
		if seenCommit[c.Hash] {
			return nil
		}
		seenCommit[c.Hash] = true
		entries, _, err := s.cat.Entries(ctx, c)
		if err != nil {
			return fmt.Errorf("gc: read commit %s: %w", c.ShortHash(), err)
		}
		for key, e := range entries {
			if e.Kind != tarn.EntryTable || seenMeta[e.Metadata] {
				continue
			}
			seenMeta[e.Metadata] = true
			mark(e.Metadata)
			err := s.markTable(ctx, key, e.Metadata, horizon, seenManifest, mark)
			if unreachable && (errors.Is(err, fs.ErrNotExist) || tarn.ErrorCode(err) == tarn.ENOTFOUND) {
				out.gone++
				continue
			}
			if err != nil {
				return fmt.Errorf("gc: commit %s: %w; nothing was removed", c.ShortHash(), err)
			}
		}
		return nil
	}
	for _, r := range refs {
		if r.Kind == tarn.KindBranch && skip[r.Name] {
			continue // expired (a dry run has not deleted it)
		}
		commits, all, err := s.keptHistory(ctx, r, horizon)
		if err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
		for _, c := range all {
			reachable[c.Hash] = true
		}
		for _, c := range commits {
			if err := markCommit(c, false); err != nil {
				return nil, err
			}
		}
	}
	kept := len(seenCommit)
	for h := range seenCommit {
		reachable[h] = true
	}
	out.commits = len(reachable)
	out.expired = len(reachable) - kept
	hashes, err := s.cat.CommitHashes(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: list the commits: %w", err)
	}
	for _, h := range hashes {
		if reachable[h] {
			continue
		}
		c, err := s.cat.GetCommit(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
		if c.Time.Before(keepSince) {
			continue
		}
		out.unreachable++
		if err := markCommit(c, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// markTable marks the statistics files of a table version, and the
// manifest lists, manifests and data files of every snapshot of it that
// seenManifest (lists and manifests already marked) does not have.
func (s *Service) markTable(ctx context.Context, key, metaLoc string, horizon time.Time, seenManifest map[string]bool, mark func(string)) error {
	v, fsys, err := s.readVersionFiles(ctx, key, metaLoc)
	if err != nil {
		return err
	}
	for _, st := range v.statisticsFiles() {
		mark(st)
	}
	for _, list := range v.manifestLists(horizon) {
		// Every later version of a table lists its earlier snapshots
		// again: a manifest list (immutable) is read once, or gc is
		// quadratic in a table's history.
		if seenManifest[list] {
			continue
		}
		seenManifest[list] = true
		mark(list)
		manifests, err := readManifestList(fsys, list)
		if err != nil {
			return fmt.Errorf("table %s: read manifest list %s: %w", key, list, err)
		}
		for _, m := range manifests {
			if seenManifest[m.FilePath()] {
				continue
			}
			seenManifest[m.FilePath()] = true
			mark(m.FilePath())
			entries, err := m.FetchEntries(fsys, false) // deleted entries too: older snapshots' files
			if err != nil {
				return fmt.Errorf("table %s: read manifest %s: %w", key, m.FilePath(), err)
			}
			for _, e := range entries {
				mark(e.DataFile().FilePath())
			}
		}
	}
	return nil
}

// sortedGC orders files by path.
func sortedGC(files []tarn.GCFile) {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
}

// listUploads lists the store's incomplete multipart uploads. Credentials
// that may delete objects but not list uploads (a bucket policy without
// s3:ListBucketMultipartUploads) do not stop the collection of files: the
// uploads are then left, and skipped says why and what to grant.
func listUploads(ctx context.Context, store warehouseStore) (ups []s3fetch.Upload, skipped []string, err error) {
	ups, err = store.uploads(ctx)
	var api interface{ ErrorCode() string }
	if err != nil && errors.As(err, &api) && (api.ErrorCode() == "AccessDenied" || api.ErrorCode() == "NotImplemented") {
		why := "these credentials may not list them (grant s3:ListBucketMultipartUploads and s3:AbortMultipartUpload on the bucket)"
		if api.ErrorCode() == "NotImplemented" {
			why = "the object store does not list them"
		}
		return nil, []string{fmt.Sprintf("incomplete multipart uploads were not checked: %s: %v", why, err)}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list incomplete multipart uploads: %w", err)
	}
	return ups, nil, nil
}
