package table

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/atomicfile"
)

// horizonFile is where the warehouse records how far gc expired history
// (gc.keep_history): readers of a version whose files are gone say so.
const horizonFile = ".tarn/history-horizon.json"

type horizonInfo struct {
	Horizon time.Time `json:"horizon"` // history before it is expired
}

// historyHorizon is the recorded time before which history is expired
// (nil: none was).
func (s *Service) historyHorizon() *time.Time {
	root, ok := localPath(s.warehouse)
	if !ok {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(root, horizonFile))
	if err != nil {
		return nil
	}
	var h horizonInfo
	if json.Unmarshal(data, &h) != nil || h.Horizon.IsZero() {
		return nil
	}
	return &h.Horizon
}

// expiredBefore is the recorded horizon when the local file at loc is
// missing and gc expired history (nil otherwise).
func (s *Service) expiredBefore(loc string) *time.Time {
	p, ok := localPath(loc)
	if !ok {
		return nil
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		return nil
	}
	return s.historyHorizon()
}

// recordHorizon writes the horizon (atomically), unless an earlier
// collection recorded a later one. It is written before any file goes.
func (s *Service) recordHorizon(h time.Time) error {
	if old := s.historyHorizon(); old != nil && !old.Before(h) {
		return nil
	}
	root, _ := localPath(s.warehouse)
	p := filepath.Join(root, horizonFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return tarn.Errorf(tarn.EINTERNAL, "gc: record the history horizon: %v", err)
	}
	data, _ := json.Marshal(horizonInfo{Horizon: h.UTC()})
	if err := atomicfile.Write(p, data, 0o644); err != nil {
		return tarn.Errorf(tarn.EINTERNAL, "gc: record the history horizon: %v", err)
	}
	return nil
}

// retained returns, of a ref's history (newest first, as Log gives it),
// the commits a retention horizon keeps: the head, every commit not older
// than the horizon and the newest commit older than it (the state at the
// horizon). A zero horizon keeps all.
func retained(commits []*tarn.Commit, horizon time.Time) []*tarn.Commit {
	if horizon.IsZero() || len(commits) == 0 {
		return commits
	}
	out := []*tarn.Commit{commits[0]}
	boundary := false
	for _, c := range commits[1:] {
		switch {
		case !c.Time.Before(horizon):
			out = append(out, c)
		case !boundary:
			boundary = true
			out = append(out, c)
		}
	}
	if commits[0].Time.Before(horizon) {
		return out[:1] // the head is the state at the horizon
	}
	return out
}

// keptHistory is the part of ref's history a horizon keeps.
func (s *Service) keptHistory(ctx context.Context, r tarn.Ref, horizon time.Time) (kept, all []*tarn.Commit, err error) {
	all, err = s.cat.Log(ctx, r.Name, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("read the history of %s %s: %w", r.Kind, r.Name, err)
	}
	return retained(all, horizon), all, nil
}
