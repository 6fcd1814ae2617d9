package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

// What a page of a table's rows and its statistics may take.
const (
	maxPageRows     = 10000 // rows of one page of GET /v1/tables/{table}/rows
	maxStatsColumns = 200   // columns GET /v1/tables/{table}/stats describes
	histogramBins   = 20
)

// tableRows streams a page of a table's rows at a ref as Arrow IPC (as
// POST /v1/query does): ?limit, ?offset, ?sort=COLUMN and ?desc=true. The
// page is read at the commit the ref resolves to when the request comes,
// which the stream's metadata names, so pages of one commit agree.
func (s *Server) tableRows(w http.ResponseWriter, r *http.Request) error {
	info, err := s.describe(r)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100)
	if err != nil {
		return err
	}
	offset, err := queryInt(r, "offset", 0)
	if err != nil {
		return err
	}
	if limit < 1 || limit > maxPageRows || offset < 0 {
		return tarn.Errorf(tarn.EINVALID, "a page has 1 to %d rows (limit=%d) from offset 0 or more (offset=%d)", maxPageRows, limit, offset)
	}
	sql := "SELECT * FROM " + tableSQL(info.Table)
	if col := r.URL.Query().Get("sort"); col != "" {
		if !hasColumn(info, col) {
			return tarn.Errorf(tarn.EINVALID, "table %s has no column %s to sort by", info.Table, tarn.Quote(col))
		}
		dir := "ASC"
		if queryBool(r, "desc") {
			dir = "DESC"
		}
		sql += fmt.Sprintf(" ORDER BY %s %s NULLS LAST", quoteIdent(col), dir)
	}
	sql += fmt.Sprintf(" LIMIT %d OFFSET %d", limit, offset)
	return s.stream(w, r, tarn.QueryRequest{SQL: sql, Ref: info.Commit}, "rows of "+info.Table.String())
}

// tableStats describes each column of a table at a ref: nulls, min, max,
// an estimate of distinct values and, for numeric columns, a histogram.
// Two queries (a pass for the aggregates, one for the histograms) run as
// one job of the caller, within the server's query limits.
func (s *Server) tableStats(w http.ResponseWriter, r *http.Request) error {
	info, err := s.describe(r)
	if err != nil {
		return err
	}
	cols := info.Schema
	out := api.TableStats{Table: info.Table, Commit: info.Commit, Columns: []api.ColumnStats{}}
	if len(cols) > maxStatsColumns {
		cols, out.Truncated = cols[:maxStatsColumns], true
	}
	err = s.track(r, "query", info.Commit, "statistics of "+info.Table.String(), func(ctx context.Context) error {
		return s.computeStats(ctx, info, cols, &out)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// describe reads the table a request names at its ?ref (default main).
func (s *Server) describe(r *http.Request) (*tarn.TableInfo, error) {
	ident, err := pathTable(r)
	if err != nil {
		return nil, err
	}
	return s.Services.Tables.GetTable(r.Context(), ident, refParam(r))
}

func hasColumn(info *tarn.TableInfo, name string) bool {
	for _, c := range info.Schema {
		if c.Name == name {
			return true
		}
	}
	return false
}

// columnKind sorts an Iceberg type for statistics.
type columnKind int

const (
	kindScalar  columnKind = iota // min, max and distinct values
	kindNumeric                   // also a histogram
	kindBinary                    // distinct values only
	kindNested                    // nulls only
)

func kindOf(icebergType string) columnKind {
	t := strings.ToLower(icebergType)
	switch {
	case strings.HasPrefix(t, "struct") || strings.HasPrefix(t, "list") || strings.HasPrefix(t, "map"):
		return kindNested
	case t == "binary" || strings.HasPrefix(t, "fixed"):
		return kindBinary
	case t == "int" || t == "long" || t == "float" || t == "double" || strings.HasPrefix(t, "decimal"):
		return kindNumeric
	}
	return kindScalar
}

func integral(icebergType string) bool { return icebergType == "int" || icebergType == "long" }

// numericRange is what the first pass learns of a numeric column.
type numericRange struct {
	index    int // into the stats' columns
	lo, hi   float64
	integral bool
}

func (s *Server) computeStats(ctx context.Context, info *tarn.TableInfo, cols []tarn.Column, out *api.TableStats) error {
	from := tableSQL(info.Table)
	exprs := []string{"count(*)"}
	for _, c := range cols {
		q := quoteIdent(c.Name)
		exprs = append(exprs, "count("+q+")")
		switch kindOf(c.Type) {
		case kindScalar, kindNumeric:
			exprs = append(exprs, "left(min("+q+")::VARCHAR, 100)", "left(max("+q+")::VARCHAR, 100)", "approx_count_distinct("+q+")")
		case kindBinary:
			exprs = append(exprs, "approx_count_distinct("+q+")")
		}
		if kindOf(c.Type) == kindNumeric {
			exprs = append(exprs, "min("+q+")::DOUBLE", "max("+q+")::DOUBLE")
		}
	}
	row, err := s.oneRow(ctx, info.Commit, "SELECT "+strings.Join(exprs, ", ")+" FROM "+from)
	if err != nil {
		return err
	}
	next := func() any { v := row[0]; row = row[1:]; return v }
	out.Rows = asInt(next())
	var ranges []numericRange
	for _, c := range cols {
		cs := api.ColumnStats{Name: c.Name, Type: c.Type}
		cs.Nulls = out.Rows - asInt(next())
		kind := kindOf(c.Type)
		if kind == kindScalar || kind == kindNumeric {
			cs.Min, cs.Max = asText(next()), asText(next())
		}
		if kind != kindNested {
			d := asInt(next())
			cs.Distinct = &d
		}
		if kind == kindNumeric {
			lo, hi := next(), next()
			l, lok := lo.(float64)
			h, hok := hi.(float64)
			if lok && hok && !math.IsInf(l, 0) && !math.IsInf(h, 0) && !math.IsNaN(l) && !math.IsNaN(h) {
				ranges = append(ranges, numericRange{index: len(out.Columns), lo: l, hi: h, integral: integral(c.Type)})
			}
		}
		out.Columns = append(out.Columns, cs)
	}
	return s.histograms(ctx, info, ranges, out)
}

// histograms counts the values of numeric columns in equal-width bins
// (integers with few values: one bin per value), in one query.
func (s *Server) histograms(ctx context.Context, info *tarn.TableInfo, ranges []numericRange, out *api.TableStats) error {
	if len(ranges) == 0 {
		return nil
	}
	var parts []string
	widths := make([]float64, len(ranges))
	bins := make([]int, len(ranges))
	for i, rg := range ranges {
		bins[i] = histogramBins
		span := rg.hi - rg.lo
		if rg.integral {
			span++ // bins of [lo, hi + 1)
			if span < histogramBins {
				bins[i] = int(span)
			}
		}
		if span <= 0 {
			bins[i], widths[i] = 1, 1
		} else {
			widths[i] = span / float64(bins[i])
		}
		q := quoteIdent(out.Columns[rg.index].Name)
		parts = append(parts, fmt.Sprintf("SELECT %d AS c, least(floor((%s::DOUBLE - %s) / %s), %d)::BIGINT AS b, count(*) AS n FROM %s WHERE isfinite(%s::DOUBLE) GROUP BY ALL",
			i, q, floatSQL(rg.lo), floatSQL(widths[i]), bins[i]-1, tableSQL(info.Table), q))
	}
	counts := make([][]int64, len(ranges))
	for i := range counts {
		counts[i] = make([]int64, bins[i])
	}
	err := s.eachRow(ctx, info.Commit, strings.Join(parts, " UNION ALL "), func(row []any) {
		c, b := int(asInt(row[0])), int(asInt(row[1]))
		if c >= 0 && c < len(counts) && b >= 0 && b < len(counts[c]) {
			counts[c][b] += asInt(row[2])
		}
	})
	if err != nil {
		return err
	}
	for i, rg := range ranges {
		hist := make([]api.HistogramBin, bins[i])
		for b := range hist {
			hist[b] = api.HistogramBin{Lower: rg.lo + float64(b)*widths[i], Upper: rg.lo + float64(b+1)*widths[i], Count: counts[i][b]}
		}
		out.Columns[rg.index].Histogram = hist
	}
	return nil
}

// oneRow runs a query that returns one row and returns its values.
func (s *Server) oneRow(ctx context.Context, ref, sql string) ([]any, error) {
	var out []any
	err := s.eachRow(ctx, ref, sql, func(row []any) {
		if out == nil {
			out = row
		}
	})
	if err == nil && out == nil {
		err = fmt.Errorf("statistics query returned no row")
	}
	return out, err
}

// eachRow runs a query and calls f with each row's values (int64,
// float64, string, or nil).
func (s *Server) eachRow(ctx context.Context, ref, sql string, f func([]any)) error {
	res, err := s.Services.Query.Query(ctx, tarn.QueryRequest{SQL: sql, Ref: ref})
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Records.Next() {
		rec := res.Records.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]any, rec.NumCols())
			for j, col := range rec.Columns() {
				row[j] = value(col, i)
			}
			f(row)
		}
	}
	return res.Records.Err()
}

func value(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	return col.GetOneForMarshal(i)
}

func asInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	case uint64:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

func asText(v any) *string {
	if v == nil {
		return nil
	}
	s := fmt.Sprint(v)
	return &s
}

// quoteIdent quotes a name for SQL: "name", inner quotes doubled.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func tableSQL(t tarn.TableIdent) string {
	return quoteIdent(t.Namespace) + "." + quoteIdent(t.Name)
}

// floatSQL writes a float as a DuckDB DOUBLE literal.
func floatSQL(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64) + "::DOUBLE"
}
