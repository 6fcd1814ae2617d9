package table_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tarnhq/tarn"
)

// rowsDigest is an order-independent digest of ids: their count, sum, and
// sum of a mix of each.
func rowsDigest(ids []int64) string {
	var sum, mix uint64
	for _, id := range ids {
		sum += uint64(id)
		mix += uint64(id)*0x9E3779B97F4A7C15 ^ uint64(id)>>3
	}
	return fmt.Sprint(len(ids), sum, mix)
}

func TestOptimize_CompactsSmallAppends(t *testing.T) {
	dir := t.TempDir()
	svc := newServiceAt(t, dir)
	ctx := context.Background()
	create(t, svc, "main", idRows(0, 5))
	for i := 1; i < 12; i++ {
		appendRows(t, svc, "main", idRows(i*5, i*5+5))
	}
	before := rowsDigest(idsAt(t, svc, "main", trips))
	res, err := svc.Optimize(ctx, tarn.OptimizeRequest{Table: trips, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if res.FilesBefore != 12 || res.FilesAfter != 1 || res.Rows != 60 || res.Unchanged {
		t.Fatalf("optimize %+v", res)
	}
	wantIDs(t, svc, "main", 60)
	if after := rowsDigest(idsAt(t, svc, "main", trips)); after != before {
		t.Fatalf("rows changed: %s -> %s", before, after)
	}
	info, err := svc.GetTable(ctx, trips, "main")
	if err != nil || info.Files != 1 {
		t.Fatalf("table after: %+v %v", info, err)
	}
	// History keeps the small files; a second run has nothing to do.
	if n := len(idsAt(t, svc, "main~1", trips)); n != 60 {
		t.Fatalf("main~1 has %d rows", n)
	}
	again, err := svc.Optimize(ctx, tarn.OptimizeRequest{Table: trips, Branch: "main"})
	if err != nil || !again.Unchanged || again.Commit.Hash != res.Commit.Hash {
		t.Fatalf("second optimize %+v %v", again, err)
	}
	wantVerified(t, svc)
	wantClean(t, svc, dir)
	_, err = svc.Optimize(ctx, tarn.OptimizeRequest{Table: tarn.TableIdent{Namespace: "tarn", Name: "nosuch"}, Branch: "main"})
	if tarn.ErrorCode(err) != tarn.ENOTFOUND {
		t.Fatalf("optimize of a missing table: %v", err)
	}
}
