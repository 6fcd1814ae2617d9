package server

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/tarnhq/tarn"
)

// Authenticator turns a bearer token into a user.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*tarn.User, error)
}

type userKey struct{}

// localUser is the caller of a server started with Insecure.
var localUser = &tarn.User{Name: "local", Admin: true}

// anonymous is who a request is before authentication: it may do nothing.
var anonymous = &tarn.User{Name: "-"}

func userOf(ctx context.Context) *tarn.User {
	if u, ok := ctx.Value(userKey{}).(*tarn.User); ok {
		return u
	}
	return anonymous
}

// authenticate resolves the caller of a /v1 request.
func (s *Server) authenticate(r *http.Request) (*tarn.User, error) {
	if s.Insecure {
		return localUser, nil
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return nil, tarn.Errorf(tarn.EUNAUTHORIZED, "this server needs a token: `tarn config set token TOKEN` or TARN_TOKEN (an admin creates one with `tarn user add NAME`)")
	}
	return s.Users.Authenticate(r.Context(), token)
}

// bearerToken reads "Authorization: Bearer TOKEN". The scheme is
// case-insensitive and may be followed by several spaces (RFC 9110 11.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// author is who a commit is recorded for: the authenticated user, or
// what the client says when the server runs without authentication.
func (s *Server) author(ctx context.Context, info *tarn.CommitInfo) {
	if s.Insecure {
		if info.Author == "" {
			info.Author = localUser.Name
		}
		return
	}
	info.Author = userOf(ctx).Name
}

func (s *Server) protected(branch string) bool {
	return slices.Contains(s.Protected, branch)
}

func ownBranch(u *tarn.User, branch string) bool {
	return strings.HasPrefix(branch, u.Name+".")
}

// canWrite checks a direct write (tables, namespaces, creating, deleting
// or renaming a branch) to branch.
func (s *Server) canWrite(ctx context.Context, branch string) error {
	u := userOf(ctx)
	if u.Admin {
		return nil
	}
	if s.protected(branch) {
		return tarn.Errorf(tarn.EFORBIDDEN, "branch %s is protected: it changes only by merge; write on a branch of yours (%s.NAME) and merge it into %s", tarn.Quote(branch), u.Name, tarn.Quote(branch))
	}
	if !ownBranch(u, branch) {
		return tarn.Errorf(tarn.EFORBIDDEN, "user %q may write only to branches named %s.* (and merge into %s): %s is not one of them", u.Name, u.Name, strings.Join(s.Protected, ", "), tarn.Quote(branch))
	}
	return nil
}

// canMerge checks a merge (or a run, which publishes by merge) into branch.
func (s *Server) canMerge(ctx context.Context, branch string) error {
	if s.protected(branch) {
		return nil
	}
	return s.canWrite(ctx, branch)
}

func (s *Server) adminOnly(ctx context.Context, what string) error {
	if u := userOf(ctx); !u.Admin {
		return tarn.Errorf(tarn.EFORBIDDEN, "only admins may %s (user %q is not an admin)", what, u.Name)
	}
	return nil
}

// Visibility says whose jobs (with their SQL, logs and results) a user
// may see.
type Visibility string

// Job visibilities.
const (
	VisibleOwn Visibility = "own" // users see their own jobs; admins see all
	VisibleAll Visibility = "all" // everyone sees every job
)

// ParseVisibility checks a --job-visibility value.
func ParseVisibility(s string) (Visibility, error) {
	switch v := Visibility(s); v {
	case VisibleOwn, VisibleAll:
		return v, nil
	}
	return "", tarn.Errorf(tarn.EINVALID, "unknown job visibility %s: use own (users see their own jobs, admins all) or all", tarn.Quote(s))
}

// mayView reports whether the caller may see job j.
func (s *Server) mayView(ctx context.Context, j *tarn.Job) bool {
	u := userOf(ctx)
	return u.Admin || j.User == u.Name || s.JobVisibility == VisibleAll
}

// visibleJob returns a job the caller may see; a job they may not see
// answers exactly like one that does not exist.
func (s *Server) visibleJob(ctx context.Context, id string) (*tarn.Job, error) {
	j, err := s.Jobs.GetJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.mayView(ctx, j) {
		return nil, tarn.JobNotFound(id)
	}
	return j, nil
}
