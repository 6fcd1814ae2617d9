// Package userstest is the conformance suite every users.Store runs:
// the Store's own contract (round trips, lookups by token hash, taken
// names, many writers at once) and users.Service over it (tokens,
// expiry, names).
package userstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/users"
)

// NewStore returns a fresh, empty store for one test.
type NewStore func(t *testing.T) users.Store

// Run runs the suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore) })
	t.Run("Taken", func(t *testing.T) { testTaken(t, newStore) })
	t.Run("ConcurrentAdds", func(t *testing.T) { testConcurrentAdds(t, newStore) })
	t.Run("Canceled", func(t *testing.T) { testCanceled(t, newStore) })
	t.Run("Service", func(t *testing.T) { testService(t, newStore) })
	t.Run("RemoveAndReset", func(t *testing.T) { testRemoveAndReset(t, newStore) })
	t.Run("ConcurrentAdminRemovals", func(t *testing.T) { testConcurrentAdminRemovals(t, newStore) })
}

func testRemoveAndReset(t *testing.T, newStore NewStore) {
	svc := &users.Service{Store: open(t, newStore)}
	ctx := context.Background()
	_, rootToken, _ := svc.AddUser(ctx, tarn.NewUser{Name: "root", Admin: true})
	_, bobToken, _ := svc.AddUser(ctx, tarn.NewUser{Name: "bob", ValidFor: time.Hour})
	fresh, err := svc.ResetToken(ctx, "bob")
	if err != nil || fresh == bobToken || !strings.HasPrefix(fresh, "tarn_") {
		t.Fatalf("ResetToken = %q, %v", fresh, err)
	}
	if _, err := svc.Authenticate(ctx, bobToken); tarn.ErrorCode(err) != tarn.EUNAUTHORIZED {
		t.Fatalf("the old token still works: %v", err)
	}
	if u, err := svc.Authenticate(ctx, fresh); err != nil || u.Name != "bob" || u.Expires.IsZero() {
		t.Fatalf("the new token: %+v, %v (the expiry is kept)", u, err)
	}
	if err := svc.RemoveUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, fresh); tarn.ErrorCode(err) != tarn.EUNAUTHORIZED {
		t.Fatalf("a removed user's token still works: %v", err)
	}
	if err := svc.RemoveUser(ctx, "bob"); tarn.ErrorCode(err) != tarn.ENOTFOUND {
		t.Fatalf("remove again: %v", err)
	}
	if _, err := svc.ResetToken(ctx, "nobody"); tarn.ErrorCode(err) != tarn.ENOTFOUND {
		t.Fatalf("a new token for an unknown user: %v", err)
	}
	if err := svc.RemoveUser(ctx, "root"); tarn.ErrorCode(err) != tarn.EINVALID || !strings.Contains(err.Error(), "last admin") {
		t.Fatalf("removing the last admin: %v", err)
	}
	if _, err := svc.Authenticate(ctx, rootToken); err != nil {
		t.Fatalf("a refused removal removed: %v", err)
	}
	svc.AddUser(ctx, tarn.NewUser{Name: "ann", Admin: true})
	if err := svc.RemoveUser(ctx, "root"); err != nil {
		t.Fatalf("an admin who is not the last: %v", err)
	}
	if list, _ := svc.ListUsers(ctx); len(list) != 1 || list[0].Name != "ann" {
		t.Fatalf("users left: %+v", list)
	}
}

// testConcurrentAdminRemovals removes both of two admins at once, many
// times: exactly one removal may succeed each time, so an admin is left.
func testConcurrentAdminRemovals(t *testing.T, newStore NewStore) {
	s := open(t, newStore)
	ctx := context.Background()
	for round := 0; round < 10; round++ {
		a, b := fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)
		for _, n := range []string{a, b} {
			if err := s.Add(ctx, record(n, true, time.Time{})); err != nil {
				t.Fatal(err)
			}
		}
		// Only this round's admins: remove the earlier round's survivor
		// once the new pair exists.
		if round > 0 {
			list, _ := s.List(ctx)
			for _, r := range list {
				if r.Name != a && r.Name != b {
					if err := s.Remove(ctx, r.Name); err != nil {
						t.Fatalf("remove %s: %v", r.Name, err)
					}
				}
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, n := range []string{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = s.Remove(ctx, n) }()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case tarn.ErrorCode(err) != tarn.EINVALID:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		list, _ := s.List(ctx)
		if ok != 1 || len(list) != 1 || !list[0].Admin {
			t.Fatalf("round %d: %d removals succeeded, left %+v", round, ok, list)
		}
	}
}

func open(t *testing.T, newStore NewStore) users.Store {
	t.Helper()
	s := newStore(t)
	t.Cleanup(func() { s.Close() })
	return s
}

func record(name string, admin bool, expires time.Time) users.Record {
	return users.Record{User: tarn.User{Name: name, Admin: admin, Created: time.Date(2026, 5, 19, 6, 11, 33, 0, time.UTC), Expires: expires},
		TokenHash: users.HashToken("token of " + name)}
}

func same(a, b users.Record) bool {
	return a.Name == b.Name && a.Admin == b.Admin && a.Created.Equal(b.Created) && a.Expires.Equal(b.Expires) && a.TokenHash == b.TokenHash
}

func testRoundTrip(t *testing.T, newStore NewStore) {
	s := open(t, newStore)
	ctx := context.Background()
	if got, err := s.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("users of an empty store = %v, %v", got, err)
	}
	want := []users.Record{
		record("carol", false, time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)),
		record("ann", true, time.Time{}),
		record("bob", false, time.Time{}),
	}
	for _, r := range want {
		if err := s.Add(ctx, r); err != nil {
			t.Fatalf("add %s: %v", r.Name, err)
		}
	}
	got, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.Name)
	}
	if strings.Join(names, " ") != "ann bob carol" {
		t.Fatalf("List = %v, want ann bob carol (by name)", names)
	}
	for _, r := range want {
		t.Run(r.Name, func(t *testing.T) {
			found, err := s.ByTokenHash(ctx, r.TokenHash)
			if err != nil || !same(*found, r) {
				t.Fatalf("ByTokenHash = %+v, %v; want %+v", found, err, r)
			}
			for _, x := range got {
				if x.Name == r.Name && !same(x, r) {
					t.Fatalf("List has %+v, want %+v", x, r)
				}
			}
		})
	}
	for _, h := range []string{users.HashToken("nobody's token"), "", strings.ToUpper(want[0].TokenHash)} {
		if _, err := s.ByTokenHash(ctx, h); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("ByTokenHash(%q) = %v, want ErrNotFound", h, err)
		}
	}
}

func testTaken(t *testing.T, newStore NewStore) {
	s := open(t, newStore)
	ctx := context.Background()
	first := record("ann", true, time.Time{})
	if err := s.Add(ctx, first); err != nil {
		t.Fatal(err)
	}
	again := record("ann", false, time.Time{})
	again.TokenHash = users.HashToken("another token")
	if err := s.Add(ctx, again); tarn.ErrorCode(err) != tarn.EEXISTS {
		t.Fatalf("adding a taken name: %v, want code %s", err, tarn.EEXISTS)
	}
	if got, _ := s.List(ctx); len(got) != 1 || !same(got[0], first) {
		t.Fatalf("after a refused add: %+v", got)
	}
	if _, err := s.ByTokenHash(ctx, again.TokenHash); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("the refused user's token finds %v", err)
	}
}

// testConcurrentAdds has writers race: distinct names all land, and of
// writers adding one name exactly one wins.
func testConcurrentAdds(t *testing.T, newStore NewStore) {
	s := open(t, newStore)
	ctx := context.Background()
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, 2*writers)
	for i := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs[i] = s.Add(ctx, record(fmt.Sprintf("user%d", i), false, time.Time{}))
		}()
		go func() {
			defer wg.Done()
			r := record("same", false, time.Time{})
			r.TokenHash = users.HashToken(fmt.Sprintf("token %d", i))
			errs[writers+i] = s.Add(ctx, r)
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case i < writers && err != nil:
			t.Errorf("add user%d: %v", i, err)
		case i >= writers && err == nil:
			won++
		case i >= writers && tarn.ErrorCode(err) != tarn.EEXISTS:
			t.Errorf("add same #%d: %v", i-writers, err)
		}
	}
	got, err := s.List(ctx)
	if err != nil || len(got) != writers+1 || won != 1 {
		t.Fatalf("%d writers of distinct names and %d of one name: %d users stored (%v), %d won the name", writers, writers, len(got), err, won)
	}
}

func testCanceled(t *testing.T, newStore NewStore) {
	s := open(t, newStore)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Add(ctx, record("late", false, time.Time{})); err == nil {
		t.Fatal("Add with a canceled context succeeded")
	}
	if _, err := s.List(ctx); err == nil {
		t.Fatal("List with a canceled context succeeded")
	}
	if got, _ := s.List(context.Background()); len(got) != 0 {
		t.Fatalf("Add with a canceled context stored %v", got)
	}
}

func testService(t *testing.T, newStore NewStore) {
	svc := &users.Service{Store: open(t, newStore)}
	ctx := context.Background()
	u, token, err := svc.AddUser(ctx, tarn.NewUser{Name: "ann", Admin: true})
	if err != nil || !u.Admin || !strings.HasPrefix(token, "tarn_") || len(token) < 40 {
		t.Fatalf("AddUser = %+v, %q, %v", u, token, err)
	}
	if got, err := svc.Authenticate(ctx, token); err != nil || got.Name != "ann" || !got.Admin {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	if _, _, err := svc.AddUser(ctx, tarn.NewUser{Name: "ann"}); tarn.ErrorCode(err) != tarn.EEXISTS {
		t.Fatalf("duplicate: %v", err)
	}
	for _, bad := range []string{"", "Ann", "a/b", "../x", strings.Repeat("a", 40)} {
		if _, _, err := svc.AddUser(ctx, tarn.NewUser{Name: bad}); tarn.ErrorCode(err) != tarn.EINVALID {
			t.Fatalf("name %q: %v", bad, err)
		}
	}
	if _, _, err := svc.AddUser(ctx, tarn.NewUser{Name: "neg", ValidFor: -time.Hour}); tarn.ErrorCode(err) != tarn.EINVALID {
		t.Fatalf("negative validity: %v", err)
	}
	_, short, err := svc.AddUser(ctx, tarn.NewUser{Name: "tmp", ValidFor: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if _, err := svc.Authenticate(ctx, short); tarn.ErrorCode(err) != tarn.EUNAUTHORIZED || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	_, long, _ := svc.AddUser(ctx, tarn.NewUser{Name: "month", ValidFor: 720 * time.Hour})
	if got, err := svc.Authenticate(ctx, long); err != nil || got.Expires.IsZero() {
		t.Fatalf("a token valid for 720h: %+v, %v", got, err)
	}
	if _, err := svc.Authenticate(ctx, token+"x"); tarn.ErrorCode(err) != tarn.EUNAUTHORIZED {
		t.Fatalf("wrong token: %v", err)
	}
	list, err := svc.ListUsers(ctx)
	if err != nil || len(list) != 3 || list[0].Name != "ann" || list[1].Name != "month" || list[2].Name != "tmp" {
		t.Fatalf("ListUsers = %+v, %v", list, err)
	}
}
