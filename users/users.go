package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"time"

	"github.com/tarnhq/tarn"
)

// ErrNotFound is what Store.ByTokenHash returns for a hash no user has.
var ErrNotFound = errors.New("no such user")

// Record is a user as a Store keeps it: the user and the SHA-256 (hex)
// of its token.
type Record struct {
	tarn.User
	TokenHash string `json:"token_sha256"`
}

// Store keeps users. Implementations: FileStore, postgres.UserStore;
// userstest is their conformance suite.
type Store interface {
	// Add stores a new user (EEXISTS when the name is taken).
	Add(ctx context.Context, r Record) error
	// List returns every user, sorted by name.
	List(ctx context.Context) ([]Record, error)
	// ByTokenHash returns the user whose token hash is h, or ErrNotFound.
	ByTokenHash(ctx context.Context, h string) (*Record, error)
	// Remove deletes a user (NotFound; LastAdmin when it is the only
	// admin left, decided atomically with the delete).
	Remove(ctx context.Context, name string) error
	// SetTokenHash replaces a user's token hash (NotFound).
	SetTokenHash(ctx context.Context, name, h string) error
	// Close releases the store.
	Close() error
}

// Service implements tarn.UserService and a server's authenticator over
// a Store: names are checked, tokens made and hashed here, so every
// backend treats them alike.
type Service struct {
	Store Store
}

var _ tarn.UserService = (*Service)(nil)

var userName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// ValidName says what is wrong with a user name, if anything.
func ValidName(name string) error {
	if !userName.MatchString(name) {
		return tarn.Errorf(tarn.EINVALID, "invalid user name %s: use 1-32 lowercase letters, digits, '-' or '_', starting with a letter", tarn.Quote(name))
	}
	return nil
}

// AddUser creates a user with a fresh token (EEXISTS, EINVALID).
func (s *Service) AddUser(ctx context.Context, req tarn.NewUser) (*tarn.User, string, error) {
	if req.ValidFor < 0 {
		return nil, "", tarn.Errorf(tarn.EINVALID, "a token cannot be valid for a negative duration")
	}
	if err := ValidName(req.Name); err != nil {
		return nil, "", err
	}
	token, err := newToken()
	if err != nil {
		return nil, "", err
	}
	now := time.Now().UTC().Truncate(time.Second)
	r := Record{User: tarn.User{Name: req.Name, Admin: req.Admin, Created: now}, TokenHash: HashToken(token)}
	if req.ValidFor > 0 {
		r.Expires = now.Add(req.ValidFor)
	}
	if err := s.Store.Add(ctx, r); err != nil {
		return nil, "", err
	}
	return &r.User, token, nil
}

// ListUsers lists users by name.
func (s *Service) ListUsers(ctx context.Context) ([]tarn.User, error) {
	records, err := s.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]tarn.User, 0, len(records))
	for _, r := range records {
		out = append(out, r.User)
	}
	return out, nil
}

// Authenticate returns the user a token belongs to (EUNAUTHORIZED when
// none does or it has expired).
func (s *Service) Authenticate(ctx context.Context, token string) (*tarn.User, error) {
	r, err := s.Store.ByTokenHash(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return nil, tarn.Errorf(tarn.EUNAUTHORIZED, "invalid token: check `tarn config get token` or TARN_TOKEN, or ask an admin for one (`tarn user add NAME`)")
	}
	if err != nil {
		return nil, err
	}
	if !r.Expires.IsZero() && time.Now().After(r.Expires) {
		return nil, tarn.Errorf(tarn.EUNAUTHORIZED, "the token of user %q expired on %s: ask an admin for a new one (`tarn user add`)", r.Name, r.Expires.Format(time.RFC3339))
	}
	u := r.User
	return &u, nil
}

// RemoveUser deletes a user; its token stops working at once (ENOTFOUND;
// EINVALID for the last admin, without whom no one could add users
// through a server).
func (s *Service) RemoveUser(ctx context.Context, name string) error {
	return s.Store.Remove(ctx, name)
}

// ResetToken gives a user a fresh token, shown only once; the old one
// stops working at once (ENOTFOUND). The expiry, if any, is kept.
func (s *Service) ResetToken(ctx context.Context, name string) (string, error) {
	token, err := newToken()
	if err != nil {
		return "", err
	}
	if err := s.Store.SetTokenHash(ctx, name, HashToken(token)); err != nil {
		return "", err
	}
	return token, nil
}

// newToken returns a fresh token: 32 random bytes.
func newToken() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return "tarn_" + base64.RawURLEncoding.EncodeToString(raw), nil
}

// HashToken returns the SHA-256 of a token in hex, as stores keep it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NotFound is the error for a user no store has.
func NotFound(name string) error {
	return tarn.Errorf(tarn.ENOTFOUND, "user %s not found (`tarn user ls` lists them)", tarn.Quote(name)).About(tarn.ResourceUser)
}

// LastAdmin is the error for removing the only admin left.
func LastAdmin(name string) error {
	return tarn.Errorf(tarn.EINVALID, "user %q is the last admin: add another admin (`tarn user add NAME --admin`) before removing it", name)
}

// Exists is the error for a name that is taken.
func Exists(name string) error {
	return tarn.Errorf(tarn.EEXISTS, "user %q already exists", name).About(tarn.ResourceUser)
}
