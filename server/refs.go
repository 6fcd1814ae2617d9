package server

import (
	"net/http"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

func refKind(s string) (tarn.RefKind, error) {
	switch s {
	case "", "branch":
		return tarn.KindBranch, nil
	case "tag":
		return tarn.KindTag, nil
	}
	return "", tarn.Errorf(tarn.EINVALID, "unknown ref kind %s: use branch or tag", tarn.Quote(s))
}

func (s *Server) listRefs(w http.ResponseWriter, r *http.Request) error {
	kind, err := refKind(r.URL.Query().Get("kind"))
	if err != nil {
		return err
	}
	refs, err := s.Services.Refs.ListRefs(r.Context(), kind)
	if err != nil {
		return err
	}
	if refs == nil {
		refs = []tarn.Ref{}
	}
	if !queryBool(r, "heads") {
		writeJSON(w, http.StatusOK, refs)
		return nil
	}
	// With their head commits (author, time, message): what a list of
	// branches shows, in one request.
	out := make([]api.RefHead, len(refs))
	for i, ref := range refs {
		head, err := s.Services.Refs.GetCommit(r.Context(), ref.Commit)
		if err != nil {
			return err
		}
		out[i] = api.RefHead{Ref: ref, Head: head}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) checkRefWrite(r *http.Request, kind tarn.RefKind, name string) error {
	if kind == tarn.KindTag {
		return s.adminOnly(r.Context(), "create, rename or delete tags")
	}
	return s.canWrite(r.Context(), name)
}

func (s *Server) createRef(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateRefRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	kind, err := refKind(string(req.Kind))
	if err != nil {
		return err
	}
	if err := checkRefName(kind, req.Name); err != nil {
		return err
	}
	if err := s.checkRefWrite(r, kind, req.Name); err != nil {
		return err
	}
	ref, err := s.Services.Refs.CreateRef(r.Context(), kind, req.Name, req.From)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ref)
	return nil
}

func (s *Server) getRef(w http.ResponseWriter, r *http.Request) error {
	ref, err := s.Services.Refs.GetRef(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ref)
	return nil
}

func (s *Server) deleteRef(w http.ResponseWriter, r *http.Request) error {
	kind, err := refKind(r.URL.Query().Get("kind"))
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := s.checkRefWrite(r, kind, name); err != nil {
		return err
	}
	if err := s.Services.Refs.DeleteRef(r.Context(), kind, name); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
	return nil
}

// renameRef renames a branch, or a tag with ?kind=tag.
func (s *Server) renameRef(w http.ResponseWriter, r *http.Request) error {
	kind, err := refKind(r.URL.Query().Get("kind"))
	if err != nil {
		return err
	}
	var req api.RenameRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	old := r.PathValue("name")
	if err := checkRefName(kind, req.NewName); err != nil {
		return err
	}
	for _, name := range []string{old, req.NewName} {
		if err := s.checkRefWrite(r, kind, name); err != nil {
			return err
		}
	}
	var ref *tarn.Ref
	if kind == tarn.KindTag {
		ref, err = s.Services.Refs.RenameTag(r.Context(), old, req.NewName)
	} else {
		ref, err = s.Services.Refs.RenameBranch(r.Context(), old, req.NewName)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ref)
	return nil
}

// resolve resolves ?ref=; with branch=true only a branch is accepted.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request) error {
	ref := refParam(r)
	var c *tarn.Commit
	var err error
	if queryBool(r, "branch") {
		c, err = s.Services.Refs.BranchHead(r.Context(), ref)
	} else {
		c, err = s.Services.Refs.Resolve(r.Context(), ref)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) getCommit(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Services.Refs.GetCommit(r.Context(), r.PathValue("hash"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) log(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 20)
	if err != nil {
		return err
	}
	commits, err := s.Services.Refs.Log(r.Context(), refParam(r), limit)
	if err != nil {
		return err
	}
	if commits == nil {
		commits = []*tarn.Commit{}
	}
	writeJSON(w, http.StatusOK, commits)
	return nil
}

// history sends a page of a ref's history: {commits, next}.
func (s *Server) history(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 100)
	if err != nil {
		return err
	}
	page, err := s.Services.Refs.History(r.Context(), refParam(r), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) mergeBase(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Services.Refs.MergeBase(r.Context(), r.URL.Query().Get("a"), r.URL.Query().Get("b"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]*tarn.Commit{"base": c})
	return nil
}

func (s *Server) diff(w http.ResponseWriter, r *http.Request) error {
	changes, err := s.Services.Refs.Diff(r.Context(), r.URL.Query().Get("from"), r.URL.Query().Get("to"))
	if err != nil {
		return err
	}
	if changes == nil {
		changes = []tarn.Change{}
	}
	writeJSON(w, http.StatusOK, changes)
	return nil
}

func (s *Server) merge(w http.ResponseWriter, r *http.Request) error {
	var req tarn.MergeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.canMerge(r.Context(), req.Into); err != nil {
		return err
	}
	s.author(r.Context(), &req.Info)
	res, err := s.Services.Refs.Merge(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
