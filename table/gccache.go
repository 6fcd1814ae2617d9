package table

import (
	"context"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
)

// DefaultSharedCacheBytes bounds the step cache's tier in the bucket
// when Config.SharedCacheMax is not set.
const DefaultSharedCacheBytes = 100 << 30

// cacheManifest is the object of an entry of the shared tier written
// last (cache.Remote): an entry without it is not whole yet.
const cacheManifest = "meta.json"

// SharedCacheBound is the size bound of the step cache's tier in the
// bucket (cache.shared_max_size), which garbage collection enforces.
func (s *Service) SharedCacheBound() int64 {
	if s.sharedMax > 0 {
		return s.sharedMax
	}
	return DefaultSharedCacheBytes
}

// cacheUsed is the empty object of an entry of the shared tier that a
// server rewrites when it uses the entry (cache.UsedObject).
const cacheUsed = "used"

// cacheEntry is one entry of the shared tier: its objects, when its
// meta.json was written (zero when it has none), and when a server last
// used it (zero when none has since it was written).
type cacheEntry struct {
	dir      string
	objects  []tarn.GCFile
	bytes    int64
	complete time.Time
	used     time.Time
}

// lastUse is when the entry was last written or used.
func (e *cacheEntry) lastUse() time.Time {
	if e.used.After(e.complete) {
		return e.used
	}
	return e.complete
}

// trimCacheTier chooses what goes from the shared tier of the step cache
// (objects under CacheTierDir, paths relative to the warehouse): the
// least recently used complete entries, by the LastModified of their
// "used" object (rewritten by a server that uses the entry, from its own
// copy or the bucket's) or else of their meta.json, until the tier fits
// maxBytes, and the incomplete entries modified before cutoff (an upload
// of a server killed between data.arrow and meta.json, or a use recorded
// after the entry was trimmed). An incomplete entry younger than that is
// an upload in progress and stays. An evicted entry is uploaded again by
// the next run that computes it.
func trimCacheTier(objects []tarn.GCFile, maxBytes int64, cutoff time.Time) (*tarn.GCCacheTier, []tarn.GCFile) {
	byDir := map[string]*cacheEntry{}
	rep := &tarn.GCCacheTier{MaxBytes: maxBytes}
	for _, o := range objects {
		rep.Bytes += o.Bytes
		dir, name := path.Split(o.Path)
		e := byDir[dir]
		if e == nil {
			e = &cacheEntry{dir: dir}
			byDir[dir] = e
		}
		e.objects = append(e.objects, o)
		e.bytes += o.Bytes
		switch name {
		case cacheManifest:
			e.complete = o.Modified
		case cacheUsed:
			e.used = o.Modified
		}
	}
	var complete []*cacheEntry
	var removed []tarn.GCFile
	total := rep.Bytes
	remove := func(e *cacheEntry) {
		removed = append(removed, e.objects...)
		total -= e.bytes
		rep.RemovedEntries++
		rep.RemovedBytes += e.bytes
	}
	for _, e := range byDir {
		if !e.complete.IsZero() {
			complete = append(complete, e)
			continue
		}
		rep.Incomplete++
		newest := time.Time{}
		for _, o := range e.objects {
			if o.Modified.After(newest) {
				newest = o.Modified
			}
		}
		if newest.Before(cutoff) {
			remove(e)
		}
	}
	rep.Entries = len(complete)
	sort.Slice(complete, func(i, j int) bool {
		if a, b := complete[i].lastUse(), complete[j].lastUse(); !a.Equal(b) {
			return a.Before(b)
		}
		return complete[i].dir < complete[j].dir
	})
	for _, e := range complete {
		if total <= maxBytes {
			break
		}
		remove(e)
	}
	return rep, removed
}

// removeCacheEntries removes entries of the shared tier: every meta.json
// first, then the other objects, so a reader never finds a manifest
// whose data is gone (an entry without its meta.json is a miss). It
// returns what could not be removed.
func removeCacheEntries(ctx context.Context, store warehouseStore, objects []tarn.GCFile) []string {
	var manifests, rest []string
	for _, o := range objects {
		if path.Base(o.Path) == cacheManifest {
			manifests = append(manifests, o.Path)
		} else {
			rest = append(rest, o.Path)
		}
	}
	failed := store.remove(ctx, manifests)
	if len(failed) > 0 {
		// Keep the data of entries whose manifest may still be there.
		kept := map[string]bool{}
		for _, f := range failed {
			p, _, _ := strings.Cut(f, ": ")
			kept[path.Dir(p)] = true
		}
		var left []string
		for _, p := range rest {
			if !kept[path.Dir(p)] {
				left = append(left, p)
			}
		}
		rest = left
	}
	return append(failed, store.remove(ctx, rest)...)
}
