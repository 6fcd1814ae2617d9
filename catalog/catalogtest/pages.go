package catalogtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
)

// testHistoryPages: paging through a history with merges gives Log's
// commits in Log's order, each once, at any page size; bad cursors are
// refused.
func testHistoryPages(t *testing.T, newStore NewStore) {
	c, _ := open(t, newStore)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		dev := fmt.Sprintf("dev%d", i)
		if _, err := c.CreateRef(ctx, tarn.KindBranch, dev, "main"); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 4; j++ {
			commit(t, c, dev, map[string]*tarn.Entry{table(dev): tbl(fmt.Sprint(dev, j))})
			commit(t, c, "main", map[string]*tarn.Entry{table("m"): tbl(fmt.Sprint("m", i, j))})
		}
		if _, err := c.Merge(ctx, tarn.MergeRequest{Source: dev, Into: "main", Info: tarn.CommitInfo{Author: "t"}}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := c.Log(ctx, "main", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1+3*(4+4+1) {
		t.Fatalf("log has %d commits", len(all))
	}
	for _, size := range []int{1, 2, 5, len(all), len(all) + 3} {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > len(all) {
				t.Fatalf("page size %d: no end after %d pages", size, pages)
			}
			page, err := c.History(ctx, "main", cursor, size)
			if err != nil {
				t.Fatalf("page size %d: %v", size, err)
			}
			if len(page.Commits) > size || (page.Next != "" && len(page.Commits) != size) {
				t.Fatalf("page size %d: a page of %d, next %q", size, len(page.Commits), page.Next)
			}
			for _, cm := range page.Commits {
				got = append(got, cm.Hash)
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		var want []string
		for _, cm := range all {
			want = append(want, cm.Hash)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("page size %d: paged history differs from the log:\n got %v\nwant %v", size, got, want)
		}
	}
	// A cursor is what a page returned: anything else is refused.
	_, err = c.History(ctx, "main", "nope", 5)
	wantCode(t, err, tarn.EINVALID, "cursor")
	_, err = c.History(ctx, "main", strings.Repeat("ab", 32), 5)
	wantCode(t, err, tarn.ENOTFOUND)
	_, err = c.History(ctx, "nosuch", "", 5)
	wantCode(t, err, tarn.ENOTFOUND)
}
