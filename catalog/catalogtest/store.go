package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/catalog"
)

// runStore runs the cases that use a catalog.Store directly: the contract
// of each method, the atomicity of Apply and compare-and-swap under
// contention.
func runStore(t *testing.T, newStore NewStore) {
	t.Run("Objects", func(t *testing.T) { testStoreObjects(t, newStore) })
	t.Run("Commits", func(t *testing.T) { testStoreCommits(t, newStore) })
	t.Run("FindCommits", func(t *testing.T) { testStoreFindCommits(t, newStore) })
	t.Run("RefUpdates", func(t *testing.T) { testStoreRefUpdates(t, newStore) })
	t.Run("ListRefs", func(t *testing.T) { testStoreListRefs(t, newStore) })
	t.Run("ApplyAtomic", func(t *testing.T) { testStoreApplyAtomic(t, newStore) })
	t.Run("ConcurrentCAS", func(t *testing.T) { testStoreConcurrentCAS(t, newStore) })
	t.Run("Canceled", func(t *testing.T) { testStoreCanceled(t, newStore) })
	t.Run("Closed", func(t *testing.T) { testStoreClosed(t, newStore) })
}

func openStore(t *testing.T, newStore NewStore) catalog.Store {
	t.Helper()
	s := newStore(t)
	t.Cleanup(func() { s.Close() })
	return s
}

func apply(t *testing.T, s catalog.Store, b *catalog.Batch) {
	t.Helper()
	if err := s.Apply(context.Background(), b); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

// fakeHash is a 64-digit hex string starting with prefix: stores do not
// check that a hash is the hash of anything, which lets tests choose
// prefixes.
func fakeHash(prefix string, n int) string {
	s := fmt.Sprintf("%s%08x", prefix, n)
	return s + strings.Repeat("0", 64-len(s))
}

func fakeCommit(hash string) *tarn.Commit {
	return &tarn.Commit{Hash: hash, Parents: []string{}, Author: "test", Message: "m",
		Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Tree: fakeHash("ee", 0), Generation: 1}
}

func wantErrIs(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: want an error wrapping %q, got %v", what, target, err)
	}
}

func testStoreObjects(t *testing.T, newStore NewStore) {
	s := openStore(t, newStore)
	ctx := context.Background()
	_, err := s.GetObject(ctx, fakeHash("aa", 1))
	wantErrIs(t, err, catalog.ErrNotFound, "missing object")

	data := []byte("first")
	apply(t, s, &catalog.Batch{Objects: map[string][]byte{fakeHash("aa", 1): data}})
	data[0] = 'X' // the caller's buffer is not the store's
	// An object is immutable: writing the same hash again keeps the first.
	apply(t, s, &catalog.Batch{Objects: map[string][]byte{fakeHash("aa", 1): []byte("second")}})
	got, err := s.GetObject(ctx, fakeHash("aa", 1))
	if err != nil || string(got) != "first" {
		t.Fatalf("object = %q, %v; want first", got, err)
	}
	got[0] = 'Y'
	if again, _ := s.GetObject(ctx, fakeHash("aa", 1)); string(again) != "first" {
		t.Fatalf("changing a returned object changed the store: %q", again)
	}
}

func testStoreCommits(t *testing.T, newStore NewStore) {
	s := openStore(t, newStore)
	ctx := context.Background()
	_, err := s.GetCommit(ctx, fakeHash("c0", 1))
	wantErrIs(t, err, catalog.ErrNotFound, "missing commit")

	cases := []struct {
		name string
		in   *tarn.Commit
	}{
		{"Root", fakeCommit(fakeHash("c1", 1))},
		{"Full", &tarn.Commit{Hash: fakeHash("c2", 1), Parents: []string{fakeHash("c1", 1), fakeHash("c3", 1)},
			Author: "ann", Message: "merge dev\n\nwith a body", Time: time.Date(2026, 5, 19, 6, 11, 33, 123456789, time.FixedZone("CET", 3600)),
			Properties: map[string]string{"tarn.run_id": "r1", "k": ""}, Tree: fakeHash("ee", 1), Generation: 7}},
		{"EmptyProperties", &tarn.Commit{Hash: fakeHash("c3", 1), Parents: []string{}, Time: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
			Properties: map[string]string{}, Tree: fakeHash("ee", 2), Generation: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := *tc.in
			in.Parents, in.Properties = slices.Clone(tc.in.Parents), maps.Clone(tc.in.Properties)
			apply(t, s, &catalog.Batch{Commits: []*tarn.Commit{&in}})
			// The caller's slices and maps are not the store's.
			for i := range in.Parents {
				in.Parents[i] = "changed after Apply"
			}
			for k := range in.Properties {
				in.Properties[k] = "changed after Apply"
			}
			got, err := s.GetCommit(ctx, tc.in.Hash)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tc.in.Time) {
				t.Fatalf("time = %v, want %v", got.Time, tc.in.Time)
			}
			want := *tc.in
			got.Time, want.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("commit = %+v, want %+v", *got, want)
			}
		})
	}
}

func testStoreFindCommits(t *testing.T, newStore NewStore) {
	s := openStore(t, newStore)
	ctx := context.Background()
	hashes := []string{fakeHash("abcd", 2), fakeHash("abcd", 1), fakeHash("abce", 1), fakeHash("f", 1)}
	var commits []*tarn.Commit
	for _, h := range hashes {
		commits = append(commits, fakeCommit(h))
	}
	apply(t, s, &catalog.Batch{Commits: commits})
	cases := []struct {
		prefix string
		limit  int
		want   []string
	}{
		{"abcd", 10, []string{fakeHash("abcd", 1), fakeHash("abcd", 2)}},
		{"abcd", 1, []string{fakeHash("abcd", 1)}},
		{"abc", 2, []string{fakeHash("abcd", 1), fakeHash("abcd", 2)}},
		{"abc", 3, []string{fakeHash("abcd", 1), fakeHash("abcd", 2), fakeHash("abce", 1)}},
		{fakeHash("abce", 1), 2, []string{fakeHash("abce", 1)}},
		{"", 10, []string{fakeHash("abcd", 1), fakeHash("abcd", 2), fakeHash("abce", 1), fakeHash("f", 1)}},
		{"abcf", 10, nil},
		{"0", 10, nil},
		{"ff", 10, nil},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%.8s/%d", tc.prefix, tc.limit), func(t *testing.T) {
			got, err := s.FindCommits(ctx, tc.prefix, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !slices.Equal(got, tc.want)) {
				t.Fatalf("FindCommits(%q, %d) = %v, want %v", tc.prefix, tc.limit, got, tc.want)
			}
		})
	}
}

// testStoreRefUpdates runs one compare-and-swap after another on a store
// and checks each outcome and the ref it leaves.
func testStoreRefUpdates(t *testing.T, newStore NewStore) {
	s := openStore(t, newStore)
	ctx := context.Background()
	c1, c2, c3 := fakeHash("01", 1), fakeHash("02", 1), fakeHash("03", 1)
	steps := []struct {
		name    string
		update  catalog.RefUpdate
		moved   bool      // want ErrRefMoved
		want    *tarn.Ref // the ref afterwards; nil: absent
		wantErr bool      // want some other error
	}{
		{name: "DeleteAbsent", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindBranch, Old: c1}, moved: true},
		{name: "UpdateAbsent", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindBranch, Old: c1, New: c2}, moved: true},
		{name: "Create", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindBranch, New: c1},
			want: &tarn.Ref{Name: "dev", Kind: tarn.KindBranch, Commit: c1}},
		{name: "CreateExisting", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindBranch, New: c2}, moved: true,
			want: &tarn.Ref{Name: "dev", Kind: tarn.KindBranch, Commit: c1}},
		{name: "CreateExistingOtherKind", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindTag, New: c2}, moved: true,
			want: &tarn.Ref{Name: "dev", Kind: tarn.KindBranch, Commit: c1}},
		{name: "UpdateWrongOld", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindBranch, Old: c2, New: c3}, moved: true,
			want: &tarn.Ref{Name: "dev", Kind: tarn.KindBranch, Commit: c1}},
		{name: "Update", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindBranch, Old: c1, New: c2},
			want: &tarn.Ref{Name: "dev", Kind: tarn.KindBranch, Commit: c2}},
		{name: "UpdateKeepsKind", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindTag, Old: c2, New: c3},
			want: &tarn.Ref{Name: "dev", Kind: tarn.KindBranch, Commit: c3}},
		{name: "NeitherOldNorNew", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindBranch}, wantErr: true,
			want: &tarn.Ref{Name: "dev", Kind: tarn.KindBranch, Commit: c3}},
		{name: "DeleteWrongOld", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindBranch, Old: c1}, moved: true,
			want: &tarn.Ref{Name: "dev", Kind: tarn.KindBranch, Commit: c3}},
		{name: "Delete", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindBranch, Old: c3}},
		{name: "CreateTag", update: catalog.RefUpdate{Name: "dev", Kind: tarn.KindTag, New: c1},
			want: &tarn.Ref{Name: "dev", Kind: tarn.KindTag, Commit: c1}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := s.Apply(ctx, &catalog.Batch{Refs: []catalog.RefUpdate{st.update}})
			switch {
			case st.moved:
				wantErrIs(t, err, catalog.ErrRefMoved, "apply")
			case st.wantErr:
				if err == nil || errors.Is(err, catalog.ErrRefMoved) {
					t.Fatalf("apply: want an error other than %q, got %v", catalog.ErrRefMoved, err)
				}
			case err != nil:
				t.Fatalf("apply: %v", err)
			}
			got, err := s.GetRef(ctx, "dev")
			if st.want == nil {
				wantErrIs(t, err, catalog.ErrNotFound, "ref afterwards")
				return
			}
			if err != nil || *got != *st.want {
				t.Fatalf("ref afterwards = %+v, %v; want %+v", got, err, *st.want)
			}
		})
	}
}

func testStoreListRefs(t *testing.T, newStore NewStore) {
	s := openStore(t, newStore)
	ctx := context.Background()
	if refs, err := s.ListRefs(ctx, ""); err != nil || len(refs) != 0 {
		t.Fatalf("refs of an empty store = %v, %v", refs, err)
	}
	var updates []catalog.RefUpdate
	for i, name := range []string{"v2", "main", "dev/b", "dev", "v1"} {
		kind := tarn.KindBranch
		if strings.HasPrefix(name, "v") {
			kind = tarn.KindTag
		}
		updates = append(updates, catalog.RefUpdate{Name: name, Kind: kind, New: fakeHash("01", i)})
	}
	apply(t, s, &catalog.Batch{Refs: updates})
	cases := []struct {
		kind tarn.RefKind
		want string
	}{
		{"", "dev dev/b main v1 v2"},
		{tarn.KindBranch, "dev dev/b main"},
		{tarn.KindTag, "v1 v2"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("kind=%q", tc.kind), func(t *testing.T) {
			refs, err := s.ListRefs(ctx, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range refs {
				names = append(names, r.Name)
				if tc.kind != "" && r.Kind != tc.kind {
					t.Errorf("%s is a %s", r.Name, r.Kind)
				}
			}
			if got := strings.Join(names, " "); got != tc.want {
				t.Fatalf("refs = %s, want %s", got, tc.want)
			}
		})
	}
}

// testStoreApplyAtomic checks that a batch whose ref update fails stores
// none of its objects, commits and other ref updates, and that updates of
// one batch see each other in order.
func testStoreApplyAtomic(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	c1, c2 := fakeHash("01", 1), fakeHash("02", 1)
	cases := []struct {
		name string
		refs []catalog.RefUpdate
	}{
		{"LastFails", []catalog.RefUpdate{
			{Name: "new", Kind: tarn.KindBranch, New: c2},
			{Name: "main", Kind: tarn.KindBranch, Old: c2, New: c2}}},
		{"FirstFails", []catalog.RefUpdate{
			{Name: "main", Kind: tarn.KindBranch, New: c2},
			{Name: "new", Kind: tarn.KindBranch, New: c2}}},
		{"RenameOntoExisting", []catalog.RefUpdate{
			{Name: "new", Kind: tarn.KindBranch, New: c1},
			{Name: "main", Kind: tarn.KindBranch, Old: c1},
			{Name: "new", Kind: tarn.KindBranch, New: c1}}},
		{"SeesItsOwnDelete", []catalog.RefUpdate{
			{Name: "main", Kind: tarn.KindBranch, Old: c1},
			{Name: "main", Kind: tarn.KindBranch, Old: c1, New: c2}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, newStore)
			apply(t, s, &catalog.Batch{Refs: []catalog.RefUpdate{{Name: "main", Kind: tarn.KindBranch, New: c1}}})
			obj := fakeHash("0b", 1)
			err := s.Apply(ctx, &catalog.Batch{Objects: map[string][]byte{obj: []byte("tree")},
				Commits: []*tarn.Commit{fakeCommit(c2)}, Refs: tc.refs})
			wantErrIs(t, err, catalog.ErrRefMoved, "apply")
			_, err = s.GetObject(ctx, obj)
			wantErrIs(t, err, catalog.ErrNotFound, "object of the failed batch")
			_, err = s.GetCommit(ctx, c2)
			wantErrIs(t, err, catalog.ErrNotFound, "commit of the failed batch")
			if found, err := s.FindCommits(ctx, c2[:8], 2); err != nil || len(found) != 0 {
				t.Fatalf("prefix of the failed batch's commit finds %v, %v", found, err)
			}
			_, err = s.GetRef(ctx, "new")
			wantErrIs(t, err, catalog.ErrNotFound, "ref created by the failed batch")
			if r, err := s.GetRef(ctx, "main"); err != nil || r.Commit != c1 {
				t.Fatalf("main after the failed batch = %+v, %v", r, err)
			}
		})
	}
	t.Run("InOrder", func(t *testing.T) {
		s := openStore(t, newStore)
		apply(t, s, &catalog.Batch{Refs: []catalog.RefUpdate{
			{Name: "x", Kind: tarn.KindBranch, New: c1},
			{Name: "x", Kind: tarn.KindBranch, Old: c1, New: c2},
			{Name: "y", Kind: tarn.KindBranch, New: c2},
			{Name: "y", Kind: tarn.KindBranch, Old: c2},
		}})
		if r, err := s.GetRef(ctx, "x"); err != nil || r.Commit != c2 {
			t.Fatalf("x = %+v, %v; want it at %s", r, err, c2)
		}
		_, err := s.GetRef(ctx, "y")
		wantErrIs(t, err, catalog.ErrNotFound, "y, created and deleted in one batch")
	})
}

// testStoreConcurrentCAS has goroutines race on one ref: from the same
// expected commit exactly one wins, and counting by compare-and-swap loses
// no increment.
func testStoreConcurrentCAS(t *testing.T, newStore NewStore) {
	s := openStore(t, newStore)
	ctx := context.Background()
	const goroutines, increments = 8, 25
	counter := func(n int) string { return fakeHash("c", n) }
	apply(t, s, &catalog.Batch{Refs: []catalog.RefUpdate{{Name: "counter", Kind: tarn.KindBranch, New: counter(0)}}})

	wins, moved := race(t, goroutines, func(g int) error {
		return s.Apply(ctx, &catalog.Batch{Refs: []catalog.RefUpdate{{Name: "counter", Kind: tarn.KindBranch,
			Old: counter(0), New: fakeHash("d", g)}}})
	}, func(err error) bool { return errors.Is(err, catalog.ErrRefMoved) })
	if wins != 1 || moved != goroutines-1 {
		t.Fatalf("%d goroutines swapping from one commit: %d won, %d saw the ref move", goroutines, wins, moved)
	}
	r, err := s.GetRef(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	apply(t, s, &catalog.Batch{Refs: []catalog.RefUpdate{{Name: "counter", Kind: tarn.KindBranch, Old: r.Commit, New: counter(0)}}})

	values := map[string]int{}
	for n := 0; n <= goroutines*increments; n++ {
		values[counter(n)] = n
	}
	finished, _ := race(t, goroutines, func(int) error {
		for done := 0; done < increments; {
			r, err := s.GetRef(ctx, "counter")
			if err != nil {
				return err
			}
			err = s.Apply(ctx, &catalog.Batch{Refs: []catalog.RefUpdate{{Name: "counter", Kind: tarn.KindBranch,
				Old: r.Commit, New: counter(values[r.Commit] + 1)}}})
			switch {
			case err == nil:
				done++
			case !errors.Is(err, catalog.ErrRefMoved):
				return err
			}
		}
		return nil
	}, func(error) bool { return false })
	if finished != goroutines {
		t.FailNow() // race reported the errors
	}
	r, err = s.GetRef(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if got := values[r.Commit]; got != goroutines*increments {
		t.Fatalf("%d goroutines each counted %d times by compare-and-swap: the counter is at %d", goroutines, increments, got)
	}
}

// storeCalls calls every method of a store once; each returns its error.
func storeCalls(s catalog.Store) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"GetObject":   func(ctx context.Context) error { _, err := s.GetObject(ctx, fakeHash("0b", 1)); return err },
		"GetCommit":   func(ctx context.Context) error { _, err := s.GetCommit(ctx, fakeHash("01", 1)); return err },
		"FindCommits": func(ctx context.Context) error { _, err := s.FindCommits(ctx, "01", 2); return err },
		"GetRef":      func(ctx context.Context) error { _, err := s.GetRef(ctx, "main"); return err },
		"ListRefs":    func(ctx context.Context) error { _, err := s.ListRefs(ctx, ""); return err },
		"Apply": func(ctx context.Context) error {
			return s.Apply(ctx, &catalog.Batch{Objects: map[string][]byte{fakeHash("0b", 2): []byte("x")},
				Refs: []catalog.RefUpdate{{Name: "late", Kind: tarn.KindBranch, New: fakeHash("01", 1)}}})
		},
	}
}

// testStoreCanceled checks that a canceled context fails every call and
// that Apply then stores nothing.
func testStoreCanceled(t *testing.T, newStore NewStore) {
	s := openStore(t, newStore)
	apply(t, s, &catalog.Batch{Objects: map[string][]byte{fakeHash("0b", 1): []byte("x")},
		Commits: []*tarn.Commit{fakeCommit(fakeHash("01", 1))},
		Refs:    []catalog.RefUpdate{{Name: "main", Kind: tarn.KindBranch, New: fakeHash("01", 1)}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range storeCalls(s) {
		t.Run(name, func(t *testing.T) {
			if err := call(ctx); err == nil {
				t.Fatal("no error with a canceled context")
			}
		})
	}
	if _, err := s.GetRef(context.Background(), "late"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Apply with a canceled context stored its ref: %v", err)
	}
}

// testStoreClosed checks that every call on a closed store fails.
func testStoreClosed(t *testing.T, newStore NewStore) {
	s := newStore(t)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for name, call := range storeCalls(s) {
		t.Run(name, func(t *testing.T) {
			if err := call(context.Background()); err == nil {
				t.Fatal("no error from a closed store")
			}
		})
	}
}

// testAmbiguousPrefix resolves hash prefixes shared by two commits through
// the catalog.
func testAmbiguousPrefix(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t)
	twins := []string{fakeHash("abcdef01", 1), fakeHash("abcdef01", 2), fakeHash("abcdef02", 1)}
	var commits []*tarn.Commit
	for _, h := range twins {
		commits = append(commits, fakeCommit(h))
	}
	if err := s.Apply(ctx, &catalog.Batch{Commits: commits}); err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Open(ctx, s)
	if err != nil {
		t.Fatalf("open catalog: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	cases := []struct {
		ref  string
		want string // a hash, or the error code
	}{
		{"abcdef01", tarn.EINVALID},
		{"abcdef0", tarn.ENOTFOUND}, // shorter than tarn.MinHashPrefix: not taken for a hash
		{twins[0][:16], twins[0]},
		{twins[1][:16], twins[1]},
		{"abcdef02", twins[2]},
		{"abcdef03", tarn.ENOTFOUND},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := c.Resolve(ctx, tc.ref)
			if len(tc.want) < 64 {
				wantCode(t, err, tc.want)
				if tc.want == tarn.EINVALID && !strings.Contains(err.Error(), "ambiguous") {
					t.Fatalf("error does not say the prefix is ambiguous: %v", err)
				}
				return
			}
			if err != nil || got.Hash != tc.want {
				t.Fatalf("resolve %s = %v, %v; want %s", tc.ref, got, err, tc.want)
			}
		})
	}
}
