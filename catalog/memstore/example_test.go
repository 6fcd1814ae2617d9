package memstore_test

import (
	"context"
	"fmt"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/memstore"
)

// A catalog over an in-memory store: what a test of the server or the
// services needs, without SQLite.
func Example() {
	ctx := context.Background()
	cat, err := catalog.Open(ctx, memstore.New())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cat.Close()
	if _, err := cat.CreateRef(ctx, tarn.KindBranch, "dev", tarn.DefaultBranch); err != nil {
		fmt.Println(err)
		return
	}
	_, err = cat.Commit(ctx, catalog.CommitRequest{Branch: "dev", Changes: map[string]*tarn.Entry{
		"tarn.trips": {Kind: tarn.EntryTable, Metadata: "file:///warehouse/tarn/trips/metadata/00001.metadata.json"},
	}, Info: tarn.CommitInfo{Author: "ann", Message: "add trips"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	log, _ := cat.Log(ctx, "dev", 0)
	for _, c := range log {
		fmt.Println(c.Author+":", c.Message)
	}
	_, err = cat.CreateRef(ctx, tarn.KindBranch, "dev", tarn.DefaultBranch)
	fmt.Println(tarn.ErrorCode(err))
	// Output:
	// ann: add trips
	// tarn: initialize lakehouse
	// exists
}
