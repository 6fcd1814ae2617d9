package pipeline

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// previewArrow renders the first rows of an Arrow IPC file as a table.
func previewArrow(path string, rows int) (string, error) {
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
		head = append(head, fmt.Sprintf("%s (%s)", f.Name, f.Type))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	shown := 0
	var total int64
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordAt(i)
		if err != nil {
			return "", err
		}
		total += rec.NumRows()
		for row := 0; row < int(rec.NumRows()) && shown < rows; row++ {
			cells := make([]string, rec.NumCols())
			for c := range cells {
				col := rec.Column(c)
				if col.IsNull(row) {
					cells[c] = "NULL"
				} else {
					cells[c] = col.ValueStr(row)
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
