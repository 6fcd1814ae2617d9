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

// A tree is the state of every namespace and table in a commit: a
// content-addressed trie of fixed depth. A key's path is the first
// treeDepth hex digits of sha256(key); inner nodes map one digit to a child
// hash (at most 16 children), and the leaf bucket at the end of the path
// holds the sorted entries whose keys share it (4096 buckets).
//
// Changing k keys rewrites at most k leaves and the inner nodes above them,
// each at most 16 entries wide, so a commit costs O(changed tables) and not
// O(tables); comparing two trees descends only into children whose hashes
// differ.
const treeDepth = 3

type nodeObject struct {
	Children map[string]string `json:"children"` // hex digit -> child hash
}

type bucketEntry struct {
	Key   string      `json:"key"`
	Entry *tarn.Entry `json:"entry"`
}

type bucketObject struct {
	Entries []bucketEntry `json:"entries"`
}

func pathOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:2])[:treeDepth]
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

// emptyTree returns the hash and bytes of a tree with no entries.
func emptyTree() (string, []byte) {
	return encodeObject(&nodeObject{Children: map[string]string{}})
}

func (c *Catalog) loadNode(ctx context.Context, hash string) (*nodeObject, error) {
	if empty, _ := emptyTree(); hash == "" || hash == empty {
		return &nodeObject{Children: map[string]string{}}, nil
	}
	if v, ok := c.decoded.Get(hash); ok {
		return v.(*nodeObject), nil
	}
	var n nodeObject
	if err := c.loadObject(ctx, hash, &n); err != nil {
		return nil, err
	}
	if n.Children == nil {
		n.Children = map[string]string{}
	}
	c.decoded.Add(hash, &n)
	return &n, nil
}

func (c *Catalog) loadBucket(ctx context.Context, hash string) (*bucketObject, error) {
	if hash == "" {
		return &bucketObject{}, nil
	}
	if v, ok := c.decoded.Get(hash); ok {
		return v.(*bucketObject), nil
	}
	var b bucketObject
	if err := c.loadObject(ctx, hash, &b); err != nil {
		return nil, err
	}
	c.decoded.Add(hash, &b)
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
	path := pathOf(key)
	hash := tree
	for depth := 0; depth < treeDepth; depth++ {
		n, err := c.loadNode(ctx, hash)
		if err != nil {
			return nil, err
		}
		if hash = n.Children[path[depth:depth+1]]; hash == "" {
			return nil, nil
		}
	}
	b, err := c.loadBucket(ctx, hash)
	if err != nil {
		return nil, err
	}
	return b.get(key), nil
}

// applyChanges returns the hash of tree with changes applied (nil entry =
// delete) and the new objects to store. Decoded objects are shared through
// the cache and never modified: changed nodes and buckets are copies.
func (c *Catalog) applyChanges(ctx context.Context, tree string, changes map[string]*tarn.Entry) (string, map[string][]byte, error) {
	byPath := map[string][]string{}
	for key := range changes {
		byPath[pathOf(key)] = append(byPath[pathOf(key)], key)
	}
	objects := map[string][]byte{}
	h, err := c.rewrite(ctx, tree, "", byPath, changes, objects)
	if err != nil {
		return "", nil, err
	}
	if h == "" {
		h, _ = emptyTree()
	}
	return h, objects, nil
}

// rewrite rewrites the subtree at hash (whose path so far is prefix) for
// the changes under it, returning the new hash ("" for an empty subtree).
func (c *Catalog) rewrite(ctx context.Context, hash, prefix string, byPath map[string][]string, changes map[string]*tarn.Entry, objects map[string][]byte) (string, error) {
	if len(prefix) == treeDepth {
		b, err := c.loadBucket(ctx, hash)
		if err != nil {
			return "", err
		}
		cp := &bucketObject{Entries: append([]bucketEntry(nil), b.Entries...)}
		for _, k := range byPath[prefix] {
			cp.set(k, changes[k])
		}
		if len(cp.Entries) == 0 {
			return "", nil
		}
		h, data := encodeObject(cp)
		objects[h] = data
		c.decoded.Add(h, cp)
		return h, nil
	}
	n, err := c.loadNode(ctx, hash)
	if err != nil {
		return "", err
	}
	cp := &nodeObject{Children: make(map[string]string, len(n.Children)+1)}
	for k, v := range n.Children {
		cp.Children[k] = v
	}
	digits := map[string]bool{}
	for p := range byPath {
		if len(p) > len(prefix) && p[:len(prefix)] == prefix {
			digits[p[len(prefix):len(prefix)+1]] = true
		}
	}
	for d := range digits {
		child, err := c.rewrite(ctx, cp.Children[d], prefix+d, byPath, changes, objects)
		if err != nil {
			return "", err
		}
		if child == "" {
			delete(cp.Children, d)
		} else {
			cp.Children[d] = child
		}
	}
	if len(cp.Children) == 0 && prefix != "" {
		return "", nil
	}
	h, data := encodeObject(cp)
	objects[h] = data
	c.decoded.Add(h, cp)
	return h, nil
}

// listEntries returns all entries of a tree sorted by key.
func (c *Catalog) listEntries(ctx context.Context, tree string) ([]bucketEntry, error) {
	var all []bucketEntry
	var walk func(hash string, depth int) error
	walk = func(hash string, depth int) error {
		if depth == treeDepth {
			b, err := c.loadBucket(ctx, hash)
			if err != nil {
				return err
			}
			all = append(all, b.Entries...)
			return nil
		}
		n, err := c.loadNode(ctx, hash)
		if err != nil {
			return err
		}
		for _, child := range n.Children {
			if err := walk(child, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(tree, 0); err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	return all, nil
}

// diffTrees returns the changes from tree a to tree b, sorted by key. Only
// subtrees whose hashes differ are read.
func (c *Catalog) diffTrees(ctx context.Context, a, b string) ([]tarn.Change, error) {
	var changes []tarn.Change
	var walk func(ha, hb string, depth int) error
	walk = func(ha, hb string, depth int) error {
		if ha == hb {
			return nil
		}
		if depth == treeDepth {
			ba, err := c.loadBucket(ctx, ha)
			if err != nil {
				return err
			}
			bb, err := c.loadBucket(ctx, hb)
			if err != nil {
				return err
			}
			changes = append(changes, diffBuckets(ba, bb)...)
			return nil
		}
		na, err := c.loadNode(ctx, ha)
		if err != nil {
			return err
		}
		nb, err := c.loadNode(ctx, hb)
		if err != nil {
			return err
		}
		digits := map[string]bool{}
		for d := range na.Children {
			digits[d] = true
		}
		for d := range nb.Children {
			digits[d] = true
		}
		for d := range digits {
			if err := walk(na.Children[d], nb.Children[d], depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	emptyHash, _ := emptyTree()
	norm := func(h string) string {
		if h == emptyHash {
			return ""
		}
		return h
	}
	if err := walk(norm(a), norm(b), 0); err != nil {
		return nil, err
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Key < changes[j].Key })
	return changes, nil
}

func diffBuckets(ba, bb *bucketObject) []tarn.Change {
	var changes []tarn.Change
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
	return changes
}
