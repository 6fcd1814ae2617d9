package icerest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/catalogtest"
	"github.com/apache/iceberg-go/catalog/rest"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/table"
	"github.com/tarnhq/tarn/table/icerest"
)

// testCaller follows tarn serve's rules: admins write anywhere, a user
// writes USER.* branches only.
type testCaller struct{ user *tarn.User }

func (c testCaller) User() *tarn.User { return c.user }
func (c testCaller) CanWrite(branch string) error {
	if c.user.Admin || strings.HasPrefix(branch, c.user.Name+".") {
		return nil
	}
	return tarn.Errorf(tarn.EFORBIDDEN, "user %q may write only to branches named %s.*", c.user.Name, c.user.Name)
}
func (c testCaller) Redact(msg string) string {
	return strings.ReplaceAll(msg, c.home(), "<server home>")
}
func (c testCaller) home() string { return "/nonexistent-home" }

// tokens are the test server's users.
var tokens = map[string]*tarn.User{
	"admin-token": {Name: "admin", Admin: true},
	"alice-token": {Name: "alice"},
	"bob-token":   {Name: "bob"},
}

type fixture struct {
	t      *testing.T
	url    string // the catalog URI: .../iceberg
	tables *table.Service
}

// newFixture serves a fresh lakehouse's Iceberg REST catalog at /iceberg,
// authenticating bearer tokens like tarn serve; alice.dev branches off
// main. opts, if given, are the handler's options.
func newFixture(t *testing.T, opts ...icerest.Options) *fixture {
	t.Helper()
	lh, err := local.Open(context.Background(), local.Config{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lh.Close() })
	svc := lh.Tables()
	if _, err := svc.Catalog().CreateRef(context.Background(), tarn.KindBranch, "alice.dev", tarn.DefaultBranch); err != nil {
		t.Fatal(err)
	}
	h := icerest.New(svc, append(opts, icerest.Options{})[0])
	srv := httptest.NewServer(http.StripPrefix("/iceberg", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if u := tokens[token]; u != nil {
			r = r.WithContext(tarn.WithCaller(r.Context(), testCaller{user: u}))
		}
		h.ServeHTTP(w, r)
	})))
	t.Cleanup(srv.Close)
	return &fixture{t: t, url: srv.URL + "/iceberg", tables: svc}
}

// client returns iceberg-go's REST catalog client on a warehouse (ref).
func (f *fixture) client(warehouse, token string) *rest.Catalog {
	f.t.Helper()
	cat, err := rest.NewCatalog(context.Background(), "tarn", f.url, rest.WithWarehouseLocation(warehouse), rest.WithOAuthToken(token))
	if err != nil {
		f.t.Fatalf("connect to %s: %v", warehouse, err)
	}
	f.t.Cleanup(func() { cat.Close() })
	return cat
}

// conformance runs iceberg-go's conformance suite through its REST
// client on main as an admin and on alice's branch as alice; connect
// returns a client of a fresh lakehouse.
func conformance(t *testing.T, connect func(t *testing.T, warehouse, user string) icecat.Catalog) {
	for _, tc := range []struct{ name, warehouse, user string }{
		{"main", "main", "admin"},
		{"branch", "alice.dev", "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			catalogtest.RunCatalogTests(t, catalogtest.Config{
				SupportsNamespaceProperties: true,
				NewCatalog:                  func(t *testing.T) icecat.Catalog { return connect(t, tc.warehouse, tc.user) },
			})
		})
	}
}

// TestHandler_IcebergConformance runs iceberg-go's conformance suite
// against the handler (with bearer tokens).
func TestHandler_IcebergConformance(t *testing.T) {
	conformance(t, func(t *testing.T, warehouse, user string) icecat.Catalog {
		return newFixture(t).client(warehouse, user+"-token")
	})
}

var testSchema = iceberg.NewSchema(0,
	iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
	iceberg.NestedField{ID: 2, Name: "name", Type: iceberg.PrimitiveTypes.String},
)

// rows builds an Arrow table of ids [from, to) for testSchema.
func rows(t *testing.T, from, to int64) arrow.Table {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := from; i < to; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		b.Field(1).(*array.StringBuilder).Append("n")
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
}

// TestHandler_WritesAreTarnCommits: engine writes on a branch land as
// one tarn commit each, by the caller, and main does not see them.
func TestHandler_WritesAreTarnCommits(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	alice := f.client("alice.dev", "alice-token")
	ident := icetable.Identifier{"sales", "orders"}
	if err := alice.CreateNamespace(ctx, icetable.Identifier{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	tbl, err := alice.CreateTable(ctx, ident, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if tbl, err = tbl.AppendTable(ctx, rows(t, 0, 10), 100, nil); err != nil {
		t.Fatal(err)
	}
	if _, err = tbl.AppendTable(ctx, rows(t, 10, 15), 100, nil); err != nil {
		t.Fatal(err)
	}
	log, err := f.tables.Catalog().Log(ctx, "alice.dev", 10)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, c := range log {
		if c.Author == "alice" {
			msgs = append(msgs, c.Message)
		}
	}
	if len(msgs) != 4 || !strings.HasPrefix(msgs[0], "iceberg: append sales.orders (snapshot ") ||
		msgs[2] != "iceberg: create table sales.orders" || msgs[3] != "iceberg: create namespace sales" {
		t.Fatalf("alice's commits on alice.dev: %q", msgs)
	}
	e, err := f.tables.Catalog().GetEntry(ctx, log[0], "sales.orders")
	if err != nil || e == nil || e.Rows != 15 {
		t.Fatalf("entry of sales.orders: %+v %v", e, err)
	}
	main := f.client("main", "alice-token")
	if ok, err := main.CheckTableExists(ctx, ident); err != nil || ok {
		t.Fatalf("main sees alice's table: %v %v", ok, err)
	}
}

// orders makes sales.orders on main with ids 0..2, as an admin through
// the REST client, and returns the client and the table.
func (f *fixture) orders() (*rest.Catalog, *icetable.Table) {
	f.t.Helper()
	ctx := context.Background()
	admin := f.client("main", "admin-token")
	if err := admin.CreateNamespace(ctx, icetable.Identifier{"sales"}, nil); err != nil {
		f.t.Fatal(err)
	}
	tbl, err := admin.CreateTable(ctx, icetable.Identifier{"sales", "orders"}, testSchema)
	if err != nil {
		f.t.Fatal(err)
	}
	if tbl, err = tbl.AppendTable(ctx, rows(f.t, 0, 3), 100, nil); err != nil {
		f.t.Fatal(err)
	}
	return admin, tbl
}

// call sends one request to the catalog (see callURL).
func (f *fixture) call(method, path, token, body string) (int, string) {
	f.t.Helper()
	return callURL(f.t, method, f.url+path, token, body)
}

// TestHandler_Refusals: what the catalog refuses, with the spec's status
// and exception type, and a message that says why.
// TestHandler_WriteLease: a load by a caller who may write the branch
// holds a lease for the files its engine may write before it commits
// (gc keeps them), for the handler's WriteLease; a load by one who may
// only read holds none.
func TestHandler_WriteLease(t *testing.T) {
	f := newFixture(t, icerest.Options{WriteLease: 300 * time.Millisecond})
	ctx := context.Background()
	f.orders() // created and appended to by the admin: a lease
	leases := filepath.Join(strings.TrimPrefix(f.tables.Warehouse(), "file://"), ".tarn", "writes")
	count := func() int {
		entries, _ := os.ReadDir(leases)
		return len(entries)
	}
	waitCount := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for count() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d leases, want %d", count(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitCount(1)
	waitCount(0) // past the window
	id := icetable.Identifier{"sales", "orders"}
	if _, err := f.client("main", "bob-token").LoadTable(ctx, id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := count(); n != 0 {
		t.Fatalf("a load by a reader of main took %d leases", n)
	}
	if _, err := f.client("main", "admin-token").LoadTable(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("a load by a writer of main took %d leases, want 1", n)
	}
	waitCount(0)
}

func TestHandler_Refusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.orders()
	if _, err := f.tables.Catalog().CreateRef(ctx, tarn.KindTag, "v1", "main"); err != nil {
		t.Fatal(err)
	}
	head, err := f.tables.Catalog().Resolve(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	stale := `{"requirements":[{"type":"assert-ref-snapshot-id","ref":"main","snapshot-id":1}],"updates":[]}`
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		want                            string
	}{
		{"no token", "GET", "/v1/main/namespaces", "", "", 401, "NotAuthorizedException"},
		{"unknown warehouse", "GET", "/v1/config?warehouse=nope", "alice-token", "", 404, "NoSuchWarehouseException"},
		{"bad warehouse", "GET", "/v1/config?warehouse=main~x", "alice-token", "", 400, "BadRequestException"},
		{"unknown prefix", "GET", "/v1/nope/namespaces", "alice-token", "", 404, "NoSuchWarehouseException"},
		{"missing table", "GET", "/v1/main/namespaces/sales/tables/nope", "alice-token", "", 404, "NoSuchTableException"},
		{"missing namespace", "GET", "/v1/main/namespaces/nope", "alice-token", "", 404, "NoSuchNamespaceException"},
		{"table exists", "POST", "/v1/main/namespaces/sales/tables", "admin-token",
			`{"name":"orders","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"a","type":"int","required":false}]}}`, 409, "AlreadyExistsException"},
		{"default namespace", "DELETE", "/v1/main/namespaces/tarn", "admin-token", "", 400, "default namespace"},
		{"namespace not empty", "DELETE", "/v1/main/namespaces/sales", "admin-token", "", 409, "NamespaceNotEmptyException"},
		{"stale requirement", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token", stale, 409, "CommitFailedException: table sales.orders changed underneath this write: assert-ref-snapshot-id failed"},
		{"ref must not exist", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token",
			`{"requirements":[{"type":"assert-ref-snapshot-id","ref":"main","snapshot-id":null}],"updates":[]}`, 409, "CommitFailedException"},
		{"ref must not exist (PyIceberg leaves the null out)", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token",
			`{"requirements":[{"type":"assert-ref-snapshot-id","ref":"main"}],"updates":[]}`, 409, "was created concurrently"},
		{"stale uuid", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token",
			`{"requirements":[{"type":"assert-table-uuid","uuid":"00000000-0000-0000-0000-000000000001"}],"updates":[]}`, 409, "assert-table-uuid failed"},
		{"stale schema", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token",
			`{"requirements":[{"type":"assert-current-schema-id","current-schema-id":7}],"updates":[]}`, 409, "assert-current-schema-id failed"},
		{"commit to a missing table", "POST", "/v1/main/namespaces/sales/tables/nope", "admin-token", `{"requirements":[],"updates":[]}`, 404, "NoSuchTableException"},
		{"write to a tag", "POST", "/v1/v1/namespaces/sales/tables/orders", "admin-token", `{"requirements":[],"updates":[]}`, 403, `ForbiddenException: "v1" is a tag or a commit, which is read-only`},
		{"write to a commit", "DELETE", "/v1/" + head.Hash + "/namespaces/sales/tables/orders", "admin-token", "", 403, "read-only"},
		{"write to main as a user", "POST", "/v1/main/namespaces", "alice-token", `{"namespace":["x"]}`, 403, "ForbiddenException"},
		{"write to another user's branch", "POST", "/v1/alice.dev/namespaces", "bob-token", `{"namespace":["x"]}`, 403, `user "bob" may write only to branches named bob.*`},
		{"malformed JSON", "POST", "/v1/main/namespaces", "admin-token", `{"namespace":`, 400, "BadRequestException: malformed request body"},
		{"no body", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token", ``, 400, "BadRequestException: the request has no body"},
		{"wrong types", "POST", "/v1/main/namespaces", "admin-token", `{"namespace":"x"}`, 400, "BadRequestException"},
		{"no updates", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token", `{"requirements":[]}`, 400, `needs "requirements" and "updates"`},
		{"unknown update", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token", `{"requirements":[],"updates":[{"action":"explode"}]}`, 400, "unknown update action"},
		{"unknown requirement", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token", `{"requirements":[{"type":"assert-magic"}],"updates":[]}`, 400, "unknown requirement type"},
		{"update that does not apply", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token",
			`{"requirements":[],"updates":[{"action":"set-current-schema","schema-id":42}]}`, 400, "the updates do not apply to table sales.orders"},
		{"location outside the warehouse", "POST", "/v1/main/namespaces/sales/tables", "admin-token",
			`{"name":"evil","location":"file:///tmp/evil","schema":{"type":"struct","schema-id":0,"fields":[]}}`, 400, "outside the lakehouse's warehouse"},
		{"metadata path outside the warehouse", "POST", "/v1/main/namespaces/sales/tables", "admin-token",
			`{"name":"evil","properties":{"write.metadata.path":"/tmp"},"schema":{"type":"struct","schema-id":0,"fields":[]}}`, 400, "write.metadata.path"},
		{"set-location outside", "POST", "/v1/main/namespaces/sales/tables/orders", "admin-token",
			`{"requirements":[],"updates":[{"action":"set-location","location":"/etc"}]}`, 400, "outside the lakehouse's warehouse"},
		{"register outside", "POST", "/v1/main/namespaces/sales/register", "admin-token",
			`{"name":"evil","metadata-location":"/etc/passwd"}`, 400, "not in the warehouse"},
		{"traversal in a namespace", "GET", "/v1/main/namespaces/..%2F..%2Fetc/tables/passwd", "admin-token", "", 400, "invalid namespace name"},
		{"traversal in a table", "POST", "/v1/main/namespaces/sales/tables/..%2Forders", "admin-token", `{"requirements":[],"updates":[]}`, 400, "invalid table name"},
		{"dot segments", "GET", "/v1/main/namespaces/sales/../../config", "admin-token", "", 404, "NoSuchRouteException"},
		{"nested namespace", "POST", "/v1/main/namespaces", "admin-token", `{"namespace":["a","b"]}`, 400, "exactly one level"},
		{"property removed and set", "POST", "/v1/main/namespaces/sales/properties", "admin-token", `{"removals":["a"],"updates":{"a":"1"}}`, 422, "UnprocessableEntityException"},
		{"wrong method", "PUT", "/v1/main/namespaces", "admin-token", "", 405, "MethodNotAllowedException"},
		{"no route", "GET", "/v1/main/views", "admin-token", "", 404, "NoSuchRouteException"},
		{"empty transaction", "POST", "/v1/main/transactions/commit", "admin-token", `{"table-changes":[]}`, 400, "no \"table-changes\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, msg := f.call(tc.method, tc.path, tc.token, tc.body)
			if status != tc.status || !strings.Contains(msg, tc.want) {
				t.Errorf("%s %s: %d %s\nwant %d with %q", tc.method, tc.path, status, msg, tc.status, tc.want)
			}
		})
	}
	// Nothing was committed by any of them.
	now, err := f.tables.Catalog().Resolve(ctx, "main")
	if err != nil || now.Hash != head.Hash {
		t.Fatalf("main moved: %v %v", now, err)
	}
}

// TestHandler_PagingHuge: the reviewer's request, a pageSize of the
// largest int64 after a pageToken, answers the rest of the listing (it
// overflowed and panicked, dropping the connection).
func TestHandler_PagingHuge(t *testing.T) {
	f := newFixture(t)
	f.orders() // namespaces sales and tarn, table sales.orders
	for path, want := range map[string]string{
		"/v1/main/namespaces?pageSize=9223372036854775807&pageToken=sales":                `"namespaces":[["tarn"]]`,
		"/v1/main/namespaces/sales/tables?pageSize=9223372036854775807&pageToken=a":       `"name":"orders"`,
		"/v1/main/namespaces?pageSize=-9223372036854775808&pageToken=9223372036854775807": "BadRequestException: pageSize=",
	} {
		status, body := f.call("GET", path, "admin-token", "")
		if !strings.Contains(body, want) || (status == 200) != !strings.Contains(want, "Exception") {
			t.Errorf("GET %s: %d %s\nwant %q", path, status, body, want)
		}
	}
}

// messages lists the messages of a ref's newest commits by author.
func (f *fixture) messages(ref, author string, n int) []string {
	f.t.Helper()
	log, err := f.tables.Catalog().Log(context.Background(), ref, n)
	if err != nil {
		f.t.Fatal(err)
	}
	var msgs []string
	for _, c := range log {
		if c.Author == author {
			msgs = append(msgs, c.Message)
		}
	}
	return msgs
}

// TestHandler_StagedCreateAndTransactions: a staged create is one commit
// when it completes; a multi-table transaction is one commit, or nothing
// when one of its tables fails its requirements.
func TestHandler_StagedCreateAndTransactions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	alice := f.client("alice.dev", "alice-token")
	if err := alice.CreateNamespace(ctx, icetable.Identifier{"sales"}, iceberg.Properties{"owner": "alice"}); err != nil {
		t.Fatal(err)
	}
	staged, err := alice.CreateTable(ctx, icetable.Identifier{"sales", "staged"}, testSchema,
		icecat.WithStagedUpdates(icetable.NewSetPropertiesUpdate(iceberg.Properties{"stage": "yes"})))
	if err != nil {
		t.Fatal(err)
	}
	if staged.Properties()["stage"] != "yes" || staged.MetadataLocation() == "" {
		t.Fatalf("staged table: %v at %q", staged.Properties(), staged.MetadataLocation())
	}
	other, err := alice.CreateTable(ctx, icetable.Identifier{"sales", "other"}, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := f.messages("alice.dev", "alice", 10); len(msgs) != 3 || msgs[1] != "iceberg: create table sales.staged" {
		t.Fatalf("commits: %q", msgs)
	}

	set := func(v string) []icetable.Update {
		return []icetable.Update{icetable.NewSetPropertiesUpdate(iceberg.Properties{"k": v})}
	}
	uuidOf := func(tbl *icetable.Table) []icetable.Requirement {
		return []icetable.Requirement{icetable.AssertTableUUID(tbl.Metadata().TableUUID())}
	}
	err = alice.CommitTransaction(ctx, []icetable.TableCommit{
		{Identifier: icetable.Identifier{"sales", "staged"}, Requirements: uuidOf(staged), Updates: set("1")},
		{Identifier: icetable.Identifier{"sales", "other"}, Requirements: uuidOf(staged), Updates: set("1")}, // other's uuid differs
	})
	if err == nil || !strings.Contains(err.Error(), "CommitFailedException") {
		t.Fatalf("transaction with a stale table: %v", err)
	}
	if msgs := f.messages("alice.dev", "alice", 10); len(msgs) != 3 {
		t.Fatalf("a failed transaction committed: %q", msgs)
	}
	if err := alice.CommitTransaction(ctx, []icetable.TableCommit{
		{Identifier: icetable.Identifier{"sales", "staged"}, Requirements: uuidOf(staged), Updates: set("2")},
		{Identifier: icetable.Identifier{"sales", "other"}, Requirements: uuidOf(other), Updates: set("2")},
	}); err != nil {
		t.Fatal(err)
	}
	msgs := f.messages("alice.dev", "alice", 10)
	if len(msgs) != 4 || msgs[0] != "iceberg: transaction: update sales.staged (set-properties); update sales.other (set-properties)" {
		t.Fatalf("commits: %q", msgs)
	}
	for _, name := range []string{"staged", "other"} {
		tbl, err := alice.LoadTable(ctx, icetable.Identifier{"sales", name})
		if err != nil || tbl.Properties()["k"] != "2" {
			t.Fatalf("%s after the transaction: %v %v", name, tbl.Properties(), err)
		}
	}
	props, err := alice.LoadNamespaceProperties(ctx, icetable.Identifier{"sales"})
	if err != nil || props["owner"] != "alice" {
		t.Fatalf("namespace properties: %v %v", props, err)
	}
}

// TestHandler_ReadsAtRefs: a tag and a commit hash read the state they
// name while the branch moves on; renames and drops are commits.
func TestHandler_ReadsAtRefs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	admin, tbl := f.orders()
	first := tbl.CurrentSnapshot().SnapshotID
	cat := f.tables.Catalog()
	if _, err := cat.CreateRef(ctx, tarn.KindTag, "release/1", "main"); err != nil {
		t.Fatal(err)
	}
	tagged, err := cat.Resolve(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err = tbl.AppendTable(ctx, rows(t, 3, 5), 100, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RenameTable(ctx, icetable.Identifier{"sales", "orders"}, icetable.Identifier{"sales", "orders2"}); err != nil {
		t.Fatal(err)
	}
	for _, warehouse := range []string{"release/1", tagged.Hash[:12], "main~2"} {
		at := f.client(warehouse, "alice-token")
		got, err := at.LoadTable(ctx, icetable.Identifier{"sales", "orders"})
		if err != nil || got.CurrentSnapshot().SnapshotID != first {
			t.Fatalf("orders at %s: %v %v", warehouse, got, err)
		}
		if err := at.DropTable(ctx, icetable.Identifier{"sales", "orders"}); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("drop at %s: %v", warehouse, err)
		}
	}
	if _, err := admin.LoadTable(ctx, icetable.Identifier{"sales", "orders2"}); err != nil {
		t.Fatal(err)
	}
	if err := admin.DropTable(ctx, icetable.Identifier{"sales", "orders2"}); err != nil {
		t.Fatal(err)
	}
	if msgs := f.messages("main", "admin", 2); len(msgs) != 2 || msgs[0] != "iceberg: drop table sales.orders2" || msgs[1] != "iceberg: rename table sales.orders to sales.orders2" {
		t.Fatalf("commits: %q", msgs)
	}
}
