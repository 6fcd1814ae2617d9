package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/tarnhq/tarn"
)

// A tree is the state of every namespace and table in a commit. It is a
// two-level content-addressed structure: a root maps each of 256 buckets
// (chosen by the first byte of sha256(key)) to a bucket object holding the
// sorted entries whose keys fall in it. Changing k keys rewrites at most k
// buckets and the root, so a commit costs O(changed tables), not O(tables),
// and two trees are compared bucket by bucket.
const bucketCount = 256

type rootObject struct {
	Buckets map[string]string `json:"buckets"` // bucket index (2 hex digits) -> object hash
}

type bucketEntry struct {
	Key   string      `json:"key"`
	Entry *tarn.Entry `json:"entry"`
}

type bucketObject struct {
	Entries []bucketEntry `json:"entries"`
}

func bucketOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:1])
}

func hashBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func encodeObject(v any) (string, []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode tree object: %v", err)) // only plain structs are encoded
	}
	return hashBytes(b), b
}

func (c *Catalog) loadRoot(ctx context.Context, hash string) (*rootObject, error) {
	if empty, _ := emptyTree(); hash == empty {
		return &rootObject{Buckets: map[string]string{}}, nil
	}
	var root rootObject
	if err := c.loadObject(ctx, hash, &root); err != nil {
		return nil, err
	}
	if root.Buckets == nil {
		root.Buckets = map[string]string{}
	}
	return &root, nil
}

func (c *Catalog) loadBucket(ctx context.Context, hash string) (*bucketObject, error) {
	var b bucketObject
	if hash == "" {
		return &b, nil
	}
	if err := c.loadObject(ctx, hash, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

func (c *Catalog) loadObject(ctx context.Context, hash string, v any) error {
	if cached, ok := c.objects.Get(hash); ok {
		return json.Unmarshal(cached, v)
	}
	data, err := c.store.GetObject(ctx, hash)
	if err != nil {
		return fmt.Errorf("read tree object %s: %w", tarn.ShortHash(hash), err)
	}
	c.objects.Add(hash, data)
	return json.Unmarshal(data, v)
}

func (b *bucketObject) find(key string) int {
	return sort.Search(len(b.Entries), func(i int) bool { return b.Entries[i].Key >= key })
}

func (b *bucketObject) get(key string) *tarn.Entry {
	i := b.find(key)
	if i < len(b.Entries) && b.Entries[i].Key == key {
		return b.Entries[i].Entry
	}
	return nil
}

func (b *bucketObject) set(key string, e *tarn.Entry) {
	i := b.find(key)
	found := i < len(b.Entries) && b.Entries[i].Key == key
	switch {
	case e == nil && found:
		b.Entries = append(b.Entries[:i], b.Entries[i+1:]...)
	case e == nil:
	case found:
		b.Entries[i].Entry = e
	default:
		b.Entries = append(b.Entries, bucketEntry{})
		copy(b.Entries[i+1:], b.Entries[i:])
		b.Entries[i] = bucketEntry{Key: key, Entry: e}
	}
}

// getEntry returns the entry for key in the tree, or nil.
func (c *Catalog) getEntry(ctx context.Context, tree, key string) (*tarn.Entry, error) {
	root, err := c.loadRoot(ctx, tree)
	if err != nil {
		return nil, err
	}
	b, err := c.loadBucket(ctx, root.Buckets[bucketOf(key)])
	if err != nil {
		return nil, err
	}
	return b.get(key), nil
}

// applyChanges returns the hash of tree with changes applied (nil entry =
// delete) and the new objects to store.
func (c *Catalog) applyChanges(ctx context.Context, tree string, changes map[string]*tarn.Entry) (string, map[string][]byte, error) {
	root, err := c.loadRoot(ctx, tree)
	if err != nil {
		return "", nil, err
	}
	byBucket := map[string][]string{}
	for key := range changes {
		idx := bucketOf(key)
		byBucket[idx] = append(byBucket[idx], key)
	}
	objects := map[string][]byte{}
	for idx, keys := range byBucket {
		b, err := c.loadBucket(ctx, root.Buckets[idx])
		if err != nil {
			return "", nil, err
		}
		cp := &bucketObject{Entries: append([]bucketEntry(nil), b.Entries...)}
		for _, k := range keys {
			cp.set(k, changes[k])
		}
		if len(cp.Entries) == 0 {
			delete(root.Buckets, idx)
			continue
		}
		h, data := encodeObject(cp)
		objects[h] = data
		root.Buckets[idx] = h
	}
	h, data := encodeObject(root)
	objects[h] = data
	return h, objects, nil
}

// emptyTree returns the hash and bytes of a tree with no entries.
func emptyTree() (string, []byte) {
	return encodeObject(&rootObject{Buckets: map[string]string{}})
}

// listEntries returns all entries of a tree sorted by key.
func (c *Catalog) listEntries(ctx context.Context, tree string) ([]bucketEntry, error) {
	root, err := c.loadRoot(ctx, tree)
	if err != nil {
		return nil, err
	}
	var all []bucketEntry
	for _, h := range root.Buckets {
		b, err := c.loadBucket(ctx, h)
		if err != nil {
			return nil, err
		}
		all = append(all, b.Entries...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	return all, nil
}

// diffTrees returns the changes from tree a to tree b, sorted by key. Only
// buckets whose hashes differ are read.
func (c *Catalog) diffTrees(ctx context.Context, a, b string) ([]tarn.Change, error) {
	if a == b {
		return nil, nil
	}
	ra, err := c.loadRoot(ctx, a)
	if err != nil {
		return nil, err
	}
	rb, err := c.loadRoot(ctx, b)
	if err != nil {
		return nil, err
	}
	var changes []tarn.Change
	for i := 0; i < bucketCount; i++ {
		idx := hex.EncodeToString([]byte{byte(i)})
		ha, hb := ra.Buckets[idx], rb.Buckets[idx]
		if ha == hb {
			continue
		}
		ba, err := c.loadBucket(ctx, ha)
		if err != nil {
			return nil, err
		}
		bb, err := c.loadBucket(ctx, hb)
		if err != nil {
			return nil, err
		}
		keys := map[string]bool{}
		for _, e := range ba.Entries {
			keys[e.Key] = true
		}
		for _, e := range bb.Entries {
			keys[e.Key] = true
		}
		for k := range keys {
			oldE, newE := ba.get(k), bb.get(k)
			switch {
			case oldE == nil && newE != nil:
				changes = append(changes, tarn.Change{Key: k, Kind: tarn.ChangeAdded, New: newE})
			case oldE != nil && newE == nil:
				changes = append(changes, tarn.Change{Key: k, Kind: tarn.ChangeRemoved, Old: oldE})
			case !tarn.SameState(oldE, newE):
				changes = append(changes, tarn.Change{Key: k, Kind: tarn.ChangeChanged, Old: oldE, New: newE})
			}
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Key < changes[j].Key })
	return changes, nil
}
