package ingest

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/tarnhq/tarn"
)

// CheckSchema reports the first problem that would keep a schema's columns
// from being stored in a table and named in a query: a name
// tarn.ValidColumnName refuses, two names of one level (the top-level
// columns, or the fields of one struct) that SQL cannot tell apart, more
// than tarn.MaxColumns columns counting the fields inside nested columns,
// or a column of type null (no value gave it a type). The error is an
// *Error whose Column is the struct holding the problem ("" at the top
// level) or the column of type null.
func CheckSchema(schema *arrow.Schema) error {
	if err := checkFields("", schema.Fields(), false); err != nil {
		return err
	}
	return nil
}

// nullTypeMsg is the message for a column of type null.
const nullTypeMsg = "type null (every value is null and nothing gave the column a type), which a table cannot store: " +
	"give it a type, e.g. cast it in the model (pa.array(values, type=pa.string()), df[col].astype(\"string\")) or set its type in a plan"

// checkFields checks the columns of a file (file "" for a schema of no
// file). nullOK lets top-level columns be of type null: Infer turns those
// into strings.
func checkFields(file string, fields []arrow.Field, nullOK bool) *Error {
	n := 0
	if err := walkFields(file, "", fields, nullOK, &n); err != nil {
		return err
	}
	if err := tarn.ValidColumnCount(n); err != nil {
		return &Error{File: file, Msg: err.Error()}
	}
	return nil
}

// walkFields checks one level of fields named below parent ("" at the top)
// and everything inside them, adding to n the Iceberg field ids they take.
func walkFields(file, parent string, fields []arrow.Field, nullOK bool, n *int) *Error {
	if len(fields) > tarn.MaxColumns {
		return &Error{File: file, Column: parent, Msg: tarn.ValidColumnCount(len(fields)).Error()}
	}
	var names tarn.ColumnNames
	for _, f := range fields {
		if err := names.Add(f.Name); err != nil {
			return &Error{File: file, Column: parent, Msg: err.Error()}
		}
		path := f.Name
		if parent != "" {
			path = parent + "." + f.Name
		}
		*n++
		if err := walkType(file, path, f.Type, nullOK, n); err != nil {
			return err
		}
	}
	return nil
}

// walkType checks the type of the column at path. List elements, map keys
// and map values take one field id each; their Arrow names ("item",
// "key", ...) are not column names and are not checked.
func walkType(file, path string, dt arrow.DataType, nullOK bool, n *int) *Error {
	switch t := dt.(type) {
	case *arrow.NullType:
		if !nullOK {
			return &Error{File: file, Column: path, Msg: nullTypeMsg}
		}
	case *arrow.StructType:
		return walkFields(file, path, t.Fields(), false, n)
	case *arrow.MapType:
		*n += 2
		if err := walkType(file, path+".key", t.KeyType(), false, n); err != nil {
			return err
		}
		return walkType(file, path+".value", t.ItemType(), false, n)
	case arrow.ListLikeType:
		*n++
		return walkType(file, path+".element", t.Elem(), false, n)
	case *arrow.DictionaryType:
		return walkType(file, path, t.ValueType, nullOK, n)
	case arrow.ExtensionType:
		return walkType(file, path, t.StorageType(), nullOK, n)
	}
	return nil
}
