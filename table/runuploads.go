package table

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
)

// RunUploadsDir is the folder of the warehouse that holds the projects
// of queued runs (objects of an s3:// warehouse): gc removes only those
// no unfinished job names, once older than its age.
const RunUploadsDir = ".tarn/runs"

// RunUploads keeps the projects of queued runs in the warehouse's bucket
// (WAREHOUSE/.tarn/runs/NAME.tar.gz), so that the server that claims a
// run needs no folder of the server that received it. A location is the
// object's URL (s3://BUCKET/PREFIX/.tarn/runs/NAME.tar.gz): what a job
// records as its Cleanup.
type RunUploads struct {
	store *s3Store
	url   string // WAREHOUSE/.tarn/runs
	where string // for messages: the URL and the endpoint
}

// RunUploads opens the bucket's folder of run uploads: nil for a
// warehouse on the local disk (whose servers share the home's upload
// folder).
func (s *Service) RunUploads(ctx context.Context) (*RunUploads, error) {
	if !IsRemote(s.warehouse) {
		return nil, nil
	}
	store, err := s.s3Store(ctx)
	if err != nil {
		return nil, err
	}
	url := s.warehouse + "/" + RunUploadsDir
	return &RunUploads{store: store, url: url, where: strings.Replace(s.Where(), s.warehouse, url, 1)}, nil
}

// bucket is the name of the uploads' bucket.
func (u *RunUploads) bucket() string {
	b, _, _ := strings.Cut(strings.TrimPrefix(u.url, "s3://"), "/")
	return b
}

// Where names the folder: its URL and the server.
func (u *RunUploads) Where() string { return u.where }

// Owns reports whether location names an object of these uploads.
func (u *RunUploads) Owns(location string) bool {
	_, ok := u.rel(location)
	return ok
}

// rel is the warehouse-relative key of a location of these uploads.
func (u *RunUploads) rel(location string) (string, bool) {
	name, ok := strings.CutPrefix(location, u.url+"/")
	if !ok || name == "" || strings.Contains(name, "/") || name == "." || name == ".." {
		return "", false
	}
	return RunUploadsDir + "/" + name, true
}

// Put uploads the local file src (a project archive as the client sent
// it) under a new name and returns its location. The object appears
// whole or not at all; an error says which bucket could not be written
// and what to check.
func (u *RunUploads) Put(ctx context.Context, src string) (string, error) {
	b := make([]byte, 8)
	rand.Read(b)
	name := time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b) + ".tar.gz"
	if err := u.store.b.PutFile(ctx, RunUploadsDir+"/"+name, src, "application/gzip"); err != nil {
		return "", tarn.Errorf(tarn.EINTERNAL, "cannot store the run's project in %s: %v: nothing was queued; %s, then run again", u.where, err, s3Fix(err, u.bucket(), "", "write"))
	}
	return u.url + "/" + name, nil
}

// Get downloads the upload at location into the new local file dst. A
// missing object is ENOTFOUND, saying that the run must be submitted
// again.
func (u *RunUploads) Get(ctx context.Context, location, dst string) error {
	rel, ok := u.rel(location)
	if !ok {
		return tarn.Errorf(tarn.EINTERNAL, "the run's project %s is not in this server's warehouse %s: the servers of one lakehouse must share its warehouse", tarn.Quote(location), u.where)
	}
	err := u.store.b.GetFile(ctx, rel, dst)
	if errors.Is(err, fs.ErrNotExist) {
		return tarn.Errorf(tarn.ENOTFOUND, "the run's project is gone from the bucket (%s): it was removed before the run started (by `tarn gc`, or by hand); nothing was published: submit the run again", location)
	}
	if err != nil {
		return tarn.Errorf(tarn.EINTERNAL, "cannot download the run's project from %s: %v: on this server, %s", u.where, err, s3Fix(err, u.bucket(), "", "read"))
	}
	return nil
}

// Remove removes the upload at location (one gone already is removed).
func (u *RunUploads) Remove(ctx context.Context, location string) error {
	rel, ok := u.rel(location)
	if !ok {
		return fmt.Errorf("remove %s: not a run upload of %s", location, u.where)
	}
	if failed := u.store.b.Delete(ctx, []string{rel}); len(failed) > 0 {
		return fmt.Errorf("remove the run's project from %s: %s", u.where, strings.Join(failed, "; "))
	}
	return nil
}

// uploadsInUse turns the locations of unfinished jobs' uploads into the
// warehouse-relative paths of those in the warehouse.
func (s *Service) uploadsInUse(locations []string) map[string]bool {
	used := map[string]bool{}
	prefix := s.warehouse + "/" + RunUploadsDir + "/"
	for _, loc := range locations {
		if name, ok := strings.CutPrefix(loc, prefix); ok {
			used[RunUploadsDir+"/"+name] = true
		}
	}
	return used
}
