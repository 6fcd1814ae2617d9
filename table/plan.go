package table

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/tarnhq/tarn"
	"gopkg.in/yaml.v3"
)

// Plan is an editable description of a table to create: `tarn table create
// --plan` prints it, `--apply FILE` creates the table from it.
type Plan struct {
	Table       string       `yaml:"table"`
	From        []string     `yaml:"from"`
	PartitionBy string       `yaml:"partition_by,omitempty"`
	Columns     []PlanColumn `yaml:"columns"`
}

// PlanColumn is one column of a plan; Type is an Iceberg type name.
type PlanColumn struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`
	Required bool   `yaml:"required,omitempty"`
}

// NewPlan builds a plan from an inferred Arrow schema.
func NewPlan(ident tarn.TableIdent, from []string, partitionBy string, schema *arrow.Schema) (*Plan, error) {
	p := &Plan{Table: ident.String(), From: from, PartitionBy: partitionBy}
	for _, f := range schema.Fields() {
		name, err := TypeName(f.Type)
		if err != nil {
			return nil, tarn.Errorf(tarn.EINVALID, "column %q: %v", f.Name, err)
		}
		p.Columns = append(p.Columns, PlanColumn{Name: f.Name, Type: name, Required: !f.Nullable})
	}
	return p, nil
}

// Marshal renders the plan as commented YAML.
func (p *Plan) Marshal() ([]byte, error) {
	body, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	head := "# tarn table plan: edit column types, names of partition fields or sources,\n" +
		"# then create the table with: tarn table create " + p.Table + " --apply THIS_FILE\n" +
		"# types: boolean int long float double date timestamp timestamptz string binary decimal(P,S)\n"
	return append([]byte(head), body...), nil
}

// ParsePlan reads a plan, reporting the line of a YAML error.
func ParsePlan(name string, data []byte) (*Plan, error) {
	var p Plan
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "plan %s: %v", name, err)
	}
	if p.Table == "" {
		return nil, tarn.Errorf(tarn.EINVALID, "plan %s: missing `table:`", name)
	}
	if len(p.Columns) == 0 {
		return nil, tarn.Errorf(tarn.EINVALID, "plan %s: no columns", name)
	}
	return &p, nil
}

// Schema returns the Arrow schema the plan declares.
func (p *Plan) Schema() (*arrow.Schema, error) {
	if err := tarn.ValidColumnCount(len(p.Columns)); err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "plan: %w", err)
	}
	fields := make([]arrow.Field, 0, len(p.Columns))
	var names tarn.ColumnNames
	for i, c := range p.Columns {
		if err := names.Add(c.Name); err != nil {
			return nil, tarn.Errorf(tarn.EINVALID, "plan column %d: %w", i+1, err)
		}
		if strings.TrimSpace(c.Type) == "" {
			return nil, tarn.Errorf(tarn.EINVALID, "plan column %q has no type: give one of %s", c.Name, planTypes)
		}
		t, err := ParseTypeName(c.Type)
		if err != nil {
			return nil, tarn.Errorf(tarn.EINVALID, "plan column %q: %v", c.Name, err)
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: t, Nullable: !c.Required})
	}
	return arrow.NewSchema(fields, nil), nil
}

// TypeName returns the Iceberg name of an Arrow type.
func TypeName(t arrow.DataType) (string, error) {
	switch t := t.(type) {
	case *arrow.BooleanType:
		return "boolean", nil
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Uint8Type, *arrow.Uint16Type:
		return "int", nil
	case *arrow.Int64Type, *arrow.Uint32Type:
		return "long", nil
	case *arrow.Float16Type, *arrow.Float32Type:
		return "float", nil
	case *arrow.Float64Type:
		return "double", nil
	case *arrow.Date32Type, *arrow.Date64Type:
		return "date", nil
	case *arrow.TimestampType:
		if t.TimeZone != "" {
			return "timestamptz", nil
		}
		return "timestamp", nil
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		return "string", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType:
		return "binary", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), nil
	}
	return "", fmt.Errorf("type %s is not supported in plans", t)
}

// planTypes lists the type names of plans, for messages.
const planTypes = "boolean, int, long, float, double, date, timestamp, timestamptz, string, binary, decimal(P,S)"

var decimalRe = regexp.MustCompile(`^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$`)

// ParseTypeName returns the Arrow type of an Iceberg type name.
func ParseTypeName(name string) (arrow.DataType, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "boolean", "bool":
		return arrow.FixedWidthTypes.Boolean, nil
	case "int", "integer":
		return arrow.PrimitiveTypes.Int32, nil
	case "long", "bigint":
		return arrow.PrimitiveTypes.Int64, nil
	case "float":
		return arrow.PrimitiveTypes.Float32, nil
	case "double":
		return arrow.PrimitiveTypes.Float64, nil
	case "date":
		return arrow.FixedWidthTypes.Date32, nil
	case "timestamp":
		return &arrow.TimestampType{Unit: arrow.Microsecond}, nil
	case "timestamptz":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, nil
	case "string":
		return arrow.BinaryTypes.String, nil
	case "binary":
		return arrow.BinaryTypes.Binary, nil
	}
	if m := decimalRe.FindStringSubmatch(strings.ToLower(strings.TrimSpace(name))); m != nil {
		p, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2])
		if p < 1 || p > 38 || s > p {
			return nil, fmt.Errorf("decimal(%d,%d): precision must be 1..38 and scale at most the precision", p, s)
		}
		return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s)}, nil
	}
	return nil, fmt.Errorf("unknown type %s (use %s)", tarn.Quote(name), planTypes)
}
