package table

import (
	"encoding/json"
	"fmt"

	"github.com/apache/iceberg-go"
	"github.com/tarnhq/tarn"
)

// maxSchemaJSON is the largest JSON form of a table schema iceberg-go can
// write: every manifest file carries the schema as JSON in its Avro
// header, and the Avro library (github.com/twmb/avro's ocf writer) refuses
// a header value over 1 MiB, after the data files are written.
const maxSchemaJSON = 1 << 20

// checkSchema refuses, before anything is written, a table schema that
// Iceberg would fail on halfway through a write: more than
// tarn.MaxColumns field ids (nested ones included), or a JSON form over
// maxSchemaJSON (only long column names reach it below the column
// limit). The error is EINVALID.
func checkSchema(ident tarn.TableIdent, schema *iceberg.Schema) error {
	ids, err := iceberg.IndexByID(schema)
	if err != nil {
		return tarn.Errorf(tarn.EINVALID, "table %s: invalid schema: %v", ident, err)
	}
	if err := tarn.ValidColumnCount(len(ids)); err != nil {
		return tarn.Errorf(tarn.EINVALID, "table %s: %w", ident, err)
	}
	data, err := json.Marshal(schema)
	if err != nil {
		return fmt.Errorf("table %s: encode schema: %w", ident, err)
	}
	if len(data) > maxSchemaJSON {
		return tarn.Errorf(tarn.EINVALID, "table %s: the schema takes %s as JSON, more than the %s an Iceberg manifest file can hold (%d columns with long names): shorten the column names or drop columns",
			ident, tarn.FormatBytes(int64(len(data))), tarn.FormatBytes(maxSchemaJSON), len(ids))
	}
	return nil
}

// checkNewColumns refuses incoming top-level columns that a query could
// not tell from a column of the table: a name that differs from one of
// the table's only in case (tarn.ColumnKey). It returns one problem per
// such column.
func checkNewColumns(current, incoming *iceberg.Schema) []string {
	byKey := map[string]string{}
	for _, f := range current.Fields() {
		byKey[tarn.ColumnKey(f.Name)] = f.Name
	}
	var problems []string
	for _, f := range incoming.Fields() {
		if have, ok := byKey[tarn.ColumnKey(f.Name)]; ok && have != f.Name {
			problems = append(problems, fmt.Sprintf("column %s differs only in case from the table's column %s, and SQL does not tell them apart: name it %s",
				tarn.Quote(f.Name), tarn.Quote(have), tarn.Quote(have)))
		}
	}
	return problems
}
