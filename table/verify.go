package table

import (
	"context"
	"fmt"
	"sort"
	"time"

	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
)

// Verify checks that every ref resolves and that every file a table points
// at — metadata, manifest lists, manifests, data files — exists. With
// history it checks every commit reachable from a ref, else only the heads.
func (s *Service) Verify(ctx context.Context, history bool) (*tarn.VerifyReport, error) {
	rep := &tarn.VerifyReport{Problems: []string{}}
	refs, err := s.cat.ListRefs(ctx, "")
	if err != nil {
		return nil, err
	}
	rep.Refs = len(refs)
	seenCommits := map[string]bool{}
	seenMeta := map[string]bool{}
	seenFiles := map[string]bool{}
	// History gc expired is not checked (see keptHistory), nor are the
	// snapshots it expired inside kept versions (snapshotExpired).
	var horizon time.Time
	if h := s.historyHorizon(ctx); h != nil {
		horizon = *h
		if history {
			rep.ExpiredBefore = h
		}
	}
	reachable := map[string]bool{}
	for _, r := range refs {
		var commits []*tarn.Commit
		if history {
			var all []*tarn.Commit
			if commits, all, err = s.keptHistory(ctx, r, horizon); err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s: %v", r.Kind, r.Name, err))
				continue
			}
			for _, c := range all {
				reachable[c.Hash] = true
			}
		} else {
			c, err := s.cat.GetCommit(ctx, r.Commit)
			if err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s: %v", r.Kind, r.Name, err))
				continue
			}
			commits = []*tarn.Commit{c}
		}
		for _, c := range commits {
			if seenCommits[c.Hash] {
				continue
			}
			seenCommits[c.Hash] = true
			entries, keys, err := s.cat.Entries(ctx, c)
			if err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("commit %s: %v", c.ShortHash(), err))
				continue
			}
			for _, k := range keys {
				e := entries[k]
				if e.Kind != tarn.EntryTable || seenMeta[e.Metadata] {
					continue
				}
				seenMeta[e.Metadata] = true
				rep.Tables++
				for _, p := range s.verifyTable(ctx, k, e.Metadata, c.Hash == r.Commit, horizon, seenFiles) {
					rep.Problems = append(rep.Problems, fmt.Sprintf("commit %s: %s", c.ShortHash(), p))
				}
			}
		}
	}
	rep.Commits = len(seenCommits)
	if history {
		for h := range seenCommits {
			reachable[h] = true
		}
		rep.Expired = len(reachable) - len(seenCommits)
	}
	rep.Files = len(seenFiles)
	sort.Strings(rep.Problems)
	return rep, nil
}

// verifyTable checks that the files of a table version are there:
// every snapshot's manifest list, manifests and data and delete files,
// and its statistics files. A ref's head version (whole) is also parsed
// whole, as reads of it parse it; history versions are read for the
// files they name (see versionFiles).
func (s *Service) verifyTable(ctx context.Context, key, metaLoc string, whole bool, horizon time.Time, seen map[string]bool) []string {
	if whole {
		ns, name := tarn.ParseKey(key)
		if _, err := s.loadTable(ctx, icetable.Identifier{ns, name}, metaLoc, &readOnly{}); err != nil {
			return []string{fmt.Sprintf("table %s: %v", key, err)}
		}
	}
	v, fs, err := s.readVersionFiles(ctx, key, metaLoc)
	if err != nil {
		return []string{fmt.Sprintf("table %s: %v", key, err)}
	}
	var problems []string
	exists := func(path, what string) bool {
		if seen[path] {
			return true
		}
		seen[path] = true
		f, err := fs.Open(path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("table %s: missing %s %s", key, what, path))
			return false
		}
		f.Close()
		return true
	}
	for _, list := range v.manifestLists(horizon) {
		// Later versions list earlier snapshots again: each manifest list
		// (immutable) is checked and read once.
		if seen[list] || !exists(list, "manifest list") {
			continue
		}
		manifests, err := readManifestList(fs, list)
		if err != nil {
			problems = append(problems, fmt.Sprintf("table %s: read manifest list %s: %v", key, list, err))
			continue
		}
		for _, m := range manifests {
			if seen[m.FilePath()] || !exists(m.FilePath(), "manifest") {
				continue
			}
			entries, err := m.FetchEntries(fs, true)
			if err != nil {
				problems = append(problems, fmt.Sprintf("table %s: read manifest %s: %v", key, m.FilePath(), err))
				continue
			}
			for _, e := range entries {
				exists(e.DataFile().FilePath(), "data file")
			}
		}
	}
	for _, st := range v.statisticsFiles() {
		exists(st, "statistics file")
	}
	return problems
}
