package pipeline

import (
	"fmt"
	"strings"
	"text/tabwriter"

	rt "github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/table"
)

// previewArrow renders the first rows rows of an Arrow file (the last
// -rows when rows is negative) as a table. Every cell and column name is
// masked (the run's secrets) before it is cut to 40 characters, so a cut
// never leaves a secret's first characters showing.
func previewArrow(path string, rows int, mask *rt.Masker) (string, error) {
	// The output was written by user code: table.OpenArrow checks every
	// batch before a value of it is read here.
	r, closeFile, err := table.OpenArrow(path)
	if err != nil {
		return "", err
	}
	defer func() { closeFile() }() // the one open when it returns
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	var head []string
	for _, f := range r.Schema().Fields() {
		head = append(head, fmt.Sprintf("%s (%s)", mask.Mask(f.Name), f.Type))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	// rows < 0 shows the last -rows rows: count them first.
	var total, skip int64
	if rows < 0 {
		for r.Next() {
			total += r.RecordBatch().NumRows()
		}
		if err := r.Err(); err != nil {
			return "", err
		}
		closeFile()
		if r, closeFile, err = table.OpenArrow(path); err != nil {
			return "", err
		}
		rows = -rows
		skip = max(0, total-int64(rows))
		total = 0
	}
	shown := 0
	for r.Next() {
		rec := r.RecordBatch()
		first := int64(0)
		if skip > total {
			first = min(skip-total, rec.NumRows())
		}
		total += rec.NumRows()
		for row := int(first); row < int(rec.NumRows()) && shown < rows; row++ {
			cells := make([]string, rec.NumCols())
			for c := range cells {
				col := rec.Column(c)
				if col.IsNull(row) {
					cells[c] = "NULL"
				} else {
					cells[c] = mask.Mask(col.ValueStr(row))
				}
				if len(cells[c]) > 40 {
					cells[c] = cells[c][:37] + "..."
				}
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
			shown++
		}
	}
	if err := r.Err(); err != nil {
		return "", err
	}
	tw.Flush()
	fmt.Fprintf(&b, "(%d of %d rows)", shown, total)
	return b.String(), nil
}
