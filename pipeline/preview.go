package pipeline

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/apache/arrow-go/v18/arrow/ipc"

	rt "github.com/tarnhq/tarn/runtime"
)

// previewArrow renders the first rows rows of an Arrow file (the last
// -rows when rows is negative) as a table. Every cell and column name is
// masked (the run's secrets) before it is cut to 40 characters, so a cut
// never leaves a secret's first characters showing.
func previewArrow(path string, rows int, mask *rt.Masker) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		return "", err
	}
	defer r.Close()
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	schema := r.Schema()
	var head []string
	for _, f := range schema.Fields() {
		head = append(head, fmt.Sprintf("%s (%s)", mask.Mask(f.Name), f.Type))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	// rows < 0 shows the last -rows rows: count them first.
	var total, skip int64
	if rows < 0 {
		for i := 0; i < r.NumRecords(); i++ {
			rec, err := r.RecordAt(i)
			if err != nil {
				return "", err
			}
			total += rec.NumRows()
			rec.Release()
		}
		rows = -rows
		skip = max(0, total-int64(rows))
		total = 0
	}
	shown := 0
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordAt(i)
		if err != nil {
			return "", err
		}
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
		rec.Release()
	}
	tw.Flush()
	fmt.Fprintf(&b, "(%d of %d rows)", shown, total)
	return b.String(), nil
}
