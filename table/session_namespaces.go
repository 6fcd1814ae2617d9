package table

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
)

// ListNamespaces implements catalog.Catalog.
func (ss *Session) ListNamespaces(ctx context.Context, parent icetable.Identifier) ([]icetable.Identifier, error) {
	if len(parent) > 0 {
		if _, _, err := ss.namespaceEntry(ctx, parent); err != nil {
			return nil, err
		}
		return nil, nil // one level only
	}
	all, err := ss.entries(ctx)
	if err != nil {
		return nil, err
	}
	var out []icetable.Identifier
	for _, k := range sortedKeys(all) {
		if all[k].Kind == tarn.EntryNamespace {
			out = append(out, icetable.Identifier{k})
		}
	}
	return out, nil
}

// CreateNamespace implements catalog.Catalog; the properties are stored
// in the namespace's entry.
func (ss *Session) CreateNamespace(ctx context.Context, namespace icetable.Identifier, props iceberg.Properties) error {
	if err := ss.writable(); err != nil {
		return err
	}
	ns, err := nsOf(namespace)
	if err != nil {
		return err
	}
	if e, err := ss.entry(ctx, tarn.NamespaceKey(ns)); err != nil {
		return err
	} else if e != nil {
		return fmt.Errorf("%w: %s", icecat.ErrNamespaceAlreadyExists, ns)
	}
	if err := ss.checkTwin(ctx, tarn.ResourceNamespace, tarn.NamespaceKey(ns)); err != nil {
		return err
	}
	e := &tarn.Entry{Kind: tarn.EntryNamespace}
	if len(props) > 0 {
		e.Properties = maps.Clone(props)
	}
	return ss.stage(ctx, tarn.NamespaceKey(ns), e)
}

// DropNamespace implements catalog.Catalog; the namespace must be empty,
// and the default namespace stays (EINVALID).
func (ss *Session) DropNamespace(ctx context.Context, namespace icetable.Identifier) error {
	if err := ss.writable(); err != nil {
		return err
	}
	ns, err := nsOf(namespace)
	if err != nil {
		return err
	}
	if ns == tarn.DefaultNamespace {
		return tarn.Errorf(tarn.EINVALID, "namespace %q is the default namespace and cannot be dropped", ns)
	}
	all, err := ss.entries(ctx)
	if err != nil {
		return err
	}
	if all[tarn.NamespaceKey(ns)] == nil {
		return fmt.Errorf("%w: %s", icecat.ErrNoSuchNamespace, ns)
	}
	for k := range all {
		if n, name := tarn.ParseKey(k); n == ns && name != "" {
			return fmt.Errorf("%w: %s", icecat.ErrNamespaceNotEmpty, ns)
		}
	}
	return ss.stage(ctx, tarn.NamespaceKey(ns), nil)
}

// CheckNamespaceExists implements catalog.Catalog.
func (ss *Session) CheckNamespaceExists(ctx context.Context, namespace icetable.Identifier) (bool, error) {
	ns, err := nsOf(namespace)
	if err != nil {
		return false, nil
	}
	e, err := ss.entry(ctx, tarn.NamespaceKey(ns))
	return e != nil, err
}

// namespaceEntry returns a namespace's name and entry, or
// ErrNoSuchNamespace.
func (ss *Session) namespaceEntry(ctx context.Context, namespace icetable.Identifier) (string, *tarn.Entry, error) {
	ns, err := nsOf(namespace)
	if err != nil {
		return "", nil, err
	}
	e, err := ss.entry(ctx, tarn.NamespaceKey(ns))
	if err != nil {
		return "", nil, err
	}
	if e == nil || e.Kind != tarn.EntryNamespace {
		return "", nil, fmt.Errorf("%w: %s", icecat.ErrNoSuchNamespace, ns)
	}
	return ns, e, nil
}

// LoadNamespaceProperties implements catalog.Catalog.
func (ss *Session) LoadNamespaceProperties(ctx context.Context, namespace icetable.Identifier) (iceberg.Properties, error) {
	_, e, err := ss.namespaceEntry(ctx, namespace)
	if err != nil {
		return nil, err
	}
	props := iceberg.Properties{}
	maps.Copy(props, e.Properties)
	return props, nil
}

// UpdateNamespaceProperties implements catalog.Catalog: removals and
// updates may not name the same key (EINVALID); removing a key the
// namespace does not have reports it as missing.
func (ss *Session) UpdateNamespaceProperties(ctx context.Context, namespace icetable.Identifier, removals []string, updates iceberg.Properties) (icecat.PropertiesUpdateSummary, error) {
	var summary icecat.PropertiesUpdateSummary
	if err := ss.writable(); err != nil {
		return summary, err
	}
	ns, e, err := ss.namespaceEntry(ctx, namespace)
	if err != nil {
		return summary, err
	}
	for _, k := range removals {
		if _, ok := updates[k]; ok {
			return summary, tarn.Errorf(tarn.EINVALID, "property %s is both removed and updated: name it in one of the two", tarn.Quote(k))
		}
	}
	props := maps.Clone(e.Properties)
	if props == nil {
		props = map[string]string{}
	}
	summary.Removed, summary.Updated, summary.Missing = []string{}, []string{}, []string{}
	for _, k := range removals {
		if _, ok := props[k]; ok {
			delete(props, k)
			summary.Removed = append(summary.Removed, k)
		} else {
			summary.Missing = append(summary.Missing, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(updates)) {
		props[k] = updates[k]
		summary.Updated = append(summary.Updated, k)
	}
	next := *e
	next.Properties = props
	if len(props) == 0 {
		next.Properties = nil
	}
	return summary, ss.stage(ctx, tarn.NamespaceKey(ns), &next)
}
