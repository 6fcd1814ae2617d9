package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	in, cleanup, err := s.keepProject(r.Context(), dir, req)
	if err != nil {
		return err
	}
	job, err := s.startRun(r.Context(), user, in, cleanup)
	if err != nil {
		return err
	}
	return s.followRun(w, r, job)
}

// startRun queues a run whose project is kept (keepProject); when it
// cannot be queued, the project goes.
func (s *Server) startRun(ctx context.Context, user string, in runInput, cleanup string) (*tarn.Job, error) {
	input, err := json.Marshal(in)
	if err == nil {
		var job *tarn.Job
		job, err = s.Jobs.Start(ctx, tarn.JobSpec{Kind: "run", User: user, Ref: in.Request.Ref, Summary: "tarn run", Input: input, Cleanup: cleanup})
		if err == nil {
			return job, nil
		}
	}
	if in.Archive != "" {
		// One left behind (the bucket not answering) is gc's to remove.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		s.Projects.Remove(rctx, in.Archive)
	} else {
		os.RemoveAll(cleanup)
	}
	return nil, err
}

// keepProject makes the project received in dir readable by whichever
// server takes the run: in the bucket (Projects; the local folder is
// removed) or where it is (a shared home's upload folder). It returns
// the run's input and the job's Cleanup. A bucket that cannot be written
// refuses the run, and nothing is queued.
func (s *Server) keepProject(ctx context.Context, dir string, req tarn.RunRequest) (runInput, string, error) {
	if s.Projects == nil {
		return runInput{Request: req, Project: filepath.Join(dir, "project")}, dir, nil
	}
	loc, err := s.Projects.Put(ctx, filepath.Join(dir, projectArchive))
	os.RemoveAll(dir)
	if err != nil {
		return runInput{}, "", err
	}
	return runInput{Request: req, Archive: loc}, loc, nil
}

// followRun answers a run's request once its job is queued: at once with
// ?detach=true, else with its events as they come.
func (s *Server) followRun(w http.ResponseWriter, r *http.Request, job *tarn.Job) error {
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

// runInput is a queued run as data: the request and where its uploaded
// project is, for the server that takes the job: a folder (servers
// sharing a home share its upload folder) or an archive in the bucket
// (Projects), which that server downloads.
type runInput struct {
	Request tarn.RunRequest `json:"request"`
	Project string          `json:"project,omitempty"`
	Archive string          `json:"archive,omitempty"`
}

// ProjectStore keeps the projects of queued runs between the server that
// received one and the one that runs it: table.RunUploads, in the
// warehouse's bucket.
type ProjectStore interface {
	// Put stores the local file src (a project archive) under a new name
	// and returns its location; an object appears whole or not at all.
	Put(ctx context.Context, src string) (string, error)
	// Get downloads the archive at location into the new local file dst
	// (ENOTFOUND when it is gone, saying so).
	Get(ctx context.Context, location, dst string) error
	// Remove removes the archive at location.
	Remove(ctx context.Context, location string) error
}

// fetchProject downloads a queued run's project from Projects and
// unpacks it into a fresh upload folder, which the caller removes.
func (s *Server) fetchProject(ctx context.Context, location string) (string, error) {
	if s.Projects == nil {
		return "", tarn.Errorf(tarn.EINTERNAL, "the project of this run is in %s, and this server keeps none in a bucket: start every server of the lakehouse on the same warehouse (--warehouse)", location)
	}
	dir, err := s.uploadDir()
	if err != nil {
		return "", err
	}
	archive := filepath.Join(dir, projectArchive)
	if err := s.Projects.Get(ctx, location, archive); err != nil {
		return dir, err
	}
	f, err := os.Open(archive)
	if err != nil {
		return dir, err
	}
	defer f.Close()
	if err := untar(f, filepath.Join(dir, "project"), s.projectLimits()); err != nil {
		return dir, tarn.Errorf(tarn.EINTERNAL, "unpack the run's project from %s: %v", location, err)
	}
	os.Remove(archive)
	return dir, nil
}

// doRun is the work of a run job, on whichever server takes it from the
// queue: messages name the project's files as the client does, relative
// to the project, never by the upload's path. The upload is removed when
// the job ends (its Cleanup); a project in the bucket is downloaded into
// this server's upload folder first, and that copy removed at the end.
func (s *Server) doRun(ctx context.Context, input []byte, log func(tarn.RunEvent)) (*tarn.RunResult, error) {
	var in runInput
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "queued run: %v", err)
	}
	if in.Archive != "" {
		dir, err := s.fetchProject(ctx, in.Archive)
		if dir != "" {
			defer os.RemoveAll(dir)
		}
		if err != nil {
			return nil, err
		}
		in.Project = filepath.Join(dir, "project")
	}
	req := in.Request
	req.ProjectDir = in.Project
	prefix := filepath.Clean(req.ProjectDir) + string(filepath.Separator)
	hide := func(msg string) string { return strings.ReplaceAll(msg, prefix, "") }
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
