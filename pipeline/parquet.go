package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	rt "github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/table"
	"golang.org/x/sync/errgroup"
)

// pyParquet writes a step's output as Parquet with pyarrow in the step's
// environment (python -m tarn._parquet). It is tarn's code, but importing
// pyarrow runs whatever the environment's packages put in .pth files, so
// it runs in the step's sandbox: it reads the output and writes into a
// staging directory of its own, and the files are moved into the
// warehouse once it is done.
type pyParquet struct {
	env      *rt.Env
	sdkDir   string
	sandbox  *rt.Sandbox
	workRoot string // where the staging directory is made (the run's worker directories)
	limits   rt.Limits
}

// NewParquetWriter returns the pyarrow writer of step outputs run by the
// interpreter python (of an environment with pyarrow) with the SDK at
// sdkDir, unsandboxed, staging its files under workRoot: for benchmarks
// and tests that drive table.Service.Materialize as a run does.
func NewParquetWriter(python, sdkDir, workRoot string) table.ParquetWriter {
	return pyParquet{env: &rt.Env{Python: python, Dir: filepath.Dir(filepath.Dir(python)), Prefix: rt.InterpreterPrefix(filepath.Dir(filepath.Dir(python)))}, sdkDir: sdkDir, workRoot: workRoot}
}

// stagedParquet is where the writer sees its staging directory.
const stagedParquet = "/tarn/work"

// stagedPart is the name of a file the writer names itself.
var stagedPart = regexp.MustCompile(`^part-[0-9]{5}\.parquet$`)

func (w pyParquet) WriteParquet(ctx context.Context, req table.ParquetWrite) ([]table.ParquetFile, error) {
	if err := os.MkdirAll(w.workRoot, 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(w.workRoot, "parquet-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	os.Chmod(stage, 0o755)
	if err := w.sandbox.Own(stage); err != nil {
		return nil, err
	}
	inside, confined := stage, w.sandbox != nil && w.sandbox.Isolation == rt.IsolationBubblewrap
	if confined {
		inside = stagedParquet
	}
	staged := make([]string, len(req.Paths))
	byStaged := map[string]string{}
	for i, p := range req.Paths {
		staged[i] = filepath.Join(inside, fmt.Sprintf("part-%05d.parquet", i))
		byStaged[staged[i]] = p
	}
	request := map[string]any{
		"source": req.Source, "paths": staged, "field_ids": req.FieldIDs, "schema": req.Schema,
		"compression": req.Compression, "level": req.Level,
	}
	if len(req.Partition) > 0 {
		// The writer names the files (one partition each) in the stage;
		// they are renamed after Dir and Prefix below.
		request["partition"], request["dir"], request["part_bytes"] = req.Partition, inside, req.PartBytes
	}
	body, err := json.Marshal(request)
	if err != nil {
		return nil, err
	}
	c := rt.Confinement{ReadOnly: []string{w.env.Prefix, w.env.Dir, w.sdkDir, filepath.Dir(req.Source)}, Limits: w.limits}
	if confined {
		c.Binds = map[string]string{stagedParquet: stage}
	} else {
		c.Writable = []string{stage}
	}
	var stdout, stderr bytes.Buffer
	err = w.sandbox.Run(ctx, rt.Command{
		Argv:        []string{w.env.Python, "-m", "tarn._parquet"},
		Env:         []string{"PYTHONPATH=" + w.sdkDir, "PATH=" + filepath.Join(w.env.Dir, "bin") + ":/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp", "LANG=C.UTF-8"},
		Confinement: c, Stdin: bytes.NewReader(body), Stdout: &stdout, Stderr: &stderr,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("pyarrow Parquet writer: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res struct {
		Paths      []string            `json:"paths"`
		Partitions [][]json.RawMessage `json:"partitions"`
		CannotCast string              `json:"cannot_cast"`
		Declined   string              `json:"declined"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("pyarrow Parquet writer: unreadable answer %q: %v", stdout.String(), err)
	}
	if res.CannotCast != "" {
		return nil, fmt.Errorf("%w: %s", table.ErrCannotCast, res.CannotCast)
	}
	if res.Declined != "" {
		return nil, fmt.Errorf("%w: %s", table.ErrWriterDeclined, res.Declined)
	}
	if len(req.Partition) > 0 {
		if len(res.Partitions) != len(res.Paths) {
			return nil, fmt.Errorf("pyarrow Parquet writer: partition values of %d files for %d files", len(res.Partitions), len(res.Paths))
		}
		for _, p := range res.Paths {
			if base := filepath.Base(p); filepath.Dir(p) == inside && stagedPart.MatchString(base) {
				// Not filepath.Join: Dir may be an s3:// URL.
				byStaged[p] = strings.TrimSuffix(req.Dir, "/") + "/" + req.Prefix + strings.TrimPrefix(base, "part")
			}
		}
	}
	srcs := make([]string, len(res.Paths))
	for i, p := range res.Paths {
		if _, ok := byStaged[p]; !ok {
			return nil, fmt.Errorf("pyarrow Parquet writer: wrote %q, which it was not asked for", p)
		}
		srcs[i] = filepath.Join(stage, filepath.Base(p))
		if err := w.sandbox.Disown(srcs[i]); err != nil {
			return nil, fmt.Errorf("pyarrow Parquet writer: %w", err)
		}
	}
	files := func(paths []string) []table.ParquetFile {
		out := make([]table.ParquetFile, len(paths))
		for i, p := range paths {
			out[i].Path = p
			if len(req.Partition) > 0 {
				out[i].Partition = res.Partitions[i]
			}
		}
		return out
	}
	if req.Put != nil {
		written, err := putAll(ctx, req.Put, srcs, res.Paths, byStaged)
		return files(written), err
	}
	// Into the warehouse: each file whole, under the name it was asked for.
	var written []string
	for i, p := range res.Paths {
		dst := byStaged[p]
		if err := moveFile(srcs[i], dst); err != nil { // the files moved so far are returned, for the table's write log to remove
			return files(written), fmt.Errorf("pyarrow Parquet writer: %w", err)
		}
		written = append(written, dst)
	}
	return files(written), nil
}

// putFiles is how many files putAll stores at a time (each upload sends
// its parts in parallel too).
const putFiles = 4

// putAll stores every staged file through put, a few at a time: all, or
// an error (what was stored is the table's write log's to remove).
func putAll(ctx context.Context, put func(ctx context.Context, local, dst string) error, srcs, paths []string, byStaged map[string]string) ([]string, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(putFiles)
	written := make([]string, len(paths))
	for i, p := range paths {
		written[i] = byStaged[p]
		g.Go(func() error { return put(gctx, srcs[i], written[i]) })
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("pyarrow Parquet writer: %w", err)
	}
	return written, nil
}

// moveFile puts src at dst whole: a rename on one file system, else a
// copy to a temporary name beside dst, synced, then renamed.
func moveFile(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	} else if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
