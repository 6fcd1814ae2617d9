package table

import (
	"fmt"

	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
)

// schemaChanges compares a side's schema with the base's, by field id: the
// columns it added, those it widened (int→long, float→double) and, when it
// did anything else (dropped, renamed or retyped a column), what.
func schemaChanges(base, side *iceberg.Schema) (added, promoted []iceberg.NestedField, problem string) {
	for _, bf := range base.Fields() {
		sf, ok := side.FindFieldByID(bf.ID)
		switch {
		case !ok:
			return nil, nil, fmt.Sprintf("dropped column %s", bf.Name)
		case sf.Name != bf.Name:
			return nil, nil, fmt.Sprintf("renamed column %s to %s", bf.Name, sf.Name)
		case sf.Type.Equals(bf.Type):
		case widens(bf.Type, sf.Type):
			promoted = append(promoted, sf)
		default:
			return nil, nil, fmt.Sprintf("changed column %s from %s to %s", bf.Name, bf.Type, sf.Type)
		}
	}
	for _, sf := range side.Fields() {
		if _, ok := base.FindFieldByID(sf.ID); !ok {
			added = append(added, sf)
		}
	}
	return added, promoted, ""
}

// unionForMerge returns the schema to union the target's with so that it
// holds the source's additions and widenings (nil: nothing to change), or
// a conflict naming the column that clashes with the target's.
func unionForMerge(target *iceberg.Schema, source *sideChange, req catalog.ResolveRequest) (*iceberg.Schema, error) {
	var fields []iceberg.NestedField
	for _, f := range source.added {
		have, ok := target.FindFieldByName(f.Name)
		if !ok {
			for _, tf := range target.Fields() {
				if tarn.ColumnKey(tf.Name) == tarn.ColumnKey(f.Name) {
					return nil, tarn.Errorf(tarn.ECONFLICT, "column %q of %s and column %q of %s differ only in case", f.Name, req.SourceName, tf.Name, req.TargetName)
				}
			}
			f.Required = false
			fields = append(fields, f)
			continue
		}
		switch {
		case have.Type.Equals(f.Type), widens(f.Type, have.Type):
		case widens(have.Type, f.Type):
			f.Required = false
			fields = append(fields, f)
		default:
			return nil, tarn.Errorf(tarn.ECONFLICT, "column %q is %s on %s and %s on %s", f.Name, f.Type, req.SourceName, have.Type, req.TargetName)
		}
		if have.ID != f.ID {
			return nil, idConflict(f, target, req)
		}
	}
	for _, f := range source.promoted {
		if have, ok := target.FindFieldByID(f.ID); ok && widens(have.Type, f.Type) {
			f.Required = have.Required
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return nil, nil
	}
	return iceberg.NewSchema(0, fields...), nil
}

// sameFieldIDs checks that the schema staged in tx gives every column of
// the source's schema the field id the source's data files were written
// with: files are read by field id.
func sameFieldIDs(tx *icetable.Transaction, source *iceberg.Schema, req catalog.ResolveRequest) error {
	staged, err := tx.StagedTable()
	if err != nil {
		return err
	}
	for _, f := range source.Fields() {
		have, ok := staged.Schema().FindFieldByName(f.Name)
		if !ok || have.ID != f.ID || !sameNestedIDs(have.Type, f.Type) {
			return idConflict(f, staged.Schema(), req)
		}
	}
	return nil
}

// sameNestedIDs reports whether two types give their nested fields the same
// ids (primitive types have none).
func sameNestedIDs(a, b iceberg.Type) bool {
	na, oka := a.(iceberg.NestedType)
	nb, okb := b.(iceberg.NestedType)
	if !oka || !okb {
		return oka == okb
	}
	fa, fb := na.Fields(), nb.Fields()
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if fa[i].ID != fb[i].ID || !sameNestedIDs(fa[i].Type, fb[i].Type) {
			return false
		}
	}
	return true
}

// idConflict is the conflict of a column the source's files know under a
// field id that the target (or the combined schema) gives to another
// column: both sides added different columns.
func idConflict(f iceberg.NestedField, target *iceberg.Schema, req catalog.ResolveRequest) error {
	other := "another column"
	if name, ok := target.FindColumnName(f.ID); ok && name != f.Name {
		other = fmt.Sprintf("column %q", name)
	}
	return tarn.Errorf(tarn.ECONFLICT, "column %q added on %s has field id %d, which %s gave to %s: both sides added columns, and files written under clashing field ids cannot be combined (import one side's new rows again on top of the other)",
		f.Name, req.SourceName, f.ID, req.TargetName, other)
}
