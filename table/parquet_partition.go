package table

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"
)

// writerPartition describes a partition spec for a ParquetWriter; why
// says which field it does not write. The writer groups rows by each
// field and reports each file's source values, from which the file's
// partition values are computed here with iceberg-go's transforms
// (withPartition): identity, year/month/day/hour and truncate of integer,
// date and timestamp columns, identity of strings, and bucket of all of
// them. Other types and transforms are written through iceberg-go.
func writerPartition(spec iceberg.PartitionSpec, sc *iceberg.Schema) (_ []PartitionField, why string) {
	var out []PartitionField
	for _, f := range spec.Fields() {
		src, found := sc.FindFieldByID(f.SourceID())
		if !found {
			return nil, fmt.Sprintf("partition field %s has no source column", f.Name)
		}
		if top, _ := sc.FindColumnName(f.SourceID()); top != src.Name {
			return nil, fmt.Sprintf("partition field %s is of a nested column", f.Name)
		}
		unsupported := fmt.Sprintf("partition field %s (%s of a %s column) is not one the pyarrow writer writes", f.Name, f.Transform, src.Type)
		numeric := false
		switch src.Type.(type) {
		case iceberg.Int32Type, iceberg.Int64Type, iceberg.DateType, iceberg.TimestampType, iceberg.TimestampTzType:
			numeric = true
		case iceberg.StringType:
		default:
			return nil, unsupported
		}
		pf := PartitionField{Column: src.Name, exact: numeric}
		switch t := f.Transform.(type) {
		case iceberg.IdentityTransform:
			pf.Transform = "identity"
		case iceberg.BucketTransform:
			pf.Transform, pf.Buckets, pf.exact = "bucket", t.NumBuckets, false
		case iceberg.YearTransform, iceberg.MonthTransform, iceberg.DayTransform, iceberg.HourTransform:
			if !numeric {
				return nil, unsupported
			}
			pf.Transform = t.String()
		case iceberg.TruncateTransform:
			switch src.Type.(type) {
			case iceberg.Int32Type, iceberg.Int64Type:
			default:
				return nil, unsupported
			}
			pf.Transform, pf.Width = "truncate", t.Width
		default:
			return nil, unsupported
		}
		out = append(out, pf)
	}
	return out, ""
}

// allExact reports whether every field's partition value can be read
// from a file's statistics (see PartitionField.exact).
func allExact(fields []PartitionField) bool {
	for _, f := range fields {
		if !f.exact {
			return false
		}
	}
	return true
}

// withPartition returns df (read with no partition spec) as a data file
// of spec whose partition values are those of the source values the
// writer reported, one per field of spec.
func withPartition(df iceberg.DataFile, spec iceberg.PartitionSpec, sc *iceberg.Schema, source []json.RawMessage) (iceberg.DataFile, error) {
	if len(source) != spec.NumFields() {
		return nil, fmt.Errorf("the writer gave %d partition source values for %d fields", len(source), spec.NumFields())
	}
	values := map[int]any{}
	logical := map[int]string{}
	i := 0
	for _, f := range spec.Fields() {
		src, _ := sc.FindFieldByID(f.SourceID())
		lit, err := sourceLiteral(source[i], src.Type)
		i++
		if err != nil {
			return nil, fmt.Errorf("partition field %s: %w", f.Name, err)
		}
		values[f.FieldID] = nil // a null partition value is present, as nil
		if lit != nil {
			if v := f.Transform.Apply(iceberg.Optional[iceberg.Literal]{Val: lit, Valid: true}); v.Valid {
				values[f.FieldID] = v.Val.Any()
			}
		}
		// As iceberg-go's own writer marks them (twmb/avro's logical types).
		switch f.Transform.ResultType(src.Type).(type) {
		case iceberg.DateType:
			logical[f.FieldID] = "date"
		case iceberg.TimestampType, iceberg.TimestampTzType:
			logical[f.FieldID] = "timestamp-micros"
		}
	}
	b, err := iceberg.NewDataFileBuilder(spec, df.ContentType(), df.FilePath(), df.FileFormat(), values, logical, nil, df.Count(), df.FileSizeBytes())
	if err != nil {
		return nil, err
	}
	b.ColumnSizes(df.ColumnSizes()).ValueCounts(df.ValueCounts()).NullValueCounts(df.NullValueCounts()).
		NaNValueCounts(df.NaNValueCounts()).LowerBoundValues(df.LowerBoundValues()).UpperBoundValues(df.UpperBoundValues()).
		SplitOffsets(df.SplitOffsets())
	if id := df.SortOrderID(); id != nil {
		b.SortOrderID(*id)
	}
	return b.Build(), nil
}

// sourceLiteral reads a source value the writer reported as a literal of
// the column's type; nil for null.
func sourceLiteral(raw json.RawMessage, t iceberg.Type) (iceberg.Literal, error) {
	if string(raw) == "null" || len(raw) == 0 {
		return nil, nil
	}
	if _, ok := t.(iceberg.StringType); ok {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("value %s of a string column: %w", raw, err)
		}
		return iceberg.StringLiteral(v), nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("value %s of a %s column: %w", raw, t, err)
	}
	switch t.(type) {
	case iceberg.Int32Type:
		return iceberg.Int32Literal(int32(n)), nil
	case iceberg.Int64Type:
		return iceberg.Int64Literal(n), nil
	case iceberg.DateType:
		return iceberg.DateLiteral(iceberg.Date(int32(n))), nil
	case iceberg.TimestampType, iceberg.TimestampTzType:
		return iceberg.TimestampLiteral(iceberg.Timestamp(n)), nil
	}
	return nil, fmt.Errorf("no partition source value of a %s column", t)
}

// replaced returns the table's current data files that a write replaces:
// all of them for AlwaysTrue, else those an OVERWRITE_PARTITIONS filter
// of identity partitions selects (overwriteFilter: sets holds, by source
// column id, the values the output has), each of which must lie wholly
// in it (why says when one does not: iceberg-go's writer then rewrites
// it).
func replaced(ctx context.Context, tbl *icetable.Table, filter iceberg.BooleanExpression, sets map[int]map[any]bool) (_ []iceberg.DataFile, why string, _ error) {
	tasks, err := tbl.Scan(icetable.WithRowFilter(filter)).PlanFiles(ctx)
	if err != nil {
		return nil, "", err
	}
	spec := tbl.Spec()
	var files []iceberg.DataFile
	for _, t := range tasks {
		if sets != nil {
			if t.File.SpecID() != int32(spec.ID()) {
				return nil, fmt.Sprintf("data file %s has an older partition spec", t.File.FilePath()), nil
			}
			part := t.File.Partition()
			for _, f := range spec.Fields() {
				if set := sets[f.SourceID()]; set == nil || !set[part[f.FieldID]] {
					return nil, fmt.Sprintf("data file %s holds rows of other partitions", t.File.FilePath()), nil
				}
			}
		}
		files = append(files, t.File)
	}
	return files, "", nil
}
