package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
)

// horizonFile is where the warehouse records how far gc expired history
// (gc.keep_history): readers of a version whose files are gone say so.
const horizonFile = ".tarn/history-horizon.json"

type horizonInfo struct {
	Horizon time.Time `json:"horizon"` // history before it is expired
}

// historyHorizon is the recorded time before which history is expired
// (nil: none was, or the record cannot be read).
func (s *Service) historyHorizon(ctx context.Context) *time.Time {
	store, err := s.store(ctx)
	if err != nil {
		return nil
	}
	h, _, _ := readHorizon(ctx, store)
	return h
}

// readHorizon reads the recorded horizon (nil: none) and its version.
func readHorizon(ctx context.Context, store warehouseStore) (*time.Time, string, error) {
	data, version, err := store.read(ctx, horizonFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	} else if err != nil {
		return nil, "", err
	}
	var h horizonInfo
	if json.Unmarshal(data, &h) != nil || h.Horizon.IsZero() {
		return nil, version, nil
	}
	return &h.Horizon, version, nil
}

// expiredBefore is the recorded horizon when the file at loc is missing
// and gc expired history (nil otherwise).
func (s *Service) expiredBefore(ctx context.Context, loc string) *time.Time {
	rel, ok := s.warehouseRel(loc)
	if !ok {
		return nil
	}
	store, err := s.store(ctx)
	if err != nil {
		return nil
	}
	h, _, err := readHorizon(ctx, store)
	if err != nil || h == nil {
		return nil
	}
	if there, err := store.exists(ctx, rel); err != nil || there {
		return nil
	}
	return h
}

// recordHorizon writes the horizon (atomically: a temporary file renamed
// on local disk, one PUT in an object store; conditionally on the version
// read, so two collections at once never lower it), unless an earlier
// collection recorded a later one. It is written before any file goes.
func recordHorizon(ctx context.Context, store warehouseStore, h time.Time) error {
	data, _ := json.Marshal(horizonInfo{Horizon: h.UTC()})
	for attempt := 0; ; attempt++ {
		old, version, err := readHorizon(ctx, store)
		if err != nil {
			return err
		}
		if old != nil && !old.Before(h) {
			return nil
		}
		err = store.writeIf(ctx, horizonFile, data, version)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errVersionMoved) || attempt == 5 {
			return tarn.Errorf(tarn.EINTERNAL, "gc: record the history horizon: %v", err)
		}
	}
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

// horizonCache holds the recorded history horizon for writes, read again
// at most once a minute. A stale one is safe: gc only moves the horizon
// later, so a write with an older one drops fewer snapshots than it could.
type horizonCache struct {
	mu      sync.Mutex
	read    time.Time // when it was read (zero: never)
	horizon *time.Time
}

// forget makes the next write read the recorded horizon again.
func (c *horizonCache) forget() {
	c.mu.Lock()
	c.read = time.Time{}
	c.mu.Unlock()
}

// horizonReadEvery is how often writes read the recorded horizon again.
const horizonReadEvery = time.Minute

// writeHorizon is the recorded history horizon as writes use it (nil:
// none).
func (s *Service) writeHorizon(ctx context.Context) *time.Time {
	c := &s.horizon
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read.IsZero() || time.Since(c.read) > horizonReadEvery {
		c.horizon, c.read = s.historyHorizon(ctx), time.Now()
	}
	return c.horizon
}

// dropExpiredSnapshots removes from a new version of a table's metadata
// the snapshots gc expired: made before the recorded history horizon,
// neither the version's current snapshot nor one of its refs (their
// manifest lists may be gone). So the metadata file a write makes lists
// only snapshots that can be read, also for engines that read the file
// itself rather than through the catalog (which serves every version
// without them). Earlier versions' files are immutable and still list
// them. loc is the location of the version the new one follows. It is
// best effort: metadata the builder cannot rebuild is kept as it is (the
// catalog still serves it without the expired snapshots).
func (s *Service) dropExpiredSnapshots(ctx context.Context, meta icetable.Metadata, loc string) icetable.Metadata {
	h := s.writeHorizon(ctx)
	if h == nil {
		return meta
	}
	cur := meta.CurrentSnapshot()
	var ids []int64
	for _, snap := range meta.Snapshots() {
		if snapshotExpired(*h, snap.TimestampMs, (cur != nil && cur.SnapshotID == snap.SnapshotID) || hasRef(meta, snap.SnapshotID)) {
			ids = append(ids, snap.SnapshotID)
		}
	}
	if len(ids) == 0 {
		return meta
	}
	b, err := icetable.MetadataBuilderFromBase(meta, loc)
	if err != nil || b.RemoveSnapshots(ids, false) != nil {
		return meta
	}
	if pruned, err := b.Build(); err == nil {
		return pruned
	}
	return meta
}
