package table

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
)

var partFieldRe = regexp.MustCompile(`^\s*([a-zA-Z]+)\s*\(\s*(?:(\d+)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$|^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$`)

// splitFields splits a partition spec at the commas outside parentheses
// (bucket(16, id) is one field).
func splitFields(expr string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range expr {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, expr[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, expr[start:])
}

// ParsePartitionSpec parses "day(ts), region, bucket(16, id), truncate(4, name)"
// against a schema. An empty string is the unpartitioned spec.
func ParsePartitionSpec(expr string, schema *iceberg.Schema) (iceberg.PartitionSpec, error) {
	if strings.TrimSpace(expr) == "" {
		return *iceberg.UnpartitionedSpec, nil
	}
	var opts []iceberg.PartitionOption
	var names []string
	for _, f := range schema.Fields() {
		names = append(names, f.Name)
	}
	for _, part := range splitFields(expr) {
		if strings.Contains(part, "(") && !strings.Contains(part, ")") {
			return iceberg.PartitionSpec{}, tarn.Errorf(tarn.EINVALID, "invalid --partition-by %q: write bucket(N, col) and truncate(W, col) with their column", expr)
		}
		m := partFieldRe.FindStringSubmatch(part)
		if m == nil {
			return iceberg.PartitionSpec{}, tarn.Errorf(tarn.EINVALID, "invalid partition field %q: use col, year(col), month(col), day(col), hour(col), bucket(N, col) or truncate(W, col)", strings.TrimSpace(part))
		}
		fn, n, col := strings.ToLower(m[1]), m[2], m[3]
		if m[4] != "" {
			fn, col = "identity", m[4]
		}
		name := col
		transformText := fn
		switch fn {
		case "identity":
		case "year", "month", "day", "hour", "void":
			name = col + "_" + fn
		case "bucket", "truncate":
			if n == "" {
				return iceberg.PartitionSpec{}, tarn.Errorf(tarn.EINVALID, "partition field %q: %s needs a width, like %s(16, %s)", strings.TrimSpace(part), fn, fn, col)
			}
			transformText = fn + "[" + n + "]"
			name = col + "_" + fn
		default:
			return iceberg.PartitionSpec{}, tarn.Errorf(tarn.EINVALID, "unknown partition transform %q in %q", fn, strings.TrimSpace(part))
		}
		field, ok := schema.FindFieldByName(col)
		if !ok {
			return iceberg.PartitionSpec{}, tarn.Errorf(tarn.EINVALID, "partition column %q is not in the schema%s", col, tarn.Suggest(col, names))
		}
		tr, err := iceberg.ParseTransform(transformText)
		if err != nil {
			return iceberg.PartitionSpec{}, tarn.Errorf(tarn.EINVALID, "partition field %q: %v", strings.TrimSpace(part), err)
		}
		if !tr.CanTransform(field.Type) {
			return iceberg.PartitionSpec{}, tarn.Errorf(tarn.EINVALID, "partition field %q: %s cannot be applied to column %s of type %s", strings.TrimSpace(part), fn, col, field.Type)
		}
		opts = append(opts, iceberg.AddPartitionFieldByName(col, name, tr, schema, nil))
	}
	spec, err := iceberg.NewPartitionSpecOpts(opts...)
	if err != nil {
		return iceberg.PartitionSpec{}, tarn.Errorf(tarn.EINVALID, "invalid partition spec %q: %v", expr, err)
	}
	return spec, nil
}

// ListTables lists the tables at a ref (optionally of one namespace) from the
// catalog alone, without reading table metadata.
func (s *Service) ListTables(ctx context.Context, ref, namespace string) ([]tarn.TableSummary, *tarn.Commit, error) {
	commit, err := s.cat.Resolve(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	entries, keys, err := s.cat.Entries(ctx, commit)
	if err != nil {
		return nil, nil, err
	}
	if namespace != "" && entries[tarn.NamespaceKey(namespace)] == nil {
		return nil, nil, s.namespaceNotFound(keys, entries, ref, namespace)
	}
	out := []tarn.TableSummary{}
	for _, k := range keys {
		e := entries[k]
		ns, name := tarn.ParseKey(k)
		if e.Kind != tarn.EntryTable || (namespace != "" && ns != namespace) {
			continue
		}
		out = append(out, tarn.TableSummary{Table: tarn.TableIdent{Namespace: ns, Name: name}, Snapshot: e.Snapshot,
			Rows: e.Rows, Files: e.Files, Bytes: e.Bytes, Metadata: e.Metadata})
	}
	return out, commit, nil
}

// partitionFields describes the fields of a partition spec over schema.
func partitionFields(spec iceberg.PartitionSpec, schema *iceberg.Schema) []tarn.PartitionField {
	out := []tarn.PartitionField{}
	for _, f := range spec.Fields() {
		src, _ := schema.FindColumnName(f.SourceID())
		out = append(out, tarn.PartitionField{Name: f.Name, Transform: f.Transform.String(), Source: src})
	}
	return out
}

// GetTable describes a table at a ref (ENOTFOUND): schema, partitioning, snapshots, files.
func (s *Service) GetTable(ctx context.Context, ident tarn.TableIdent, ref string) (*tarn.TableInfo, error) {
	if err := validIdent(ident); err != nil {
		return nil, err
	}
	tbl, commit, err := s.Load(ctx, ident, ref)
	if err != nil {
		return nil, err
	}
	meta := tbl.Metadata()
	info := &tarn.TableInfo{Table: ident, Ref: ref, Commit: commit.Hash, UUID: meta.TableUUID().String(), FormatVersion: meta.Version(),
		Location: meta.Location(), MetadataLocation: tbl.MetadataLocation(), Schema: []tarn.Column{}, Partition: []tarn.PartitionField{},
		DataFiles: []tarn.DataFile{}, History: []tarn.SnapshotInfo{}}
	schema := tbl.Schema()
	info.Schema = columnsOf(schema)
	for _, sc := range meta.Schemas() {
		info.Schemas = append(info.Schemas, tarn.SchemaVersion{ID: sc.ID, Columns: columnsOf(sc), Current: sc.ID == schema.ID})
	}
	sort.Slice(info.Schemas, func(i, j int) bool { return info.Schemas[i].ID < info.Schemas[j].ID })
	info.Partition = partitionFields(tbl.Spec(), schema)
	cur := meta.CurrentSnapshot()
	var horizon time.Time
	if h := s.historyHorizon(ctx); h != nil {
		horizon = *h
	}
	for _, snap := range meta.Snapshots() {
		if snapshotExpired(horizon, snap.TimestampMs, (cur != nil && cur.SnapshotID == snap.SnapshotID) || hasRef(meta, snap.SnapshotID)) {
			continue // gc expired it (gc.keep_history): its files may be gone
		}
		si := tarn.SnapshotInfo{ID: snap.SnapshotID, Time: time.UnixMilli(snap.TimestampMs).UTC(), Current: cur != nil && cur.SnapshotID == snap.SnapshotID}
		if snap.ParentSnapshotID != nil {
			si.ParentID = *snap.ParentSnapshotID
		}
		if snap.SchemaID != nil {
			id := *snap.SchemaID
			si.SchemaID = &id
		}
		if snap.Summary != nil {
			si.Operation = string(snap.Summary.Operation)
			si.Added = propInt(snap.Summary.Properties, "added-records")
			si.Rows = liveRows(snap.Summary.Properties)
		}
		info.History = append(info.History, si)
		if si.Current {
			cp := si
			info.Snapshot = &cp
			info.Rows = si.Rows
			info.Files = propInt(snap.Summary.Properties, "total-data-files")
			info.Bytes = propInt(snap.Summary.Properties, "total-files-size")
		}
	}
	sort.Slice(info.History, func(i, j int) bool { return info.History[i].Time.Before(info.History[j].Time) })
	if cur != nil {
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			return nil, fmt.Errorf("list data files of %s: %w", ident, err)
		}
		seen := map[string]bool{}
		for _, t := range tasks {
			if seen[t.File.FilePath()] {
				continue // iceberg-go splits large files into several tasks
			}
			seen[t.File.FilePath()] = true
			info.DataFiles = append(info.DataFiles, tarn.DataFile{Path: t.File.FilePath(), Rows: t.File.Count(), Bytes: t.File.FileSizeBytes()})
		}
	}
	return info, nil
}

// columnsOf lists a schema's top-level columns.
func columnsOf(schema *iceberg.Schema) []tarn.Column {
	out := []tarn.Column{}
	for _, f := range schema.Fields() {
		out = append(out, tarn.Column{ID: f.ID, Name: f.Name, Type: f.Type.String(), Required: f.Required})
	}
	return out
}

// Load returns the Iceberg table at a ref, read-only (its catalog refuses
// writes) and the commit it was read at.
func (s *Service) Load(ctx context.Context, ident tarn.TableIdent, ref string) (*icetable.Table, *tarn.Commit, error) {
	commit, err := s.cat.Resolve(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	e, err := s.cat.GetEntry(ctx, commit, ident.Key())
	if err != nil {
		return nil, nil, err
	}
	if e == nil || e.Kind != tarn.EntryTable {
		return nil, nil, s.TableNotFound(ctx, commit, ref, ident)
	}
	ro := &readOnly{ref: ref}
	tbl, err := s.loadTable(ctx, icetable.Identifier{ident.Namespace, ident.Name}, e.Metadata, ro)
	if err != nil {
		return nil, nil, err
	}
	return tbl, commit, nil
}

// readOnly is the catalog of tables loaded at a ref: writes are refused.
type readOnly struct{ ref string }

func (r *readOnly) LoadTable(context.Context, icetable.Identifier) (*icetable.Table, error) {
	return nil, tarn.Errorf(tarn.EINVALID, "table loaded read-only at %s", r.ref)
}

func (r *readOnly) CommitTable(context.Context, icetable.Identifier, []icetable.Requirement, []icetable.Update) (icetable.Metadata, string, error) {
	return nil, "", tarn.Errorf(tarn.EINVALID, "table loaded read-only at %s: write through a branch session", r.ref)
}

// FormatBytes renders a byte count for humans.
func FormatBytes(n int64) string { return tarn.FormatBytes(n) }

// Properties returns a table's Iceberg properties at a ref.
func (s *Service) Properties(ctx context.Context, ident tarn.TableIdent, ref string) (map[string]string, error) {
	tbl, _, err := s.Load(ctx, ident, ref)
	if err != nil {
		return nil, err
	}
	return tbl.Properties(), nil
}

// hasRef reports whether one of a table's own refs points at a snapshot.
func hasRef(meta icetable.Metadata, id int64) bool {
	for _, r := range meta.Refs() {
		if r.SnapshotID == id {
			return true
		}
	}
	return false
}
