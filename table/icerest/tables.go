package icerest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	icecat "github.com/apache/iceberg-go/catalog"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

// tableOf returns the table a route's path names.
func tableOf(r *http.Request) icetable.Identifier {
	return append(splitNamespace(r.PathValue("namespace")), r.PathValue("table"))
}

func (h *Handler) listTables(w http.ResponseWriter, r *http.Request) error {
	ss, err := h.open(r)
	if err != nil {
		return err
	}
	ns := splitNamespace(r.PathValue("namespace"))
	ids := []identifier{}
	for id, err := range ss.ListTables(r.Context(), ns) {
		if err != nil {
			return err
		}
		ids = append(ids, identifier{Namespace: id[:len(id)-1], Name: id[len(id)-1]})
	}
	ids, next, err := page(r, ids, func(id identifier) string { return id.Name })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listTablesResponse{Identifiers: ids, NextPageToken: next})
	return nil
}

func (h *Handler) createTable(w http.ResponseWriter, r *http.Request) error {
	var req createTableRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == "" || req.Schema == nil {
		return tarn.Errorf(tarn.EINVALID, "create table: the request needs a \"name\" and a \"schema\"")
	}
	id := append(splitNamespace(r.PathValue("namespace")), req.Name)
	opts := []icecat.CreateTableOpt{icecat.WithProperties(req.Properties)}
	if req.Location != "" {
		opts = append(opts, icecat.WithLocation(req.Location))
	}
	if req.PartitionSpec != nil {
		opts = append(opts, icecat.WithPartitionSpec(&req.PartitionSpec.PartitionSpec))
	}
	if req.WriteOrder != nil {
		opts = append(opts, icecat.WithSortOrder(req.WriteOrder.SortOrder))
	}
	var meta icetable.Metadata
	var loc string
	ss, err := h.write(r, func(ctx context.Context, ss *table.Session) (string, error) {
		if req.StageCreate { // nothing is staged: the commit with assert-create creates it
			var err error
			meta, err = ss.StageCreateTable(ctx, id, req.Schema, opts...)
			return "", err
		}
		tbl, err := ss.CreateTable(ctx, id, req.Schema, opts...)
		if err == nil {
			meta, loc = tbl.Metadata(), tbl.MetadataLocation()
		}
		return "create table " + strings.Join(id, "."), err
	})
	if err != nil {
		return err
	}
	h.mayWrite(r, ss) // the engine writes the table's first files next
	return h.writeTable(w, meta, loc)
}

// writeTable answers with a LoadTableResult of metadata.
func (h *Handler) writeTable(w http.ResponseWriter, meta icetable.Metadata, loc string) error {
	raw, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode table metadata: %w", err)
	}
	writeJSON(w, http.StatusOK, loadTableResult{MetadataLocation: loc, Metadata: raw, Config: h.opts.TableConfig})
	return nil
}

// loadTable sends the metadata file as it is: reading it does not grow
// with the catalog, and nothing is decoded.
func (h *Handler) loadTable(w http.ResponseWriter, r *http.Request) error {
	ss, err := h.open(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	loc, err := ss.MetadataLocation(ctx, tableOf(r))
	if err != nil {
		return err
	}
	h.mayWrite(r, ss)
	return h.writeStoredTable(ctx, w, loc)
}

// mayWrite holds a lease for the files the caller's engine may now write
// into the warehouse before it commits them, when it may write the
// session's branch (table.Service.EngineMayWrite).
func (h *Handler) mayWrite(r *http.Request, ss *table.Session) {
	caller, err := callerOf(r)
	if err != nil || ss.Branch() == "" || caller.CanWrite(ss.Branch()) != nil {
		return
	}
	h.tables.EngineMayWrite(h.opts.WriteLease)
}

func (h *Handler) writeStoredTable(ctx context.Context, w http.ResponseWriter, loc string) error {
	raw, err := h.tables.MetadataJSON(ctx, loc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, loadTableResult{MetadataLocation: loc, Metadata: raw, Config: h.opts.TableConfig})
	return nil
}

func (h *Handler) tableExists(w http.ResponseWriter, r *http.Request) error {
	ss, err := h.open(r)
	if err != nil {
		return err
	}
	if _, err := ss.MetadataLocation(r.Context(), tableOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) commitTable(w http.ResponseWriter, r *http.Request) error {
	var req commitTableRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	id := tableOf(r)
	if err := req.check("commit to " + strings.Join(id, ".")); err != nil {
		return err
	}
	if req.Identifier != nil {
		if named, err := req.Identifier.ident("commit"); err != nil || !slices.Equal(named, id) {
			return tarn.Errorf(tarn.EINVALID, "the commit's identifier %v is not the table of its path, %s", named, strings.Join(id, "."))
		}
	}
	var meta icetable.Metadata
	var loc string
	if _, err := h.write(r, func(ctx context.Context, ss *table.Session) (string, error) {
		var err error
		meta, loc, err = ss.CommitTable(ctx, id, *req.Requirements, *req.Updates)
		return describe(strings.Join(id, "."), *req.Requirements, *req.Updates), err
	}); err != nil {
		return err
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode table metadata: %w", err)
	}
	writeJSON(w, http.StatusOK, loadTableResult{MetadataLocation: loc, Metadata: raw})
	return nil
}

// describe says what a table commit does, for its tarn commit message:
// a create (the end of a staged create), the operations of the snapshots
// it adds (append, overwrite, delete, replace: PyIceberg's overwrite adds
// a delete and an append), else the kinds of update it makes.
func describe(table string, reqs []icetable.Requirement, updates []icetable.Update) string {
	if slices.ContainsFunc(reqs, func(r icetable.Requirement) bool { return r.GetType() == "assert-create" }) {
		return "create table " + table
	}
	var actions, ops []string
	var last int64
	for _, u := range updates {
		if u.Action() == icetable.UpdateAddSnapshot {
			var added struct {
				Snapshot struct {
					ID      int64 `json:"snapshot-id"`
					Summary struct {
						Operation string `json:"operation"`
					} `json:"summary"`
				} `json:"snapshot"`
			}
			if raw, err := json.Marshal(u); err == nil && json.Unmarshal(raw, &added) == nil && added.Snapshot.Summary.Operation != "" {
				if !slices.Contains(ops, added.Snapshot.Summary.Operation) {
					ops = append(ops, added.Snapshot.Summary.Operation)
				}
				last = added.Snapshot.ID
			}
		}
		if !slices.Contains(actions, u.Action()) {
			actions = append(actions, u.Action())
		}
	}
	switch {
	case len(ops) > 0:
		return fmt.Sprintf("%s %s (snapshot %d)", strings.Join(ops, ", "), table, last)
	case len(actions) == 0:
		return "commit to " + table + " (no changes)"
	}
	return "update " + table + " (" + strings.Join(actions, ", ") + ")"
}

func (h *Handler) dropTable(w http.ResponseWriter, r *http.Request) error {
	// purgeRequested changes nothing: the files stay, as other commits
	// (history, other branches) may still point at them.
	id := tableOf(r)
	if _, err := h.write(r, func(ctx context.Context, ss *table.Session) (string, error) {
		return "drop table " + strings.Join(id, "."), ss.DropTable(ctx, id)
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) renameTable(w http.ResponseWriter, r *http.Request) error {
	var req renameTableRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	from, err := req.Source.ident("rename: source")
	if err != nil {
		return err
	}
	to, err := req.Destination.ident("rename: destination")
	if err != nil {
		return err
	}
	if _, err := h.write(r, func(ctx context.Context, ss *table.Session) (string, error) {
		_, err := ss.RenameTable(ctx, from, to)
		return "rename table " + strings.Join(from, ".") + " to " + strings.Join(to, "."), err
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) registerTable(w http.ResponseWriter, r *http.Request) error {
	var req registerTableRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == "" || req.MetadataLocation == "" {
		return tarn.Errorf(tarn.EINVALID, "register table: the request needs a \"name\" and a \"metadata-location\"")
	}
	id := append(splitNamespace(r.PathValue("namespace")), req.Name)
	if _, err := h.write(r, func(ctx context.Context, ss *table.Session) (string, error) {
		_, err := ss.RegisterTable(ctx, id, req.MetadataLocation, req.Overwrite)
		return "register table " + strings.Join(id, "."), err
	}); err != nil {
		return err
	}
	return h.writeStoredTable(r.Context(), w, req.MetadataLocation)
}

// reportMetrics accepts a client's scan or commit report and drops it.
func (h *Handler) reportMetrics(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.open(r); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		return decode(r, &struct{}{}) // reports the body cap
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// commitTransaction checks and applies every table's changes and makes
// them one tarn commit; when one fails, nothing is committed.
func (h *Handler) commitTransaction(w http.ResponseWriter, r *http.Request) error {
	var req commitTransactionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if len(req.TableChanges) == 0 {
		return tarn.Errorf(tarn.EINVALID, "the transaction has no \"table-changes\"")
	}
	commits := make([]icetable.TableCommit, len(req.TableChanges))
	what := make([]string, len(req.TableChanges))
	for i, c := range req.TableChanges {
		id, err := c.Identifier.ident(fmt.Sprintf("table change %d", i+1))
		if err != nil {
			return err
		}
		if err := c.check(fmt.Sprintf("table change %d", i+1)); err != nil {
			return err
		}
		commits[i] = icetable.TableCommit{Identifier: id, Requirements: *c.Requirements, Updates: *c.Updates}
		what[i] = describe(strings.Join(id, "."), *c.Requirements, *c.Updates)
	}
	if _, err := h.write(r, func(ctx context.Context, ss *table.Session) (string, error) {
		return "transaction: " + strings.Join(what, "; "), ss.CommitTransaction(ctx, commits)
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
