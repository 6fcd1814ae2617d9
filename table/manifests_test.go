package table

import (
	"fmt"
	"testing"
)

// TestManifestCache_Bound: the cache of manifests' files holds the last
// manifestCacheSize paths and forgets the oldest.
func TestManifestCache_Bound(t *testing.T) {
	c := &manifestCache{byPath: map[string]manifestFiles{}}
	for i := range manifestCacheSize + 10 {
		c.add(fmt.Sprint(i), manifestFiles{deletes: i})
	}
	c.add("20", manifestFiles{deletes: -1}) // already held: kept as it was
	if _, ok := c.get("9"); ok {
		t.Error("the oldest paths are still held")
	}
	if m, ok := c.get("20"); !ok || m.deletes != 20 {
		t.Errorf("path 20: %+v, %v", m, ok)
	}
	if m, ok := c.get(fmt.Sprint(manifestCacheSize + 9)); !ok || m.deletes != manifestCacheSize+9 {
		t.Errorf("the newest path: %+v, %v", m, ok)
	}
	if len(c.byPath) != manifestCacheSize || len(c.order) != manifestCacheSize {
		t.Errorf("%d paths held, %d in order, want %d", len(c.byPath), len(c.order), manifestCacheSize)
	}
}
