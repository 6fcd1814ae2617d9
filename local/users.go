package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/tarnhq/tarn/internal/atomicfile"

	"github.com/tarnhq/tarn"
)

// UserStore keeps users and the SHA-256 hashes of their tokens in a JSON
// file (users.json in the home), rewritten atomically. Tokens are 32
// random bytes, so a plain hash is enough: there is nothing to guess.
type UserStore struct {
	Path string
	mu   sync.Mutex
}

var _ tarn.UserService = (*UserStore)(nil)

type storedUser struct {
	tarn.User
	TokenHash string `json:"token_sha256"`
}

type userFile struct {
	Users []storedUser `json:"users"`
}

var userName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

func (s *UserStore) load() (*userFile, error) {
	var f userFile
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return &f, nil
	}
	if err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "read users: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, tarn.Errorf(tarn.EINTERNAL, "users file %s is corrupt: %v", s.Path, err)
	}
	return &f, nil
}

func (s *UserStore) save(f *userFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.Path, b, 0o600)
}

// ValidUserName says what is wrong with a user name, if anything.
func ValidUserName(name string) error {
	if !userName.MatchString(name) {
		return tarn.Errorf(tarn.EINVALID, "invalid user name %s: use 1-32 lowercase letters, digits, '-' or '_', starting with a letter", tarn.Quote(name))
	}
	return nil
}

// AddUser creates a user with a fresh token.
func (s *UserStore) AddUser(ctx context.Context, req tarn.NewUser) (*tarn.User, string, error) {
	name := req.Name
	if req.ValidFor < 0 {
		return nil, "", tarn.Errorf(tarn.EINVALID, "a token cannot be valid for a negative duration")
	}
	if err := ValidUserName(name); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return nil, "", err
	}
	if f.index(name) >= 0 {
		return nil, "", tarn.Errorf(tarn.EEXISTS, "user %q already exists", name).About(tarn.ResourceUser)
	}
	token, err := newToken()
	if err != nil {
		return nil, "", err
	}
	now := time.Now().UTC().Truncate(time.Second)
	u := storedUser{User: tarn.User{Name: name, Admin: req.Admin, Created: now}, TokenHash: hashToken(token)}
	if req.ValidFor > 0 {
		u.Expires = now.Add(req.ValidFor)
	}
	f.Users = append(f.Users, u)
	if err := s.save(f); err != nil {
		return nil, "", err
	}
	return &u.User, token, nil
}

// ListUsers lists users by name.
func (s *UserStore) ListUsers(ctx context.Context) ([]tarn.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return nil, err
	}
	out := []tarn.User{}
	for _, u := range f.Users {
		out = append(out, u.User)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Authenticate returns the user a token belongs to (EUNAUTHORIZED when
// none does or it has expired).
func (s *UserStore) Authenticate(token string) (*tarn.User, error) {
	s.mu.Lock()
	f, err := s.load()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	h := hashToken(token)
	for _, u := range f.Users {
		if subtle.ConstantTimeCompare([]byte(u.TokenHash), []byte(h)) == 1 {
			if !u.Expires.IsZero() && time.Now().After(u.Expires) {
				return nil, tarn.Errorf(tarn.EUNAUTHORIZED, "the token of user %q expired on %s: ask an admin for a new one (`tarn user add`)", u.Name, u.Expires.Format(time.RFC3339))
			}
			user := u.User
			return &user, nil
		}
	}
	return nil, tarn.Errorf(tarn.EUNAUTHORIZED, "invalid token: check `tarn config get token` or TARN_TOKEN, or ask an admin for one (`tarn user add NAME`)")
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// RemoveUser deletes a user; its token stops working at once (ENOTFOUND;
// EINVALID for the last admin, without whom no one could add users
// through a server).
func (s *UserStore) RemoveUser(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return err
	}
	i := f.index(name)
	if i < 0 {
		return userNotFound(name)
	}
	if f.Users[i].Admin && f.admins() == 1 {
		return tarn.Errorf(tarn.EINVALID, "user %q is the last admin: add another admin (`tarn user add NAME --admin`) before removing it", name)
	}
	f.Users = append(f.Users[:i], f.Users[i+1:]...)
	return s.save(f)
}

// ResetToken gives a user a fresh token, shown only once; the old one
// stops working at once (ENOTFOUND). The expiry, if any, is kept.
func (s *UserStore) ResetToken(ctx context.Context, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return "", err
	}
	i := f.index(name)
	if i < 0 {
		return "", userNotFound(name)
	}
	token, err := newToken()
	if err != nil {
		return "", err
	}
	f.Users[i].TokenHash = hashToken(token)
	return token, s.save(f)
}

func (f *userFile) index(name string) int {
	for i, u := range f.Users {
		if u.Name == name {
			return i
		}
	}
	return -1
}

func (f *userFile) admins() int {
	n := 0
	for _, u := range f.Users {
		if u.Admin {
			n++
		}
	}
	return n
}

func userNotFound(name string) error {
	return tarn.Errorf(tarn.ENOTFOUND, "user %s not found (`tarn user ls` lists them)", tarn.Quote(name)).About(tarn.ResourceUser)
}

// newToken returns a fresh token: 32 random bytes.
func newToken() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return "tarn_" + base64.RawURLEncoding.EncodeToString(raw), nil
}
