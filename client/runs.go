package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/api"
)

type runs Client

var _ tarn.RunService = (*runs)(nil)

func (r *runs) c() *Client { return (*Client)(r) }

// submit uploads the project and the request to POST /v1/runs.
func (c *Client) submit(ctx context.Context, req tarn.RunRequest, q url.Values) (*http.Response, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	packErr := make(chan error, 1)
	go func() {
		err := func() error {
			part, err := mw.CreateFormField("request")
			if err != nil {
				return err
			}
			if err := json.NewEncoder(part).Encode(req); err != nil {
				return err
			}
			part, err = mw.CreateFormFile("project", "project.tar.gz")
			if err != nil {
				return err
			}
			if err := Pack(req.ProjectDir, part, DefaultProjectLimit); err != nil {
				return err
			}
			return mw.Close()
		}()
		packErr <- err
		pw.CloseWithError(err)
	}()
	hreq, err := c.request(ctx, "POST", "/v1/runs", q, pr, mw.FormDataContentType())
	if err != nil {
		return nil, err
	}
	resp, err := c.send(hreq)
	if err != nil {
		select {
		case perr := <-packErr:
			if perr != nil && tarn.ErrorCode(perr) == tarn.EINVALID {
				return nil, perr // a project too large or missing says so, not "connection reset"
			}
		default:
		}
		return nil, err
	}
	return resp, nil
}

// Run uploads the project, starts it as a job on the server and streams
// its events. If ctx ends (Ctrl-C), the job is cancelled on the server; if
// the connection drops otherwise, the job goes on there.
func (r *runs) Run(ctx context.Context, req tarn.RunRequest, events func(tarn.RunEvent)) (*tarn.RunResult, error) {
	resp, err := r.c().submit(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var job *tarn.Job
	for sc.Scan() {
		var line api.RunLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, tarn.Errorf(tarn.EINTERNAL, "malformed run progress from the server: %v", err)
		}
		switch {
		case line.Event != nil && events != nil:
			events(*line.Event)
		case line.Done && line.Job != nil:
			return line.Job.Result, jobError(line.Job)
		case line.Job != nil:
			job = line.Job
			if events != nil {
				events(tarn.RunEvent{Kind: tarn.EventInfo, Message: fmt.Sprintf("job %s on %s (if this connection drops, the run goes on: tarn job logs %s --follow)", job.ID, r.c().base, job.ID)})
			}
		}
	}
	if ctx.Err() != nil {
		if job != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			(*jobs)(r).CancelJob(cctx, job.ID)
			cancel()
		}
		return nil, ctx.Err()
	}
	id := "?"
	if job != nil {
		id = job.ID
	}
	return nil, tarn.Errorf(tarn.EINTERNAL, "lost the connection to the server during the run; the run goes on there as job %s (`tarn job logs %s --follow`)", id, id)
}

// jobError is the error a finished job ended with, nil if it succeeded.
func jobError(j *tarn.Job) error {
	switch {
	case j.State == tarn.JobSucceeded:
		return nil
	case j.State == tarn.JobCancelled:
		return context.Canceled
	case j.Error != nil:
		return &tarn.Error{Code: j.Error.Code, Message: j.Error.Message}
	}
	return tarn.Errorf(tarn.EINTERNAL, "job %s ended %s", j.ID, j.State)
}

type jobs Client

var _ tarn.JobService = (*jobs)(nil)

func (j *jobs) c() *Client { return (*Client)(j) }

func (j *jobs) ListJobs(ctx context.Context) ([]*tarn.Job, error) {
	return do[[]*tarn.Job](ctx, j.c(), "GET", "/v1/jobs", nil, nil)
}

func (j *jobs) GetJob(ctx context.Context, id string) (*tarn.Job, error) {
	return do[*tarn.Job](ctx, j.c(), "GET", "/v1/jobs/"+esc(id), nil, nil)
}

func (j *jobs) JobLogs(ctx context.Context, id string, follow bool, w io.Writer) error {
	hreq, err := j.c().request(ctx, "GET", "/v1/jobs/"+esc(id)+"/logs", vals("follow", boolStr(follow)), nil, "")
	if err != nil {
		return err
	}
	resp, err := j.c().send(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (j *jobs) CancelJob(ctx context.Context, id string) (*tarn.Job, error) {
	return do[*tarn.Job](ctx, j.c(), "POST", "/v1/jobs/"+esc(id)+"/cancel", nil, nil)
}

func (j *jobs) SubmitRun(ctx context.Context, req tarn.RunRequest) (*tarn.Job, error) {
	resp, err := j.c().submit(ctx, req, vals("detach", "true"))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out tarn.Job
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "decode the server's answer: %v", err)
	}
	return &out, nil
}

type users Client

var _ tarn.UserService = (*users)(nil)

func (u *users) AddUser(ctx context.Context, req tarn.NewUser) (*tarn.User, string, error) {
	out, err := do[api.AddUserResponse](ctx, (*Client)(u), "POST", "/v1/users", nil, req)
	return out.User, out.Token, err
}

func (u *users) ListUsers(ctx context.Context) ([]tarn.User, error) {
	return do[[]tarn.User](ctx, (*Client)(u), "GET", "/v1/users", nil, nil)
}

func (u *users) RemoveUser(ctx context.Context, name string) error {
	return (*Client)(u).call(ctx, "DELETE", "/v1/users/"+esc(name), nil, nil, nil)
}

func (u *users) ResetToken(ctx context.Context, name string) (string, error) {
	out, err := do[api.AddUserResponse](ctx, (*Client)(u), "POST", "/v1/users/"+esc(name)+"/token", nil, nil)
	return out.Token, err
}

type secrets Client

var _ tarn.SecretService = (*secrets)(nil)

// PublicKey returns the server's public key; values sealed with it open
// only on the server.
func (s *secrets) PublicKey(ctx context.Context) (*tarn.PublicKey, error) {
	k, err := do[tarn.PublicKey](ctx, (*Client)(s), "GET", "/v1/public-key", nil, nil)
	if err != nil {
		return nil, err
	}
	return &k, nil
}
