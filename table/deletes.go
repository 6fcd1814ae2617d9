package table

import (
	"context"
	"fmt"
	"iter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
)

// DeleteMode says how DeleteRows records the rows it deletes.
type DeleteMode string

// Delete modes: the row-level deletes other engines write.
const (
	// DeletePositions writes position delete files (deletion vectors on
	// a format-version 3 table), as Spark's DELETE, UPDATE and MERGE INTO
	// do in merge-on-read mode.
	DeletePositions DeleteMode = "positions"
	// DeleteEquality writes an equality delete file on the column, as
	// Flink's upserts do. The table must be unpartitioned or partitioned
	// by that column alone.
	DeleteEquality DeleteMode = "equality"
)

// DeleteRowsRequest selects rows to delete: those whose Column (a long
// column) holds one of Values.
type DeleteRowsRequest struct {
	Ident  tarn.TableIdent
	Branch string
	Mode   DeleteMode
	Column string
	Values []int64
	// FormatVersion, when above the table's, upgrades the table first:
	// on version 3 position deletes are deletion vectors.
	FormatVersion int
	Info          tarn.CommitInfo
}

// DeleteRows deletes rows from a table in one commit without rewriting
// its data files, writing row-level delete files instead (merge-on-read).
// tarn's own writes never do this; tests and benchmarks use it to make
// tables like those other engines leave, which every read of tarn must
// then apply.
func (s *Service) DeleteRows(ctx context.Context, req DeleteRowsRequest) (*tarn.Commit, error) {
	ss, err := s.OpenSession(ctx, req.Branch)
	if err != nil {
		return nil, err
	}
	id := icetable.Identifier{req.Ident.Namespace, req.Ident.Name}
	tbl, err := ss.LoadTable(ctx, id)
	if err != nil {
		return nil, translate(err, "delete from "+req.Ident.String())
	}
	field, ok := tbl.Schema().FindFieldByName(req.Column)
	if !ok || !field.Type.Equals(iceberg.PrimitiveTypes.Int64) {
		return nil, tarn.Errorf(tarn.EINVALID, "table %s has no long column %q", req.Ident, req.Column)
	}
	tx := tbl.NewTransaction()
	if req.FormatVersion > tbl.Metadata().Version() {
		if err := tx.UpgradeFormatVersion(req.FormatVersion); err != nil {
			return nil, tarn.Errorf(tarn.EINVALID, "upgrade %s: %v", req.Ident, err)
		}
	}
	switch req.Mode {
	case DeletePositions:
		if err := tx.SetProperties(iceberg.Properties{icetable.WriteDeleteModeKey: icetable.WriteModeMergeOnRead}); err != nil {
			return nil, err
		}
		err = tx.Delete(ctx, iceberg.IsIn(iceberg.Reference(field.Name), req.Values...), nil)
	case DeleteEquality:
		err = tx.CommitEqualityDeletes(ctx, []int{field.ID}, longRecords(field.Name, req.Values), nil)
	default:
		return nil, tarn.Errorf(tarn.EINVALID, "unknown delete mode %q", req.Mode)
	}
	if err != nil {
		return nil, fmt.Errorf("delete from %s: %w", req.Ident, err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		return nil, translate(err, "delete from "+req.Ident.String())
	}
	return ss.Flush(ctx, req.Info)
}

// longRecords is one record batch of a long column.
func longRecords(name string, values []int64) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		b := array.NewInt64Builder(memory.DefaultAllocator)
		defer b.Release()
		b.AppendValues(values, nil)
		col := b.NewArray()
		defer col.Release()
		schema := arrow.NewSchema([]arrow.Field{{Name: name, Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
		rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(len(values)))
		defer rec.Release()
		yield(rec, nil)
	}
}
