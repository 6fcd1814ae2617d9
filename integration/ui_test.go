//go:build integration && browser

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The browser tier (scripts/test.sh, go test -tags integration,browser):
// the web UI in a real headless Chromium against a real tarn serve with
// tokens, over a small demo lakehouse. Screenshots of each page go to
// $TARN_UI_SHOTS (scripts/test.sh prints the folder).

// browser drives one Chromium tab.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string
	axe  string // axe-core's script, when ui/node_modules has it
}

func chromium(t *testing.T) string {
	for _, name := range []string{os.Getenv("TARN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: scripts/setup.sh installs Debian's chromium (or set TARN_CHROMIUM)")
	return ""
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 800), chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: strings.TrimSuffix(base, "/"), shot: shotsDir(t), axe: axeScript(t)}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, b.text("body"))
	}
}

// evalJSON evaluates a JavaScript expression, awaits it if it is a
// promise, and decodes its JSON into out (a uiPage).
func (b *browser) evalJSON(expr string, out any) error {
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](jsonOf(expr), chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), out)
}

func (b *browser) text(sel string) string { return pageText(b, sel) }

// waitFor waits until the JavaScript expression is true.
func (b *browser) waitFor(what, expr string) { b.t.Helper(); waitJS(b.t, b, what, expr) }

// waitText waits until the page's text contains s.
func (b *browser) waitText(s string) { b.t.Helper(); waitJS(b.t, b, "showed "+s, hasText(s)) }

// eval is the value of a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// setValue sets a field's value as typing would (an input event).
func (b *browser) setValue(sel, value string) { b.t.Helper(); setValue(b.t, b, sel, value) }

func (b *browser) goTo(hash string) {
	b.t.Helper()
	b.run("open "+hash, chromedp.Navigate(b.base+"/"+hash))
}

func (b *browser) screenshot(name string) {
	if png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644)
	}
}

// page saves a screenshot of the page and checks it with axe-core when
// it is there.
func (b *browser) page(name string) {
	b.t.Helper()
	b.screenshot(name)
	checkAxe(b.t, b, name, b.axe)
}

// cliAs runs the CLI against the server with a user's token.
func (s *server) cliAs(token string, args ...string) runOut {
	s.t.Helper()
	s.t.Setenv("TARN_TOKEN", token)
	return s.cli(args...)
}

func (b *browser) signIn(token, who string) {
	b.t.Helper()
	b.goTo("")
	b.waitFor("offered sign-in", `document.getElementById('token')`)
	b.setValue("#token", "")
	b.run("sign in", chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
	b.waitText(who)
}

// uiDemo is the lakehouse the browser tests look at, served with tokens:
// trips on main, a branch feb that adds February, and a branch clash that
// conflicts with main on trips (it replaces them). ada is an admin, bob
// is not.
type uiDemo struct {
	home    string
	srv     *server
	tokens  map[string]string // user: token
	log     []struct{ Hash string }
	maxFare float64 // of trips on main
}

func newUIDemo(t *testing.T) uiDemo {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	tokens := map[string]string{}
	for _, u := range []struct {
		name  string
		admin bool
	}{{"ada", true}, {"bob", false}} {
		args := []string{"user", "add", u.name, "-o", "json"}
		if u.admin {
			args = append(args, "--admin")
		}
		var added struct{ Token string }
		if err := json.Unmarshal([]byte(tarn(t, home, args...)), &added); err != nil || added.Token == "" {
			t.Fatalf("user add %s: %v", u.name, err)
		}
		tokens[u.name] = added.Token
	}
	data := "../examples/data/"
	tarn(t, home, "table", "create", "trips", "--from", data+"trips_2026_01.csv")
	tarn(t, home, "table", "create", "zones", "--from", data+"zones.jsonl")
	tarn(t, home, "branch", "create", "feb")
	tarn(t, home, "table", "import", "trips", "--from", data+"trips_2026_02.csv", "--ref", "feb")
	tarn(t, home, "branch", "create", "clash")
	// A replace on clash against an append on main: appends on both sides
	// would merge.
	tarn(t, home, "table", "create", "trips", "--replace", "--from", data+"trips_2026_02.csv", "--ref", "clash")
	tarn(t, home, "table", "import", "trips", "--from", data+"trips_2026_02.csv", "--ref", "main")
	var log []struct{ Hash string }
	json.Unmarshal([]byte(tarn(t, home, "log", "-n", "0", "-o", "json")), &log)
	var maxFare []struct{ M float64 }
	json.Unmarshal([]byte(tarn(t, home, "query", "select max(fare) as m from trips", "-o", "json")), &maxFare)
	if len(log) < 3 || len(maxFare) != 1 {
		t.Fatalf("demo: log %d commits, max fare %v", len(log), maxFare)
	}
	return uiDemo{home: home, srv: startServeWith(t, home, "--addr", "127.0.0.1:0"), tokens: tokens, log: log, maxFare: maxFare[0].M}
}

// TestUI_Browser: sign in (a wrong token refused), browse branches, open a
// table and page and sort its preview, see its statistics, walk history,
// run a query (and see an error at its position), see a merge conflict,
// run a pipeline and watch its DAG turn green with live logs, and see a
// user refused what the API refuses them.
func TestUI_Browser(t *testing.T) {
	d := newUIDemo(t)
	home, srv, tokens, log := d.home, d.srv, d.tokens, d.log
	b := newBrowser(t, srv.url)

	// Sign in: a wrong token is refused, ada's is taken.
	b.goTo("")
	b.run("wrong token", chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), "nope"),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
	b.waitText("That token was refused.")
	b.page("signin")
	b.signIn(tokens["ada"], "ada (admin)")
	stored := eval[string](b, `sessionStorage.getItem('tarn.token')`)
	if stored != tokens["ada"] {
		t.Fatal("the token is not in session storage")
	}

	// Home: branches newest first, tables of main with their rows.
	b.waitText("tarn.trips")
	b.waitText("900") // 500 + 400 rows of trips on main
	b.waitFor("showed when each table last changed", `[...document.querySelectorAll('section')[1].querySelectorAll('tbody tr td:last-child')].every(td => / ago$/.test(td.textContent))`)
	branches := eval[[]string](b, `[...document.querySelectorAll('section')[0].querySelectorAll('tbody tr td:first-child a')].map(a => a.textContent)`)
	if len(branches) != 3 || branches[0] != "main" {
		t.Fatalf("home lists branches %v, want main (the newest) first of 3", branches)
	}
	b.page("home")

	// Table page: the preview pages and sorts.
	b.run("open trips", chromedp.Click(chromedp.CSS(`a[href="#/table/main/tarn.trips"]`)))
	b.waitFor("showed the first page", `document.querySelectorAll('table.grid tbody tr').length === 50`)
	b.waitText("rows 1–50")
	b.page("table")
	b.run("next page", chromedp.Click(chromedp.Search(`//button[text()="Next"]`)))
	b.waitText("rows 51–100")
	first := eval[string](b, `document.querySelector('table.grid tbody tr td').textContent`)
	if first != "51" {
		t.Fatalf("second page starts at row %q", first)
	}
	b.run("sort by fare", chromedp.Click(chromedp.Search(`//th/button[starts-with(text(),"fare")]`)))
	b.waitText("fare ▲")
	b.run("sort by fare descending", chromedp.Click(chromedp.Search(`//th/button[starts-with(text(),"fare")]`)))
	b.waitText("fare ▼")
	want := fmt.Sprint(d.maxFare)
	b.waitFor("sorted by fare descending", `(() => { const hs = [...document.querySelectorAll('table.grid thead th')].map(h => h.textContent);
		const i = hs.findIndex(h => h.startsWith('fare')); const c = document.querySelector('table.grid tbody tr').children[i];
		return c && c.textContent === `+fmt.Sprintf("%q", want)+` })()`)
	b.page("table-sorted")
	b.run("stats tab", chromedp.Click(chromedp.Search(`//button[@role="tab"][text()="stats"]`)))
	b.waitFor("showed histograms", `document.querySelectorAll('svg.hist rect').length > 0`)
	b.page("table-stats")
	// Snapshot ids are 64-bit: shown exactly, not rounded to a JavaScript number.
	var desc struct {
		History []struct {
			SnapshotID json.Number `json:"snapshot_id"`
		}
	}
	dec := json.NewDecoder(strings.NewReader(tarn(t, home, "table", "get", "trips", "-o", "json")))
	dec.UseNumber()
	if err := dec.Decode(&desc); err != nil || len(desc.History) == 0 {
		t.Fatalf("table get: %v", err)
	}
	b.run("snapshots tab", chromedp.Click(chromedp.Search(`//button[@role="tab"][text()="snapshots"]`)))
	b.waitText(desc.History[0].SnapshotID.String())
	b.run("schema tab", chromedp.Click(chromedp.Search(`//button[@role="tab"][text()="schema"]`)))
	b.waitText("pickup_zone")
	b.page("table-schema")

	// History: every commit of main, merges drawn, each a link.
	b.goTo("#/log/main")
	b.waitFor("listed main's history", fmt.Sprintf(`document.querySelectorAll('.logrow').length === %d`, len(log)))
	b.waitText(fmt.Sprintf("%d commits.", len(log)))
	b.page("history")
	b.run("open a commit", chromedp.Click(chromedp.CSS(`.logrow a`)))
	b.waitText("Tables changed")
	b.waitText("+400")
	b.page("commit")

	// Diff main..feb: trips changed.
	b.goTo("#/diff?from=main~1&to=feb")
	b.waitText("changed")
	b.page("diff")
	// Its rows: February's 400 trips (ids 501 to 900) added, none removed;
	// the other way round, the same trips removed.
	tripIDs := func(region string) string {
		return `[...document.querySelectorAll('[aria-label="` + region + `"] tbody tr')].map(tr => Number(tr.children[1].textContent))`
	}
	b.run("expand trips' rows", chromedp.Click(chromedp.Search(`//button[text()="Rows added / removed"]`)))
	b.waitText("400 rows added (first 20 shown), 0 rows removed.")
	b.waitFor("showed 20 of February's trips added", `(ids => ids.length === 20 && ids.every(id => id >= 501 && id <= 900))(`+tripIDs("Rows added to tarn.trips")+`)`)
	if n := eval[int](b, `document.querySelectorAll('[aria-label="Rows removed from tarn.trips"]').length`); n != 0 {
		t.Fatalf("the diff main~1..feb shows %d grids of removed rows", n)
	}
	b.page("diff-rows")
	b.goTo("#/diff?from=feb&to=main~1")
	b.run("expand trips' rows the other way", chromedp.Click(chromedp.Search(`//button[text()="Rows added / removed"]`)))
	b.waitText("0 rows added, 400 rows removed (first 20 shown).")
	b.waitFor("showed 20 of February's trips removed", `(ids => ids.length === 20 && ids.every(id => id >= 501 && id <= 900))(`+tripIDs("Rows removed from tarn.trips")+`)`)

	// SQL: a query's rows; a broken one's error at its position.
	b.goTo("#/sql")
	b.waitFor("offered the editor", `document.getElementById('sql')`)
	b.setValue("#sql", "")
	// Tab completes a table's name.
	b.run("type a table's start", chromedp.SendKeys(chromedp.ID("sql"), "select * from tri"))
	b.run("complete with Tab", chromedp.KeyEvent("\t"))
	b.waitFor("completed the table's name", `document.getElementById('sql').value === 'select * from trips' && document.activeElement.id === 'sql'`)
	b.setValue("#sql", "")
	b.run("type SQL", chromedp.SendKeys(chromedp.ID("sql"), "select pickup_zone, count(*) as n from trips group by 1 order by 1"))
	b.run("run with Ctrl+Enter", chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.waitFor("showed the result", `document.querySelector('[role=status]') && /^\d+ rows · \d+ ms$/.test(document.querySelector('[role=status]').textContent)`)
	b.waitFor("highlighted the SQL", `[...document.querySelectorAll('.editor .t-keyword')].map(e => e.textContent).join(' ') === 'select count as from group by order by'`)
	b.page("sql")
	b.setValue("#sql", "select 1\nfrom trips where fare = = 2")
	b.run("run broken SQL", chromedp.Click(chromedp.Search(`//button[text()="Run"]`)))
	b.waitText("at line 2, column 25")
	if at := eval[int](b, `document.getElementById('sql').selectionStart`); at != len("select 1\nfrom trips where fare = ") {
		t.Fatalf("the editor's cursor is at %d, not at the error", at)
	}
	b.page("sql-error")

	// A merge conflict is shown, and main is left as it was.
	b.goTo("#/refs")
	// The list loads above the forms: wait for it, so clicks land where they aim.
	b.waitFor("listed the refs", `document.querySelectorAll('table.data tbody tr').length === 3`)
	b.run("merge clash", chromedp.WaitVisible(chromedp.CSS(`input[name=source]`)), chromedp.SendKeys(chromedp.CSS(`input[name=source]`), "clash"),
		chromedp.Click(chromedp.Search(`//button[text()="Merge"]`)))
	b.waitFor("showed the conflict", `document.querySelector('[role=alert]') && document.querySelector('[role=alert]').textContent.includes('Conflict')`)
	b.waitText("tarn.trips")
	b.page("merge-conflict")
	var after []struct{ Hash string }
	json.Unmarshal([]byte(srv.cliAs(tokens["ada"], "log", "-n", "1", "-o", "json").stdout), &after)
	if len(after) != 1 || after[0].Hash != log[0].Hash {
		t.Fatal("a failed merge changed main")
	}

	// A run: its DAG turns green step by step, with the step's live logs.
	proj := project(t, map[string]string{
		"make.py":   "import tarn\nimport pyarrow as pa\nimport time\n\n@tarn.model(materialization_strategy=\"REPLACE\")\ndef make():\n    print('making rows', flush=True)\n    time.sleep(2)\n    return pa.table({'a': list(range(10))})\n",
		"total.sql": "-- tarn: materialization_strategy=REPLACE\nselect sum(a) as total from make\n",
	})
	r := srv.cliAs(tokens["ada"], "run", "-p", proj, "--ref", "main", "--detach")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(id, "j") {
		t.Fatalf("run --detach: %+v", r)
	}
	b.goTo("#/job/" + id)
	b.waitFor("drew the DAG", `document.querySelectorAll('.dag g.node').length === 2 && document.querySelectorAll('.dag .edge').length === 1`)
	b.waitText("[make] making rows")
	b.waitFor("turned every step green", `[...document.querySelectorAll('.dag g.node')].every(n => n.dataset.state === 'done')`)
	b.waitFor("showed the job succeeded", `document.querySelector('[data-testid=job-state]').textContent === 'succeeded'`)
	b.waitText("Published")
	b.page("run")
	// The same run again: every step is served from the cache, and marked.
	r = srv.cliAs(tokens["ada"], "run", "-p", proj, "--ref", "main", "--detach")
	again := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(again, "j") {
		t.Fatalf("run --detach again: %+v", r)
	}
	b.goTo("#/job/" + again)
	b.waitFor("marked the cached steps", `document.querySelectorAll('.dag g.node').length === 2 && [...document.querySelectorAll('.dag g.node')].every(n => n.dataset.state === 'cached')`)
	b.page("run-cached")
	b.goTo("#/jobs")
	b.waitText(id)
	b.waitText(again)
	b.page("jobs")

	// Create a branch, see it listed, delete it.
	b.goTo("#/refs")
	b.waitFor("listed the refs", `document.querySelectorAll('table.data tbody tr').length === 3`)
	b.run("create a branch", chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "ada.x"), chromedp.Click(chromedp.Search(`//button[text()="Create"]`)))
	b.waitText("Created branch ada.x.")
	b.waitFor("listed the new branch", `[...document.querySelectorAll('table.data tbody td:first-child a')].some(a => a.textContent === 'ada.x')`)
	if r := srv.cliAs(tokens["ada"], "branch", "get", "ada.x"); r.code != 0 {
		t.Fatalf("the branch the UI created is not there: %+v", r)
	}
	eval[bool](b, `(window.confirm = () => true, true)`)
	b.run("delete the branch", chromedp.Click(chromedp.CSS(`button[aria-label="Delete ada.x"]`)))
	b.waitText("Deleted ada.x.")
	if r := srv.cliAs(tokens["ada"], "branch", "get", "ada.x"); r.code == 0 {
		t.Fatal("the branch the UI deleted is still there")
	}

	// Users: an admin sees them; bob is refused what the API refuses him.
	b.goTo("#/users")
	b.waitText("bob")
	b.run("add a user", chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "carl"), chromedp.Click(chromedp.Search(`//button[text()="Add user"]`)))
	b.waitFor("showed carl's token once", `document.querySelector('[data-testid=new-token]') && document.querySelector('[data-testid=new-token]').textContent.startsWith('tarn_')`)
	carl := eval[string](b, `document.querySelector('[data-testid=new-token]').textContent`)
	if r := srv.cliAs(carl, "branch", "ls"); r.code != 0 {
		t.Fatalf("carl's token from the UI does not work: %+v", r)
	}
	b.page("users")
	b.run("sign out", chromedp.Click(chromedp.Search(`//button[text()="Sign out"]`)))
	b.signIn(tokens["bob"], "bob")
	nav := eval[string](b, `document.querySelector('header nav').textContent`)
	if strings.Contains(nav, "Users") {
		t.Fatal("a user who is not an admin is offered the users page")
	}
	b.goTo("#/refs")
	b.waitFor("listed the refs", `document.querySelectorAll('table.data tbody tr').length === 3`)
	b.run("create a tag as bob", chromedp.WaitVisible(chromedp.CSS(`select[name=kind]`)), chromedp.SetValue(chromedp.CSS(`select[name=kind]`), "tag"),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "v1"), chromedp.Click(chromedp.Search(`//button[text()="Create"]`)))
	b.waitFor("refused the tag", `document.querySelector('[role=alert]') && document.querySelector('[role=alert]').textContent.includes('forbidden')`)
	b.page("forbidden")
	if out := srv.cliAs(tokens["ada"], "tag", "ls").stdout; strings.Contains(out, "v1") {
		t.Fatal("a refused tag was created")
	}
}

// TestUI_Local: `tarn ui --no-open` serves the home on loopback without
// tokens and prints its URL; the page opens on the home without sign-in.
func TestUI_Local(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	tarn(t, home, "table", "create", "zones", "--from", "../examples/data/zones.jsonl")
	cmd := exec.Command(env(t, "TARN_BIN"), "ui", "--no-open")
	cmd.Env = append(os.Environ(), "TARN_HOME="+home)
	out := &lockedBuffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); <-exited })
	urlRe := regexp.MustCompile(`tarn ui: (http://127\.0\.0\.1:\d+/)`)
	var url string
	for deadline := time.Now().Add(60 * time.Second); url == ""; time.Sleep(50 * time.Millisecond) {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("tarn ui printed no URL:\n%s", out.String())
		}
		select {
		case <-exited:
			t.Fatalf("tarn ui exited:\n%s", out.String())
		default:
		}
	}
	b := newBrowser(t, url)
	b.goTo("")
	b.waitText("tarn.zones")
	if eval[bool](b, `!!document.getElementById('token')`) {
		t.Fatal("tarn ui asks for a token")
	}
	b.page("local-home")

	// The dark theme follows the system (and passes the contrast checks);
	// a narrow window does not scroll sideways.
	b.run("prefer dark", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	if bg := eval[string](b, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(13, 17, 23)" {
		t.Fatalf("the dark theme's background is %s", bg)
	}
	b.page("local-home-dark")
	b.run("narrow window", chromedp.EmulateViewport(400, 800))
	b.goTo("#/")
	b.waitText("tarn.zones")
	if eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth`) {
		t.Fatalf("the home page scrolls sideways in a 400 px window: %s", eval[string](b, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')`))
	}
	b.page("local-home-narrow")
}
