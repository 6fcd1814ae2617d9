package table

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
)

// versionFiles are the files a table version's metadata names, decoded
// without the rest of it: gc and verify --history read every version a
// commit reaches, and each later version lists every earlier snapshot
// again, so a whole parse of each (iceberg-go's, several passes over the
// JSON) made them quadratic in a table's history with a large constant:
// 759 versions of a table of 1,000 appends took 21 s to parse whole,
// 3.1 s so.
type versionFiles struct {
	CurrentSnapshotID *int64 `json:"current-snapshot-id"`
	Refs              map[string]struct {
		SnapshotID int64 `json:"snapshot-id"`
	} `json:"refs"`
	Snapshots []struct {
		SnapshotID   int64  `json:"snapshot-id"`
		TimestampMs  int64  `json:"timestamp-ms"`
		ManifestList string `json:"manifest-list"`
	} `json:"snapshots"`
	Statistics []struct {
		Path string `json:"statistics-path"`
	} `json:"statistics"`
	PartitionStatistics []struct {
		Path string `json:"statistics-path"`
	} `json:"partition-statistics"`
}

// manifestLists returns the manifest lists of the version's snapshots
// that history expired before horizon (zero: none) left: see
// snapshotExpired.
func (v *versionFiles) manifestLists(horizon time.Time) []string {
	out := make([]string, 0, len(v.Snapshots))
	for _, s := range v.Snapshots {
		if s.ManifestList == "" {
			continue
		}
		current := v.CurrentSnapshotID != nil && *v.CurrentSnapshotID == s.SnapshotID
		if snapshotExpired(horizon, s.TimestampMs, current || v.hasRef(s.SnapshotID)) {
			continue
		}
		out = append(out, s.ManifestList)
	}
	return out
}

// hasRef reports whether one of the version's own refs (Iceberg branches
// and tags inside its metadata) points at a snapshot.
func (v *versionFiles) hasRef(id int64) bool {
	for _, r := range v.Refs {
		if r.SnapshotID == id {
			return true
		}
	}
	return false
}

// snapshotExpired reports whether a snapshot of a kept table version is
// expired by the history horizon (gc.keep_history): made before it and
// neither the version's current snapshot nor one of its refs. A table's
// metadata lists every snapshot it ever had, so a kept version would
// otherwise keep the files of every earlier replace of the table forever;
// reads of a version use its current snapshot, and the REST catalog and
// `tarn table describe` no longer show expired ones (withoutExpired).
func snapshotExpired(horizon time.Time, timestampMs int64, pinned bool) bool {
	return !horizon.IsZero() && !pinned && time.UnixMilli(timestampMs).Before(horizon)
}

// statisticsFiles returns the version's table and partition statistics
// files (Puffin and Parquet files other engines may write).
func (v *versionFiles) statisticsFiles() []string {
	var out []string
	for _, s := range v.Statistics {
		out = append(out, s.Path)
	}
	for _, s := range v.PartitionStatistics {
		out = append(out, s.Path)
	}
	return out
}

// readVersionFiles reads the metadata file of a table version (plain or
// gzip-compressed JSON) for the files it names, and returns the file
// system its files are on.
func (s *Service) readVersionFiles(ctx context.Context, key, metaLoc string) (*versionFiles, iceio.IO, error) {
	fsys, err := s.loadFS(ctx, metaLoc)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) error { return s.metadataError(ctx, key, metaLoc, err) }
	f, err := fsys.Open(metaLoc)
	if err != nil {
		return nil, nil, fail(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fail(err)
	}
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) || strings.HasSuffix(metaLoc, ".gz.metadata.json") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fail(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, nil, fail(err)
		}
	}
	var v versionFiles
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, nil, fail(err)
	}
	return &v, fsys, nil
}

// readManifestList reads the manifests a manifest list names.
func readManifestList(fsys iceio.IO, loc string) ([]iceberg.ManifestFile, error) {
	f, err := fsys.Open(loc)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return iceberg.ReadManifestList(f)
}

// withoutExpired returns table metadata JSON without the snapshots (and
// their snapshot-log entries) expired before horizon (snapshotExpired),
// the rest of it as it was; unchanged when none is.
func withoutExpired(data []byte, horizon time.Time) ([]byte, error) {
	var v versionFiles
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("read table metadata: %w", err)
	}
	gone := map[int64]bool{}
	for _, sn := range v.Snapshots {
		current := v.CurrentSnapshotID != nil && *v.CurrentSnapshotID == sn.SnapshotID
		if snapshotExpired(horizon, sn.TimestampMs, current || v.hasRef(sn.SnapshotID)) {
			gone[sn.SnapshotID] = true
		}
	}
	if len(gone) == 0 {
		return data, nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("read table metadata: %w", err)
	}
	for _, field := range []string{"snapshots", "snapshot-log"} {
		var items []json.RawMessage
		if err := json.Unmarshal(doc[field], &items); err != nil {
			continue // absent
		}
		kept := make([]json.RawMessage, 0, len(items))
		for _, it := range items {
			var id struct {
				SnapshotID int64 `json:"snapshot-id"`
			}
			if json.Unmarshal(it, &id) == nil && gone[id.SnapshotID] {
				continue
			}
			kept = append(kept, it)
		}
		raw, err := json.Marshal(kept)
		if err != nil {
			return nil, err
		}
		doc[field] = raw
	}
	return json.Marshal(doc)
}
