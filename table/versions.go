package table

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"strings"

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
	Snapshots []struct {
		ManifestList string `json:"manifest-list"`
	} `json:"snapshots"`
	Statistics []struct {
		Path string `json:"statistics-path"`
	} `json:"statistics"`
	PartitionStatistics []struct {
		Path string `json:"statistics-path"`
	} `json:"partition-statistics"`
}

// manifestLists returns the version's snapshots' manifest lists.
func (v *versionFiles) manifestLists() []string {
	out := make([]string, 0, len(v.Snapshots))
	for _, s := range v.Snapshots {
		if s.ManifestList != "" {
			out = append(out, s.ManifestList)
		}
	}
	return out
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
