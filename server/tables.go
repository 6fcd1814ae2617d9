package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
	"github.com/tarnhq/tarn/ingest"
)

func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Services.Tables.ListNamespaces(r.Context(), refParam(r))
	if err != nil {
		return err
	}
	if list == nil {
		list = []tarn.Namespace{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) createNamespace(w http.ResponseWriter, r *http.Request) error {
	var req api.NamespaceRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := tarn.ValidateNamespace(req.Namespace); err != nil {
		return err
	}
	if err := s.canWrite(r.Context(), req.Branch); err != nil {
		return err
	}
	s.author(r.Context(), &req.Info)
	c, err := s.Services.Tables.CreateNamespace(r.Context(), req.Branch, req.Namespace, req.Info)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

// writeInfo reads branch, author and message of a DELETE from the query.
func (s *Server) writeInfo(r *http.Request) (string, tarn.CommitInfo, error) {
	q := r.URL.Query()
	branch := q.Get("branch")
	info := tarn.CommitInfo{Author: q.Get("author"), Message: q.Get("message")}
	s.author(r.Context(), &info)
	return branch, info, s.canWrite(r.Context(), branch)
}

func (s *Server) dropNamespace(w http.ResponseWriter, r *http.Request) error {
	ns := r.PathValue("namespace")
	if err := tarn.ValidateNamespace(ns); err != nil {
		return err
	}
	branch, info, err := s.writeInfo(r)
	if err != nil {
		return err
	}
	c, err := s.Services.Tables.DropNamespace(r.Context(), branch, ns, queryBool(r, "force"), info)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) error {
	list, commit, err := s.Services.Tables.ListTables(r.Context(), refParam(r), r.URL.Query().Get("namespace"))
	if err != nil {
		return err
	}
	if list == nil {
		list = []tarn.TableSummary{}
	}
	writeJSON(w, http.StatusOK, api.TableList{Tables: list, Commit: commit})
	return nil
}

func pathTable(r *http.Request) (tarn.TableIdent, error) {
	return tarn.ParseTableIdent(r.PathValue("table"), tarn.DefaultNamespace)
}

func (s *Server) getTable(w http.ResponseWriter, r *http.Request) error {
	ident, err := pathTable(r)
	if err != nil {
		return err
	}
	info, err := s.Services.Tables.GetTable(r.Context(), ident, refParam(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) dropTable(w http.ResponseWriter, r *http.Request) error {
	ident, err := pathTable(r)
	if err != nil {
		return err
	}
	branch, info, err := s.writeInfo(r)
	if err != nil {
		return err
	}
	c, err := s.Services.Tables.DropTable(r.Context(), ident, branch, info)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) revertTable(w http.ResponseWriter, r *http.Request) error {
	ident, err := pathTable(r)
	if err != nil {
		return err
	}
	var req api.RevertRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.canWrite(r.Context(), req.Branch); err != nil {
		return err
	}
	s.author(r.Context(), &req.Info)
	res, err := s.Services.Tables.RevertTable(r.Context(), ident, req.Branch, req.To, req.Info)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) optimizeTable(w http.ResponseWriter, r *http.Request) error {
	ident, err := pathTable(r)
	if err != nil {
		return err
	}
	var req api.OptimizeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.TargetFileSize < 0 {
		return tarn.Errorf(tarn.EINVALID, "target_file_size must be positive (bytes), got %d", req.TargetFileSize)
	}
	if err := s.canWrite(r.Context(), req.Branch); err != nil {
		return err
	}
	opt, ok := s.Services.Tables.(tarn.Optimizer)
	if !ok {
		return tarn.Errorf(tarn.EINVALID, "this server's table service cannot compact tables")
	}
	s.author(r.Context(), &req.Info)
	res, err := opt.Optimize(r.Context(), tarn.OptimizeRequest{Table: ident, Branch: req.Branch, TargetFileSize: req.TargetFileSize, Info: req.Info})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) gc(w http.ResponseWriter, r *http.Request) error {
	var req api.GCRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.adminOnly(r.Context(), "collect garbage"); err != nil {
		return err
	}
	gc, ok := s.Services.Tables.(tarn.Collector)
	if !ok {
		return tarn.Errorf(tarn.EINVALID, "this server's table service cannot collect garbage")
	}
	age, err := wireAge(req.OlderThan)
	if err != nil {
		return err
	}
	runAge, err := wireAge(req.RunsOlderThan)
	if err != nil {
		return err
	}
	keep, err := tarn.ParseKeepHistory(req.KeepHistory)
	if err != nil {
		return err
	}
	rep, err := gc.CollectGarbage(r.Context(), tarn.GCRequest{OlderThan: age, RunsOlderThan: runAge, KeepHistory: keep, DryRun: req.DryRun})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// wireAge reads an age of a request: "" is the default (0), "0s" now (1ns).
func wireAge(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := tarn.ParseAge(v)
	if d == 0 {
		d = 1
	}
	return d, err
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	var req api.VerifyRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	rep, err := s.Services.Tables.Verify(r.Context(), req.History)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// createTable takes a multipart upload: a "request" part
// (tarn.CreateTableRequest; of its From only objects in a bucket, s3://,
// count: the server reads them) and "file" parts. With ?plan=true it
// answers what the create would do, writing nothing.
func (s *Server) createTable(w http.ResponseWriter, r *http.Request) error {
	var req tarn.CreateTableRequest
	dir, files, err := s.receive(r, &req, func() error {
		if _, err := tarn.ParseTableIdent(req.Table.Namespace+"."+req.Table.Name, tarn.DefaultNamespace); err != nil {
			return err
		}
		if err := s.allowedSources(req.From); err != nil {
			return err
		}
		return s.canWrite(r.Context(), req.Branch)
	}, func() []string { return objectInputs(req.From) })
	defer os.RemoveAll(dir)
	if err != nil {
		return err
	}
	s.author(r.Context(), &req.Info)
	req.From = files
	if queryBool(r, "plan") {
		return s.planTable(w, r, req)
	}
	if req.Info.Message == "" {
		verb := "create"
		if req.Replace {
			verb = "replace"
		}
		req.Info.Message = fmt.Sprintf("%s table %s%s", verb, req.Table, sourceNote(files))
	}
	var res *tarn.WriteResult
	err = s.track(r, "import", req.Branch, "table create "+req.Table.String(), func(ctx context.Context) (err error) {
		res, err = s.Services.Tables.CreateTable(ctx, req)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

// planTable answers the plan of a create whose files were uploaded,
// naming the files as the client did.
func (s *Server) planTable(w http.ResponseWriter, r *http.Request, req tarn.CreateTableRequest) error {
	planner, ok := s.Services.Tables.(tarn.TablePlanner)
	if !ok {
		return tarn.Errorf(tarn.EINVALID, "this server cannot plan a table's creation: create it without plan=true")
	}
	plan, err := planner.PlanTable(r.Context(), req)
	if err != nil {
		return err
	}
	for i, f := range plan.Files {
		plan.Files[i] = filepath.Base(f)
	}
	writeJSON(w, http.StatusOK, plan)
	return nil
}

// importTable takes a multipart upload like createTable.
func (s *Server) importTable(w http.ResponseWriter, r *http.Request) error {
	ident, err := pathTable(r)
	if err != nil {
		return err
	}
	var req tarn.ImportRequest
	dir, files, err := s.receive(r, &req, func() error {
		if err := s.allowedSources(req.From); err != nil {
			return err
		}
		return s.canWrite(r.Context(), req.Branch)
	}, func() []string { return objectInputs(req.From) })
	defer os.RemoveAll(dir)
	if err != nil {
		return err
	}
	s.author(r.Context(), &req.Info)
	req.Table, req.From = ident, files
	if req.Info.Message == "" {
		req.Info.Message = fmt.Sprintf("import into %s%s", ident, sourceNote(files))
	}
	var res *tarn.WriteResult
	err = s.track(r, "import", req.Branch, "table import "+ident.String(), func(ctx context.Context) (err error) {
		res, err = s.Services.Tables.ImportTable(ctx, req)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// objectInputs are the inputs of a request's From that name objects in a
// bucket (s3://...), which the server reads itself; its other entries
// are the client's paths of the uploaded files, which say nothing here.
func objectInputs(from []string) []string {
	var out []string
	for _, p := range from {
		if ingest.IsObjectInput(p) {
			out = append(out, p)
		}
	}
	return out
}

// allowedSources refuses objects in a bucket that are not under one of
// the server's ImportSources (a path with . or .. segments is refused
// outright: S3 keys are flat, but it must not look like it escapes).
func (s *Server) allowedSources(from []string) error {
	for _, in := range objectInputs(from) {
		key := in[strings.Index(in, "://")+3:]
		for _, seg := range strings.Split(key, "/") {
			if seg == "." || seg == ".." {
				return tarn.Errorf(tarn.EINVALID, "import source %s: a path with . or .. segments is not accepted", tarn.Quote(in))
			}
		}
		ok := false
		for _, p := range s.ImportSources {
			if strings.HasPrefix(in, strings.TrimSuffix(p, "/")+"/") {
				ok = true
				break
			}
		}
		if !ok {
			if len(s.ImportSources) == 0 {
				return tarn.Errorf(tarn.EFORBIDDEN, "import source %s: this server imports from no bucket (it would read it with its own credentials): its operator allows prefixes with tarn serve --import-from s3://BUCKET/PREFIX/, or upload the files", tarn.Quote(in))
			}
			return tarn.Errorf(tarn.EFORBIDDEN, "import source %s is not under a prefix this server imports from (%s)", tarn.Quote(in), strings.Join(s.ImportSources, ", "))
		}
	}
	return nil
}

// sourceNote names the uploaded files as the client named them.
func sourceNote(files []string) string {
	if len(files) == 1 {
		return " from " + filepath.Base(files[0])
	}
	return fmt.Sprintf(" from %d files", len(files))
}

// track runs work as a recorded job of the caller; queries wait for one
// of the MaxQueries slots.
func (s *Server) track(r *http.Request, kind, ref, summary string, work func(ctx context.Context) error) error {
	spec := tarn.JobSpec{Kind: kind, User: userOf(r.Context()).Name, Ref: ref, Summary: summary}
	if kind == "query" {
		spec.Slots = s.queries
	}
	return s.Jobs.Track(r.Context(), spec, work)
}

// refParam is the ?ref= of a read, main when absent (as documented in
// api/openapi.yaml: ref is optional).
func refParam(r *http.Request) string {
	if ref := r.URL.Query().Get("ref"); ref != "" {
		return ref
	}
	return tarn.DefaultBranch
}
