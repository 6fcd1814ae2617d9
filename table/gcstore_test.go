package table

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/tarnhq/tarn"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
)

// TestLeaseStart: a write's start is taken in the storage's clock, from
// the lease's modification time less what the writer counted from its
// start to the lease's last refresh, so a writer whose clock is an hour
// off still protects what it wrote; unreadable and old-format leases fall
// back to safe bounds.
func TestLeaseStart(t *testing.T) {
	dir := t.TempDir()
	store := localStore(dir)
	modified := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	write := func(name string, content []byte) tarn.GCFile {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
		return tarn.GCFile{Path: name, Modified: modified}
	}
	lease := func(started, refreshed time.Time) []byte {
		data, _ := json.Marshal(leaseInfo{Started: started, Refreshed: refreshed})
		return data
	}
	ahead := modified.Add(time.Hour) // the writer's clock is an hour ahead
	for _, c := range []struct {
		name    string
		content []byte
		want    time.Time
	}{
		{"skewed", lease(ahead.Add(-10*time.Minute), ahead), modified.Add(-10 * time.Minute)},
		{"behind", lease(modified.Add(-3*time.Hour), modified.Add(-2*time.Hour)), modified.Add(-time.Hour)},
		{"old-format", lease(modified.Add(-5*time.Minute), time.Time{}), modified.Add(-5 * time.Minute)},
		{"old-format-future", lease(ahead, time.Time{}), modified.Add(-leaseTTL)},
		{"refreshed-before-start", lease(modified, modified.Add(-time.Minute)), modified},
		{"unreadable", []byte("{not json"), modified.Add(-leaseTTL)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := leaseStart(context.Background(), store, write(c.name, c.content)); !got.Equal(c.want) {
				t.Fatalf("start %s, want %s", got, c.want)
			}
		})
	}
}

// TestService_WarehouseRel: locations map to warehouse-relative paths;
// s3a:// and s3n:// name the same objects; anything outside is not in
// the warehouse.
func TestService_WarehouseRel(t *testing.T) {
	s3 := &Service{warehouse: "s3://bucket/lake"}
	local := &Service{warehouse: "file:///data/wh"}
	for _, c := range []struct {
		svc  *Service
		loc  string
		want string
		ok   bool
	}{
		{s3, "s3://bucket/lake/tarn/t/data/a.parquet", "tarn/t/data/a.parquet", true},
		{s3, "s3a://bucket/lake/tarn/t/data/a.parquet", "tarn/t/data/a.parquet", true},
		{s3, "s3n://bucket/lake/x", "x", true},
		{s3, "s3://bucket/lakehouse/x", "", false},
		{s3, "s3://other/lake/x", "", false},
		{s3, "s3://bucket/lake", "", false},
		{local, "file:///data/wh/tarn/t/m.avro", "tarn/t/m.avro", true},
		{local, "/data/wh/tarn/t/m.avro", "tarn/t/m.avro", true},
		{local, "/data/other/x", "", false},
		{local, "/data/wh", "", false},
		{local, "s3://bucket/lake/x", "", false},
	} {
		got, ok := c.svc.warehouseRel(c.loc)
		if got != c.want || ok != c.ok {
			t.Errorf("%s in %s: got %q %v, want %q %v", c.loc, c.svc.warehouse, got, ok, c.want, c.ok)
		}
	}
}

// uploadsStore is a local store whose listing of incomplete uploads fails
// with err.
type uploadsStore struct {
	localStore
	err error
}

func (u uploadsStore) uploads(context.Context) ([]s3fetch.Upload, error) { return nil, u.err }

// Credentials that may not list multipart uploads (or a store that does
// not) leave the uploads unchecked, say so and what to grant, and do not
// stop the collection; any other failure to list them does.
func TestListUploads_Denied(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		err     error
		skipped string // "" when the error stops the collection
	}{
		{&smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}, "grant s3:ListBucketMultipartUploads"},
		{&smithy.GenericAPIError{Code: "NotImplemented", Message: "not implemented"}, "does not list them"},
		{&smithy.GenericAPIError{Code: "InternalError", Message: "try again"}, ""},
		{errors.New("connection refused"), ""},
	} {
		ups, skipped, err := listUploads(ctx, uploadsStore{localStore: localStore(t.TempDir()), err: c.err})
		if c.skipped == "" {
			if err == nil || !strings.Contains(err.Error(), "list incomplete multipart uploads") {
				t.Errorf("%v: err %v, skipped %q; want the collection stopped", c.err, err, skipped)
			}
			continue
		}
		if err != nil || len(ups) != 0 || len(skipped) != 1 || !strings.Contains(skipped[0], c.skipped) || !strings.Contains(skipped[0], "not checked") {
			t.Errorf("%v: err %v, skipped %q; want it skipped with %q", c.err, err, skipped, c.skipped)
		}
	}
}
