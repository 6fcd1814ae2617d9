package icerest

import (
	"context"
	"net/http"
	"strings"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/table"
)

func (h *Handler) listNamespaces(w http.ResponseWriter, r *http.Request) error {
	ss, err := h.open(r)
	if err != nil {
		return err
	}
	var parent icetable.Identifier
	if p := r.URL.Query().Get("parent"); p != "" {
		parent = splitNamespace(p)
	}
	list, err := ss.ListNamespaces(r.Context(), parent)
	if err != nil {
		return err
	}
	names := make([][]string, len(list))
	for i, ns := range list {
		names[i] = ns
	}
	names, next, err := page(r, names, func(ns []string) string { return strings.Join(ns, "\x1f") })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listNamespacesResponse{Namespaces: names, NextPageToken: next})
	return nil
}

func (h *Handler) createNamespace(w http.ResponseWriter, r *http.Request) error {
	var req namespaceBody
	if err := decode(r, &req); err != nil {
		return err
	}
	if len(req.Namespace) != 1 {
		return tarn.Errorf(tarn.EINVALID, "namespace %v: tarn's namespaces have exactly one level", req.Namespace)
	}
	if err := tarn.ValidateNamespace(req.Namespace[0]); err != nil {
		return err
	}
	ss, err := h.write(r, func(ctx context.Context, ss *table.Session) (string, error) {
		return "create namespace " + req.Namespace[0], ss.CreateNamespace(ctx, req.Namespace, req.Properties)
	})
	if err != nil {
		return err
	}
	props, err := ss.LoadNamespaceProperties(r.Context(), req.Namespace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, namespaceBody{Namespace: req.Namespace, Properties: props})
	return nil
}

func (h *Handler) loadNamespace(w http.ResponseWriter, r *http.Request) error {
	ss, err := h.open(r)
	if err != nil {
		return err
	}
	ns := splitNamespace(r.PathValue("namespace"))
	props, err := ss.LoadNamespaceProperties(r.Context(), ns)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, namespaceBody{Namespace: ns, Properties: props})
	return nil
}

func (h *Handler) namespaceExists(w http.ResponseWriter, r *http.Request) error {
	ss, err := h.open(r)
	if err != nil {
		return err
	}
	ns := splitNamespace(r.PathValue("namespace"))
	if _, err := ss.LoadNamespaceProperties(r.Context(), ns); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) dropNamespace(w http.ResponseWriter, r *http.Request) error {
	ns := splitNamespace(r.PathValue("namespace"))
	if _, err := h.write(r, func(ctx context.Context, ss *table.Session) (string, error) {
		return "drop namespace " + ns[0], ss.DropNamespace(ctx, ns)
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) updateProperties(w http.ResponseWriter, r *http.Request) error {
	var req updatePropertiesRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	for _, k := range req.Removals {
		if _, ok := req.Updates[k]; ok {
			return &statusError{status: http.StatusUnprocessableEntity, typ: "UnprocessableEntityException",
				err: tarn.Errorf(tarn.EINVALID, "property %s is both removed and updated: name it in one of the two", tarn.Quote(k))}
		}
	}
	ns := splitNamespace(r.PathValue("namespace"))
	var summary icecat.PropertiesUpdateSummary
	if _, err := h.write(r, func(ctx context.Context, ss *table.Session) (string, error) {
		var err error
		summary, err = ss.UpdateNamespaceProperties(ctx, ns, req.Removals, iceberg.Properties(req.Updates))
		return "set properties of namespace " + ns[0], err
	}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, updatePropertiesResponse{Updated: summary.Updated, Removed: summary.Removed, Missing: summary.Missing})
	return nil
}
