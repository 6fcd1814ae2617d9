package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

// run takes a multipart upload: a "request" part (tarn.RunRequest) and a
// "project" part (the project folder as tar.gz). The run is a job: with
// ?detach=true the job is returned at once (202); otherwise its events
// stream back as NDJSON until it ends. A client that disconnects does
// not stop the job.
func (s *Server) run(w http.ResponseWriter, r *http.Request) error {
	var req tarn.RunRequest
	dir, err := s.receiveProject(r, &req, func() error {
		if err := s.canMerge(r.Context(), req.Ref); err != nil {
			return err
		}
		_, err := s.Services.Refs.BranchHead(r.Context(), req.Ref)
		return err
	})
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	user := userOf(r.Context()).Name
	if !s.Insecure || req.Author == "" {
		req.Author = user
	}
	req.ProjectDir = filepath.Join(dir, "project")
	job, _, err := s.Jobs.Start(r.Context(), s.runJob(req, user, dir))
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	if queryBool(r, "detach") {
		writeJSON(w, http.StatusAccepted, s.redact.redactJob(job))
		return nil
	}
	w.Header().Set("Content-Type", api.ContentNDJSON)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	enc.Encode(api.RunLine{Job: s.redact.redactJob(job)})
	rc.Flush()
	lw := &eventLines{enc: enc, redact: s.redact, flush: func() { rc.Flush() }, run: true}
	if err := s.Jobs.JobLogs(r.Context(), job.ID, true, lw); err != nil {
		return nil // the client went away: the job goes on
	}
	final, err := s.Jobs.GetJob(context.WithoutCancel(r.Context()), job.ID)
	if err != nil {
		return nil
	}
	enc.Encode(api.RunLine{Job: s.redact.redactJob(final), Done: true})
	return nil
}

// runJob is the job of an uploaded project's run: dir (the upload) is
// removed when it ends, and messages name the project's files as the
// client does, relative to the project, never by the upload's path.
func (s *Server) runJob(req tarn.RunRequest, user, dir string) tarn.JobSpec {
	prefix := filepath.Clean(req.ProjectDir) + string(filepath.Separator)
	hide := func(msg string) string { return strings.ReplaceAll(msg, prefix, "") }
	return tarn.JobSpec{Kind: "run", User: user, Ref: req.Ref, Summary: "tarn run", Serial: true, Cleanup: dir,
		Do: func(ctx context.Context, log func(tarn.RunEvent)) (*tarn.RunResult, error) {
			res, err := s.Services.Runs.Run(ctx, req, func(e tarn.RunEvent) {
				e.Message = hide(e.Message)
				log(e)
			})
			if res != nil {
				res.Error = hide(res.Error)
				for _, st := range res.Steps {
					st.Error = hide(st.Error)
				}
			}
			if err != nil {
				err = &tarn.Error{Code: tarn.ErrorCode(err), Message: hide(err.Error()), Err: err}
			}
			return res, err
		}}
}

// eventLines turns job log lines (one tarn.RunEvent each) into redacted
// NDJSON: RunLines for a run's stream (without the job's own end event,
// which the final api.RunLine carries), or the events as they are for a job's
// log.
type eventLines struct {
	enc    *json.Encoder
	redact *redactor
	flush  func()
	run    bool
}

func (e *eventLines) Write(p []byte) (int, error) {
	var ev tarn.RunEvent
	if err := json.Unmarshal(bytes.TrimSpace(p), &ev); err != nil {
		return len(p), nil
	}
	ev = e.redact.redactEvent(ev)
	switch {
	case !e.run:
		return len(p), e.enc.Encode(ev)
	case ev.Kind == tarn.EventJob:
		return len(p), nil
	}
	return len(p), e.enc.Encode(api.RunLine{Event: &ev})
}

func (e *eventLines) Flush() { e.flush() }

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	jobs, err := s.Jobs.ListJobs(r.Context())
	if err != nil {
		return err
	}
	visible := []*tarn.Job{}
	for _, j := range jobs {
		if s.mayView(r.Context(), j) {
			visible = append(visible, s.redact.redactJob(j))
		}
	}
	writeJSON(w, http.StatusOK, visible)
	return nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.visibleJob(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.redact.redactJob(j))
	return nil
}

// jobLogs sends a job's events as NDJSON (one tarn.RunEvent a line);
// with ?follow=true until the job ends.
func (s *Server) jobLogs(w http.ResponseWriter, r *http.Request) error {
	j, err := s.visibleJob(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", api.ContentNDJSON)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	s.Jobs.JobLogs(r.Context(), j.ID, queryBool(r, "follow"), &eventLines{enc: json.NewEncoder(w), redact: s.redact, flush: func() { rc.Flush() }})
	return nil
}

// cancelJob cancels a job its owner or an admin names; a job the caller
// may not see is not found, one they may only see is forbidden.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	j, err := s.visibleJob(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if u := userOf(ctx); !u.Admin && j.User != u.Name {
		return tarn.Errorf(tarn.EFORBIDDEN, "job %s belongs to %q: users cancel their own jobs, admins any job", j.ID, j.User)
	}
	j, err = s.Jobs.CancelJobAs(ctx, j.ID, userOf(ctx).Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.redact.redactJob(j))
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := s.adminOnly(r.Context(), "list users"); err != nil {
		return err
	}
	users, err := s.Services.Users.ListUsers(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, users)
	return nil
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.adminOnly(r.Context(), "add users"); err != nil {
		return err
	}
	var req tarn.NewUser
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, token, err := s.Services.Users.AddUser(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.AddUserResponse{User: u, Token: token})
	return nil
}

func (s *Server) removeUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.adminOnly(r.Context(), "remove users"); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := s.Services.Users.RemoveUser(r.Context(), name); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
	return nil
}

func (s *Server) resetToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.adminOnly(r.Context(), "give users new tokens"); err != nil {
		return err
	}
	name := r.PathValue("name")
	token, err := s.Services.Users.ResetToken(r.Context(), name)
	if err != nil {
		return err
	}
	users, err := s.Services.Users.ListUsers(r.Context())
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Name == name {
			writeJSON(w, http.StatusOK, api.AddUserResponse{User: &u, Token: token})
			return nil
		}
	}
	return tarn.Errorf(tarn.ENOTFOUND, "user %s not found", tarn.Quote(name))
}
