package table

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/io/gocloud/blobfs"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/ingest"
	"github.com/tarnhq/tarn/objcache/s3"
	"gocloud.dev/blob"
)

// Input files already in a bucket (`--from s3://BUCKET/PATH/*.parquet`)
// are copied into the table like local ones: they are downloaded into a
// staging folder, read by the importer and written as the table's own
// data files, so that the table owns its data (gc and a table's removal
// never touch the source objects, and a later change of the objects never
// changes the table).

// object is one object an s3:// input names.
type object struct {
	Key  string
	Size int64
}

// objectInput is a parsed s3:// input: its bucket and the key, key
// pattern or prefix in it.
type objectInput struct {
	URL, Bucket, Key string
}

// parseObjectInput splits s3://BUCKET/KEY without URL decoding (a glob's
// "?" is not a query).
func parseObjectInput(p string) (objectInput, error) {
	rest, ok := strings.CutPrefix(p, "s3://")
	bucket, key, _ := strings.Cut(rest, "/")
	if !ok || bucket == "" || strings.ContainsAny(bucket, "*?[") {
		return objectInput{}, tarn.Errorf(tarn.EINVALID, "input %s: use s3://BUCKET/KEY, s3://BUCKET/PREFIX/ or a glob such as s3://BUCKET/PATH/*.parquet", tarn.Quote(p))
	}
	return objectInput{URL: p, Bucket: bucket, Key: key}, nil
}

// isGlob reports whether a key has glob syntax (path.Match).
func isGlob(key string) bool { return strings.ContainsAny(key, "*?[") }

// listPrefix is the key prefix that holds every object in reads: the
// folder before a glob's first wildcard, or the key itself (an object,
// or a folder without its slash).
func (in objectInput) listPrefix() string {
	if !isGlob(in.Key) {
		return in.Key
	}
	i := strings.IndexAny(in.Key, "*?[")
	return in.Key[:strings.LastIndex(in.Key[:i], "/")+1]
}

// match selects the objects an input names among listed, the objects
// under its listPrefix, as ingest.Expand selects local files: a glob (*
// does not cross a "/") yields its matching objects with a supported
// extension, hidden ones (a name starting with ".") only when the
// pattern's last element asks for them; a key names that object, or
// else the folder of that name; a folder (a key ending in "/", or the
// whole bucket) yields the objects with a supported extension directly
// in it, skipping names starting with "." or "_" (Spark's _SUCCESS).
// Objects come sorted by key. where names the server for messages.
func (in objectInput) match(listed []object, where string) ([]object, error) {
	noneErr := func(what string) error {
		return tarn.Errorf(tarn.EINVALID, "%s in bucket %s (%s): check the path; list it with `aws s3 ls %s`", what, tarn.Quote(in.Bucket), where, in.listURL())
	}
	if isGlob(in.Key) {
		if _, err := path.Match(in.Key, ""); err != nil {
			return nil, tarn.Errorf(tarn.EINVALID, "input %s: invalid pattern: %v", tarn.Quote(in.URL), err)
		}
		hidden := strings.HasPrefix(path.Base(in.Key), ".")
		var out []object
		matched := 0
		for _, o := range listed {
			if ok, _ := path.Match(in.Key, o.Key); !ok || strings.HasSuffix(o.Key, "/") {
				continue
			}
			matched++
			if !hidden && strings.HasPrefix(path.Base(o.Key), ".") {
				continue
			}
			if _, ok := ingest.FormatOf(o.Key); ok {
				out = append(out, o)
			}
		}
		switch {
		case matched == 0:
			return nil, noneErr(fmt.Sprintf("no object matches %s", tarn.Quote(in.URL)))
		case len(out) == 0:
			return nil, tarn.Errorf(tarn.EINVALID, "no supported file matches %s (supported: %s)", tarn.Quote(in.URL), ingest.SupportedExts)
		}
		return out, nil
	}
	dir := in.Key
	if dir != "" && !strings.HasSuffix(dir, "/") {
		for _, o := range listed {
			if o.Key != in.Key {
				continue
			}
			if _, ok := ingest.FormatOf(o.Key); !ok {
				return nil, tarn.Errorf(tarn.EINVALID, "%s: unsupported file extension %q (supported: %s)", in.URL, path.Ext(o.Key), ingest.SupportedExts)
			}
			return []object{o}, nil
		}
		dir += "/"
	}
	var out []object
	inside := false
	for _, o := range listed {
		name, ok := strings.CutPrefix(o.Key, dir)
		if !ok || name == "" {
			continue
		}
		inside = true
		if strings.Contains(name, "/") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		if _, ok := ingest.FormatOf(name); ok {
			out = append(out, o)
		}
	}
	switch {
	case !inside && in.Key == "":
		return nil, noneErr("no objects")
	case !inside:
		return nil, noneErr(fmt.Sprintf("no object or folder %s", tarn.Quote(in.URL)))
	case len(out) == 0:
		return nil, tarn.Errorf(tarn.EINVALID, "%s: folder has no supported file directly in it (supported: %s)", in.URL, ingest.SupportedExts)
	}
	return out, nil
}

// listURL is the folder of the input, for the hint in messages.
func (in objectInput) listURL() string {
	p := in.listPrefix()
	if i := strings.LastIndex(p, "/"); i >= 0 {
		p = p[:i+1]
	} else {
		p = ""
	}
	return "s3://" + in.Bucket + "/" + p
}

// sdkNoise matches the request ids in the AWS SDK's messages.
var sdkNoise = regexp.MustCompile(`(RequestID|HostID): [^,]*, `)

// objectError explains a failure to reach a bucket: what was asked, of
// which bucket and server, and what to check.
func objectError(op string, in objectInput, where string, err error) error {
	fix := s3Fix(err, in.Bucket, strings.TrimPrefix(where, "at "), "read")
	return tarn.Errorf(tarn.EINVALID, "%s %s (%s): %s: %s", op, in.URL, where, sdkNoise.ReplaceAllString(err.Error(), ""), fix)
}

// s3Fix says what to check after a request to bucket (on server, for a
// message; may be "") failed with err: the bucket's name when there is
// no such bucket, the credentials and whether they may do what was
// asked (may: "read", "write") when refused, the endpoint and the
// network when nothing answered, and all of these otherwise.
func s3Fix(err error, bucket, server, may string) string {
	on := ""
	if server != "" {
		on = " on " + server
	}
	switch s3.Classify(err) {
	case s3.FaultNoBucket:
		return fmt.Sprintf("there is no bucket %s%s: check the URL (or AWS_ENDPOINT_URL, the server)", tarn.Quote(bucket), on)
	case s3.FaultDenied:
		return fmt.Sprintf("the credentials were refused: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ~/.aws), and that they may %s bucket %s", may, tarn.Quote(bucket))
	case s3.FaultUnreachable:
		return "the S3 server cannot be reached: check AWS_ENDPOINT_URL (unset for AWS S3) and the network"
	}
	return fmt.Sprintf("check that the bucket %s exists, the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or ~/.aws) and, for an S3-compatible server, AWS_ENDPOINT_URL", tarn.Quote(bucket))
}

// objectProps are the FileIO settings for reading input objects: the
// standard AWS environment, whatever the warehouse.
func objectProps() iceberg.Properties {
	props := iceberg.Properties{}
	s3Properties(props)
	return props
}

// objectsWhere names the S3 server for messages.
func objectsWhere() string {
	if e := S3Endpoint(); e != "" {
		return "at " + e
	}
	return "AWS S3"
}

// openBucket opens the bucket of an input through iceberg-go's FileIO.
func openBucket(ctx context.Context, in objectInput) (*blob.Bucket, error) {
	fsys, err := iceio.LoadFS(ctx, objectProps(), "s3://"+in.Bucket)
	if err != nil {
		return nil, objectError("open", in, objectsWhere(), err)
	}
	bfs, ok := fsys.(*blobfs.FileIO)
	if !ok {
		return nil, tarn.Errorf(tarn.EINTERNAL, "open %s: the s3 file system cannot list objects", in.URL)
	}
	return bfs.Bucket, nil
}

// listObjects lists the objects under the input's prefix, sorted by key.
func listObjects(ctx context.Context, bucket *blob.Bucket, in objectInput) ([]object, error) {
	it := bucket.List(&blob.ListOptions{Prefix: in.listPrefix()})
	var out []object
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, objectError("list", in, objectsWhere(), err)
		}
		if !o.IsDir {
			out = append(out, object{Key: o.Key, Size: o.Size})
		}
	}
}

// stagedInputs are input objects downloaded for an import: a folder to
// remove after it, and the URL of each local copy for messages.
type stagedInputs struct {
	dir  string
	urls map[string]string // local path → s3:// URL
}

// Close removes the staged copies.
func (st *stagedInputs) Close() {
	if st != nil && st.dir != "" {
		os.RemoveAll(st.dir)
	}
}

// url returns the object a local copy was made of, or the path itself.
func (st *stagedInputs) url(local string) string {
	if st != nil {
		if u, ok := st.urls[local]; ok {
			return u
		}
	}
	return local
}

// rename rewrites the local copies' paths in err's message into the
// objects' URLs.
func (st *stagedInputs) rename(err error) error {
	if err == nil || st == nil || len(st.urls) == 0 {
		return err
	}
	msg := err.Error()
	for local, u := range st.urls {
		msg = strings.ReplaceAll(msg, local, u)
	}
	if msg == err.Error() {
		return err
	}
	return &tarn.Error{Code: tarn.ErrorCode(err), Message: msg, Err: err}
}

// stageObjects downloads the objects the s3:// inputs of from name into a
// fresh folder under dir ("": the system's temporary folder) and returns
// from with each s3:// input replaced by the paths of its copies, in key
// order (local inputs stay as they are). Each copy is checked against the
// size listed. The caller closes the staged inputs, also after an error.
func stageObjects(ctx context.Context, from []string, dir string) ([]string, *stagedInputs, error) {
	st := &stagedInputs{urls: map[string]string{}}
	var out []string
	buckets := map[string]*blob.Bucket{}
	defer func() {
		for _, b := range buckets {
			b.Close()
		}
	}()
	for _, p := range from {
		if !ingest.IsObjectInput(p) {
			out = append(out, p)
			continue
		}
		in, err := parseObjectInput(p)
		if err != nil {
			return nil, st, err
		}
		bucket := buckets[in.Bucket]
		if bucket == nil {
			if bucket, err = openBucket(ctx, in); err != nil {
				return nil, st, err
			}
			buckets[in.Bucket] = bucket
		}
		listed, err := listObjects(ctx, bucket, in)
		if err != nil {
			return nil, st, err
		}
		objs, err := in.match(listed, objectsWhere())
		if err != nil {
			return nil, st, err
		}
		if st.dir == "" {
			if dir != "" {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return nil, st, fmt.Errorf("staging folder for input objects: %w", err)
				}
			}
			if st.dir, err = os.MkdirTemp(dir, "s3-input-"); err != nil {
				return nil, st, fmt.Errorf("staging folder for input objects: %w", err)
			}
		}
		for _, o := range objs {
			// One subfolder per object: equal names in different folders
			// do not collide, and the copy keeps its name (and extension).
			sub := filepath.Join(st.dir, strconv.Itoa(len(st.urls)))
			local := filepath.Join(sub, path.Base(o.Key))
			u := "s3://" + in.Bucket + "/" + o.Key
			if err := download(ctx, bucket, in, o, sub, local); err != nil {
				return nil, st, err
			}
			st.urls[local] = u
			out = append(out, local)
		}
	}
	return out, st, nil
}

// download copies object o into the local file dst (in the new folder sub).
func download(ctx context.Context, bucket *blob.Bucket, in objectInput, o object, sub, dst string) error {
	u := "s3://" + in.Bucket + "/" + o.Key
	if err := os.Mkdir(sub, 0o700); err != nil {
		return fmt.Errorf("staging folder for input objects: %w", err)
	}
	r, err := bucket.NewReader(ctx, o.Key, nil)
	if err != nil {
		return objectError("download", objectInput{URL: u, Bucket: in.Bucket}, objectsWhere(), err)
	}
	defer r.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("staging %s: %w", u, err)
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != o.Size {
		err = fmt.Errorf("got %d bytes, the listing said %d (was the object replaced meanwhile?)", n, o.Size)
	}
	if err != nil {
		return tarn.Errorf(tarn.EINVALID, "download %s (%s): %v; nothing was written", u, objectsWhere(), err)
	}
	return nil
}
