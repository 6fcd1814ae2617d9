package table

import (
	"fmt"
	"testing"
)

// TestPathCache_Bound: a cache of files read holds the last
// pathCacheSize paths and forgets the oldest.
func TestPathCache_Bound(t *testing.T) {
	c := newPathCache[manifestFiles]()
	for i := range pathCacheSize + 10 {
		c.add(fmt.Sprint(i), manifestFiles{deletes: i})
	}
	c.add("20", manifestFiles{deletes: -1}) // already held: kept as it was
	if _, ok := c.get("9"); ok {
		t.Error("the oldest paths are still held")
	}
	if m, ok := c.get("20"); !ok || m.deletes != 20 {
		t.Errorf("path 20: %+v, %v", m, ok)
	}
	if m, ok := c.get(fmt.Sprint(pathCacheSize + 9)); !ok || m.deletes != pathCacheSize+9 {
		t.Errorf("the newest path: %+v, %v", m, ok)
	}
	if len(c.byPath) != pathCacheSize || len(c.order) != pathCacheSize {
		t.Errorf("%d paths held, %d in order, want %d", len(c.byPath), len(c.order), pathCacheSize)
	}
}
