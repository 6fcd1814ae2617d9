package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

// What a row-level diff of a table may take.
const (
	DefaultMaxDiffRows = 100000 // rows of both versions read to compare them
	maxDiffPreview     = 1000   // gained and lost rows returned, each
	diffTimeout        = 30 * time.Second
)

// Reasons for no row-level preview.
const (
	reasonSchema   = "schema changed"
	reasonTooLarge = "too large to preview"
	reasonAbsent   = "table absent"
)

// tableDiff compares a table at two refs row by row (GET
// /v1/tables/{table}/diff?from&to&limit): both versions are read with
// the query engine, as one query job of the caller, when they share a
// schema and hold at most MaxDiffRows rows together.
func (s *Server) tableDiff(w http.ResponseWriter, r *http.Request) error {
	ident, err := pathTable(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	fromRef, toRef := q.Get("from"), q.Get("to")
	if fromRef == "" || toRef == "" {
		return tarn.Errorf(tarn.EINVALID, "query parameters from and to are required")
	}
	limit, err := queryInt(r, "limit", 20)
	if err != nil {
		return err
	}
	if limit < 1 || limit > maxDiffPreview {
		return tarn.Errorf(tarn.EINVALID, "a row diff shows 1 to %d rows each (limit=%d)", maxDiffPreview, limit)
	}
	from, err := s.tableAt(r.Context(), ident, fromRef)
	if err != nil {
		return err
	}
	to, err := s.tableAt(r.Context(), ident, toRef)
	if err != nil {
		return err
	}
	if from == nil && to == nil {
		return tarn.Errorf(tarn.ENOTFOUND, "table %s not found at %s nor at %s", ident, fromRef, toRef)
	}
	out := api.RowDiff{Table: ident, Columns: []tarn.Column{}, Added: [][]any{}, Removed: [][]any{}}
	if from == nil || to == nil {
		out.Reason = reasonAbsent
		if from != nil {
			out.From, out.ChangedRows = from.Commit, from.Rows
		}
		if to != nil {
			out.To, out.ChangedRows = to.Commit, to.Rows
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	out.From, out.To = from.Commit, to.Commit
	out.ChangedRows = changedRows(from, to)
	switch {
	case !sameSchema(from.Schema, to.Schema):
		out.Reason = reasonSchema
	case from.Rows+to.Rows > s.maxDiffRows():
		out.Reason = fmt.Sprintf("%s: %d rows changed", reasonTooLarge, out.ChangedRows)
	}
	if out.Reason != "" {
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	out.Columns = to.Schema
	if out.ChangedRows > 0 {
		err = s.track(r, "query", to.Commit, "row diff of "+ident.String(), func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, diffTimeout)
			defer cancel()
			return s.compareRows(ctx, from, to, limit, &out)
		})
		if err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// tableAt reads a table at a ref: nil when the ref has no such table.
func (s *Server) tableAt(ctx context.Context, ident tarn.TableIdent, ref string) (*tarn.TableInfo, error) {
	info, err := s.Services.Tables.GetTable(ctx, ident, ref)
	if tarn.ErrorCode(err) == tarn.ENOTFOUND {
		if _, rerr := s.Services.Refs.Resolve(ctx, ref); rerr != nil {
			return nil, rerr // the ref, not the table, is missing
		}
		return nil, nil
	}
	return info, err
}

// changedRows sums the rows of the data files in one version only.
func changedRows(a, b *tarn.TableInfo) int64 {
	inA := map[string]bool{}
	for _, f := range a.DataFiles {
		inA[f.Path] = true
	}
	inB := map[string]bool{}
	var n int64
	for _, f := range b.DataFiles {
		inB[f.Path] = true
		if !inA[f.Path] {
			n += f.Rows
		}
	}
	for _, f := range a.DataFiles {
		if !inB[f.Path] {
			n += f.Rows
		}
	}
	return n
}

func sameSchema(a, b []tarn.Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Type != b[i].Type {
			return false
		}
	}
	return true
}

// compareRows reads both versions and keeps the rows whose count differs.
func (s *Server) compareRows(ctx context.Context, from, to *tarn.TableInfo, limit int, out *api.RowDiff) error {
	sql := "SELECT * FROM " + tableSQL(to.Table)
	counts := map[string]int64{}
	var keyErr error
	key := func(row []any) string {
		b, err := json.Marshal(row)
		if err != nil && keyErr == nil {
			keyErr = err
		}
		return string(b)
	}
	if err := s.eachRow(ctx, from.Commit, sql, func(row []any) { counts[key(row)]++ }); err != nil {
		return err
	}
	if err := s.eachRow(ctx, to.Commit, sql, func(row []any) {
		k := key(row)
		if counts[k] > 0 {
			counts[k]--
			return
		}
		out.AddedTotal++
		if len(out.Added) < limit {
			out.Added = append(out.Added, row)
		}
	}); err != nil {
		return err
	}
	// What is left of the old version's counts was lost: read it again
	// in order to show the lost rows in the table's order.
	if err := s.eachRow(ctx, from.Commit, sql, func(row []any) {
		k := key(row)
		if counts[k] > 0 {
			counts[k]--
			out.RemovedTotal++
			if len(out.Removed) < limit {
				out.Removed = append(out.Removed, row)
			}
		}
	}); err != nil {
		return err
	}
	return keyErr
}

func (s *Server) maxDiffRows() int64 {
	if s.MaxDiffRows > 0 {
		return s.MaxDiffRows
	}
	return DefaultMaxDiffRows
}
