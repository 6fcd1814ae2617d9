package table

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	icetable "github.com/apache/iceberg-go/table"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
)

// uploads puts the files a ParquetWriter wrote on the local disk into a
// table in an object store (ParquetWrite.Put). Each object is recorded in
// the session's write log before its upload starts, so a failed write
// (or a failed commit) removes it and, until then, the write's lease
// keeps garbage collection away from it; after a crash gc removes it as
// an unreferenced file. Its data file (row count, column statistics) is
// read from the local copy's footer first: no round trip to the store.
type uploads struct {
	ss     *Session
	up     *s3fetch.Uploader
	staged *icetable.StagedTable
	mu     sync.Mutex
	files  map[string]iceberg.DataFile // by destination
}

func (s *Service) newUploads(ctx context.Context, ss *Session, staged *icetable.StagedTable) (*uploads, error) {
	up, err := s.s3Uploader(ctx)
	if err != nil {
		return nil, err
	}
	return &uploads{ss: ss, up: up, staged: staged, files: map[string]iceberg.DataFile{}}, nil
}

func (u *uploads) put(ctx context.Context, local, dst string) error {
	u.ss.record(dst)
	// Read with no partition spec: callWriter sets the partition values.
	df, err := icetable.FileToDataFile(ctx, stagedFile{name: dst, local: local}, dst, u.staged.Schema(), *iceberg.UnpartitionedSpec, 0, u.staged.Properties())
	if err != nil {
		return fmt.Errorf("read the footer of %s: %w", dst, err)
	}
	if err := u.up.Upload(ctx, local, dst); err != nil {
		return fmt.Errorf("upload %s: %w", dst, err)
	}
	u.mu.Lock()
	u.files[dst] = df
	u.mu.Unlock()
	return nil
}

// dataFiles returns the data files of the uploaded paths, in order.
func (u *uploads) dataFiles(paths []string) ([]iceberg.DataFile, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	files := make([]iceberg.DataFile, len(paths))
	for i, p := range paths {
		df, ok := u.files[p]
		if !ok {
			return nil, fmt.Errorf("the writer reported %s, which it did not upload", p)
		}
		files[i] = df
	}
	return files, nil
}

// stagedFile opens, under the name a file has in the warehouse, the local
// file it was written as, for reading its footer before it is uploaded.
type stagedFile struct{ name, local string }

var _ iceio.IO = stagedFile{}

func (f stagedFile) Open(name string) (iceio.File, error) {
	if name != f.name {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return os.Open(f.local)
}

func (f stagedFile) Remove(name string) error {
	return &fs.PathError{Op: "remove", Path: name, Err: errors.ErrUnsupported}
}

// s3Uploader returns the service's uploader into its bucket, made once
// and configured as its FileIO is.
func (s *Service) s3Uploader(ctx context.Context) (*s3fetch.Uploader, error) {
	s.uploader.once.Do(func() {
		s.uploader.up, s.uploader.err = s3fetch.NewUploader(context.WithoutCancel(ctx), s3Config(s.ioProps))
		if s.uploader.err != nil {
			s.uploader.err = fmt.Errorf("the warehouse %s: S3 settings: %w", s.Where(), s.uploader.err)
		}
	})
	return s.uploader.up, s.uploader.err
}

// s3Uploads makes the uploader of a Service once.
type s3Uploads struct {
	once sync.Once
	up   *s3fetch.Uploader
	err  error
}

// s3Config is objcache/s3's configuration from iceberg-go's s3.*
// FileIO properties (the rest from the standard AWS environment).
func s3Config(props map[string]string) s3fetch.Config {
	return s3fetch.Config{
		Endpoint: props[iceio.S3EndpointURL], Region: props[iceio.S3Region],
		AccessKeyID: props[iceio.S3AccessKeyID], SecretAccessKey: props[iceio.S3SecretAccessKey], SessionToken: props[iceio.S3SessionToken],
	}
}
