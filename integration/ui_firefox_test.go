//go:build integration && browser

package integration

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// The browser tier in Firefox: the same UI in headless Firefox (Debian's
// firefox-esr), driven over WebDriver BiDi, the W3C protocol that Firefox
// serves itself (--remote-debugging-port), with no geckodriver. Screenshots
// go to the same folder as Chromium's, named firefox-*.png.

// firefoxBin is the Firefox to drive: $TARN_FIREFOX, firefox-esr or
// firefox. Without one the test is skipped, unless CI is set (and not
// "false" or "0"): CI must run it (scripts/setup.sh installs firefox-esr).
func firefoxBin(t *testing.T) string {
	for _, name := range []string{os.Getenv("TARN_FIREFOX"), "firefox-esr", "firefox"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const why = "no Firefox: scripts/setup.sh installs Debian's firefox-esr (or set TARN_FIREFOX)"
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}

// bidi is a WebDriver BiDi connection: commands and their replies by id,
// and the events the test subscribed to.
type bidi struct {
	ws      *websocket.Conn
	mu      sync.Mutex
	next    int
	waiting map[int]chan bidiMessage
	logs    []string // the pages' JavaScript errors (log.entryAdded)
	done    chan struct{}
	err     error // why the connection ended
}

// bidiMessage is a command's reply or an event.
type bidiMessage struct {
	Type    string          `json:"type"` // success, error or event
	ID      int             `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

func dialBiDi(url string) (*bidi, error) {
	ws, err := websocket.Dial(url, "", "http://127.0.0.1")
	if err != nil {
		return nil, err
	}
	c := &bidi{ws: ws, waiting: map[int]chan bidiMessage{}, done: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *bidi) read() {
	defer close(c.done)
	for {
		var raw string
		if err := websocket.Message.Receive(c.ws, &raw); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var m bidiMessage
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("a message that is not JSON (%v): %.200s", err, raw)
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		if m.Type == "event" {
			if m.Method == "log.entryAdded" {
				var e struct{ Level, Text, Type string }
				json.Unmarshal(m.Params, &e)
				if e.Level == "error" {
					c.logs = append(c.logs, e.Type+": "+e.Text)
				}
			}
		} else if ch, ok := c.waiting[m.ID]; ok {
			delete(c.waiting, m.ID)
			ch <- m
		}
		c.mu.Unlock()
	}
}

// call sends a command and decodes its result into result (if not nil).
func (c *bidi) call(method string, params, result any) error {
	c.mu.Lock()
	c.next++
	id := c.next
	ch := make(chan bidiMessage, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	cmd, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	if err := websocket.Message.Send(c.ws, string(cmd)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return fmt.Errorf("%s: %s: %s", method, m.Error, m.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("%s: the connection to Firefox ended: %v", method, c.err)
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("%s: no reply in 2 minutes", method)
	}
}

// firefox drives one tab (a top-level browsing context) of a headless
// Firefox.
type firefox struct {
	t    *testing.T
	c    *bidi
	tab  string // the browsing context's id
	base string
	shot string
	axe  string
}

// newFirefox starts a headless Firefox (bin) on a fresh profile (with
// prefs, user.js lines, added) with its BiDi server on a free loopback
// port, and opens a session on its tab at 1280×800.
func newFirefox(t *testing.T, bin, base string, prefs ...string) *firefox {
	t.Helper()
	profile := t.TempDir()
	// The prefs WebDriver clients set (on top of the ones Firefox's remote
	// agent sets itself): no first-run pages, updates or telemetry.
	prefs = append(prefs, `user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("app.update.disabledForTesting", true);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("browser.aboutwelcome.enabled", false);
`)
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(strings.Join(prefs, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-remote", "--profile", profile,
		"--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1", "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Firefox: %v", err)
	}
	exited := make(chan struct{})
	// Firefox prints its BiDi address on stderr; the rest of what it
	// prints is kept for a failure's message.
	addr := make(chan string, 1)
	out := &lockedBuffer{}
	go func() {
		re := regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(out, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { cmd.Wait(); close(exited) }()
	f := &firefox{t: t, base: strings.TrimSuffix(base, "/"), shot: shotsDir(t), axe: axeScript(t)}
	t.Cleanup(func() {
		if f.c != nil {
			f.c.call("browser.close", map[string]any{}, nil)
		}
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	var url string
	select {
	case url = <-addr:
	case <-exited:
		t.Fatalf("Firefox exited before it served WebDriver BiDi:\n%s", out.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("Firefox served no WebDriver BiDi in 90 s:\n%s", out.String())
	}
	if f.c, err = dialBiDi(url + "/session"); err != nil {
		t.Fatalf("connect to Firefox's WebDriver BiDi at %s: %v", url, err)
	}
	var session struct {
		Capabilities struct{ BrowserName, BrowserVersion string }
	}
	f.must(f.c.call("session.new", map[string]any{"capabilities": map[string]any{}}, &session))
	t.Logf("driving %s %s over WebDriver BiDi", session.Capabilities.BrowserName, session.Capabilities.BrowserVersion)
	f.must(f.c.call("session.subscribe", map[string]any{"events": []string{"log.entryAdded"}}, nil))
	var tree struct{ Contexts []struct{ Context string } }
	f.must(f.c.call("browsingContext.getTree", map[string]any{"maxDepth": 0}, &tree))
	if len(tree.Contexts) == 0 {
		t.Fatal("Firefox has no tab")
	}
	f.tab = tree.Contexts[0].Context
	f.viewport(1280, 800)
	return f
}

func (f *firefox) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// evalJSON evaluates expr in the tab (a uiPage).
func (f *firefox) evalJSON(expr string, out any) error {
	var r struct {
		Type   string
		Result struct {
			Type  string
			Value json.RawMessage
		}
		ExceptionDetails struct{ Text string }
	}
	if err := f.c.call("script.evaluate", map[string]any{"expression": jsonOf(expr), "target": map[string]any{"context": f.tab},
		"awaitPromise": true, "resultOwnership": "none"}, &r); err != nil {
		return err
	}
	if r.Type == "exception" {
		return errors.New(r.ExceptionDetails.Text)
	}
	var s string
	if err := json.Unmarshal(r.Result.Value, &s); err != nil {
		return fmt.Errorf("evaluate %s: a %s, not JSON", expr, r.Result.Type)
	}
	return json.Unmarshal([]byte(s), out)
}

// eval is evalJSON that fails the test on an error.
func (f *firefox) eval(expr string, out any) {
	f.t.Helper()
	if err := f.evalJSON(expr, out); err != nil {
		f.t.Fatalf("evaluate %s: %v", expr, err)
	}
}

func (f *firefox) screenshot(name string) {
	var r struct{ Data string }
	if f.c.call("browsingContext.captureScreenshot", map[string]any{"context": f.tab, "origin": "document"}, &r) != nil {
		return
	}
	if png, err := base64.StdEncoding.DecodeString(r.Data); err == nil {
		os.WriteFile(filepath.Join(f.shot, "firefox-"+name+".png"), png, 0o644)
	}
}

// page saves a screenshot of the page, checks it with axe-core and
// fails on any JavaScript error the UI logged so far.
func (f *firefox) page(name string) {
	f.t.Helper()
	f.screenshot(name)
	checkAxe(f.t, f, name, f.axe)
	f.c.mu.Lock()
	logs := f.c.logs
	f.c.logs = nil
	f.c.mu.Unlock()
	for _, l := range logs {
		f.t.Errorf("page %s: Firefox logged an error: %s", name, l)
	}
}

func (f *firefox) fail(what string, err error) {
	f.t.Helper()
	f.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
	f.t.Fatalf("%s: %v\npage text:\n%s", what, err, pageText(f, "body"))
}

func (f *firefox) goTo(hash string) {
	f.t.Helper()
	if err := f.c.call("browsingContext.navigate", map[string]any{"context": f.tab, "url": f.base + "/" + hash, "wait": "complete"}, nil); err != nil {
		f.fail("open "+hash, err)
	}
}

func (f *firefox) viewport(width, height int) {
	f.t.Helper()
	f.must(f.c.call("browsingContext.setViewport", map[string]any{"context": f.tab, "viewport": map[string]int{"width": width, "height": height}}, nil))
}

func (f *firefox) waitFor(what, expr string) { f.t.Helper(); waitJS(f.t, f, what, expr) }
func (f *firefox) waitText(s string)         { f.t.Helper(); waitJS(f.t, f, "showed "+s, hasText(s)) }

// css and xpath are JavaScript expressions for the first element a CSS
// selector or an XPath expression finds.
func css(sel string) string { return "document.querySelector(" + jsString(sel) + ")" }
func xpath(x string) string {
	return "document.evaluate(" + jsString(x) + ", document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue"
}

// element is the node of the JavaScript expression el (waiting up to 90 s
// for it), scrolled into view: a shared reference for input actions.
func (f *firefox) element(what, el string) map[string]string {
	f.t.Helper()
	f.waitFor("found "+what, el)
	var r struct {
		Type   string
		Result struct{ Type, SharedID string }
	}
	err := f.c.call("script.evaluate", map[string]any{"expression": "(e => (e.scrollIntoView({block: 'center'}), e))(" + el + ")",
		"target": map[string]any{"context": f.tab}, "awaitPromise": false, "resultOwnership": "none"}, &r)
	if err == nil && r.Result.SharedID == "" {
		err = fmt.Errorf("%s is a %s, not an element", el, r.Result.Type)
	}
	if err != nil {
		f.fail("find "+what, err)
	}
	return map[string]string{"sharedId": r.Result.SharedID}
}

// click clicks the middle of an element with the mouse.
func (f *firefox) click(what, el string) {
	f.t.Helper()
	origin := map[string]any{"type": "element", "element": f.element(what, el)}
	f.act("click "+what, map[string]any{"type": "pointer", "id": "mouse", "parameters": map[string]string{"pointerType": "mouse"},
		"actions": []map[string]any{{"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
			{"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}}})
}

// typeInto clicks an element and types text with the keyboard.
func (f *firefox) typeInto(what, el, text string) {
	f.t.Helper()
	f.click(what, el)
	f.typeKeys("type into "+what, text)
}

// typeKeys types text with the keyboard where the focus is, a key at a
// time.
func (f *firefox) typeKeys(what, text string) {
	f.t.Helper()
	var keys []map[string]any
	for _, r := range text {
		keys = append(keys, map[string]any{"type": "keyDown", "value": string(r)}, map[string]any{"type": "keyUp", "value": string(r)})
	}
	f.act(what, map[string]any{"type": "key", "id": "keyboard", "actions": keys})
}

// chord presses keys together (WebDriver key values: "\uE009" is Control,
// "\uE007" Enter) and releases them.
func (f *firefox) chord(what string, keys ...string) {
	f.t.Helper()
	var acts []map[string]any
	for _, k := range keys {
		acts = append(acts, map[string]any{"type": "keyDown", "value": k})
	}
	for i := len(keys) - 1; i >= 0; i-- {
		acts = append(acts, map[string]any{"type": "keyUp", "value": keys[i]})
	}
	f.act(what, map[string]any{"type": "key", "id": "keyboard", "actions": acts})
}

func (f *firefox) act(what string, source map[string]any) {
	f.t.Helper()
	if err := f.c.call("input.performActions", map[string]any{"context": f.tab, "actions": []any{source}}, nil); err != nil {
		f.fail(what, err)
	}
}

func (f *firefox) signIn(token, who string) {
	f.t.Helper()
	f.goTo("")
	f.waitFor("offered sign-in", css("#token"))
	setValue(f.t, f, "#token", "")
	f.typeInto("the token field", css("#token"), token)
	f.click("sign in", css(`form button[type=submit]`))
	f.waitText(who)
}

// TestUI_Firefox: the UI's main pages in Firefox: sign in (a wrong token
// refused), the home and branches pages, a table's preview paged and
// sorted, a query written with name completion and run, a diff with its rows, the history graph, a run's
// DAG turning green, and the home in a narrow window and in the dark.
func TestUI_Firefox(t *testing.T) {
	bin := firefoxBin(t)
	d := newUIDemo(t)
	f := newFirefox(t, bin, d.srv.url)

	// Sign in: a wrong token is refused, ada's is taken.
	f.goTo("")
	f.typeInto("the token field", css("#token"), "nope")
	f.click("sign in", css(`form button[type=submit]`))
	f.waitText("That token was refused.")
	f.page("signin")
	f.signIn(d.tokens["ada"], "ada (admin)")
	var stored string
	f.eval(`sessionStorage.getItem('tarn.token')`, &stored)
	if stored != d.tokens["ada"] {
		t.Fatal("the token is not in session storage")
	}

	// Home: branches newest first, tables of main with their rows.
	f.waitText("tarn.trips")
	f.waitText("900")
	var branches []string
	f.eval(`[...document.querySelectorAll('section')[0].querySelectorAll('tbody tr td:first-child a')].map(a => a.textContent)`, &branches)
	if len(branches) != 3 || branches[0] != "main" {
		t.Fatalf("home lists branches %v, want main (the newest) first of 3", branches)
	}
	f.page("home")

	// Branches and tags: every ref with its head.
	f.goTo("#/refs")
	f.waitFor("listed the refs", `document.querySelectorAll('table.data tbody tr').length === 3`)
	var refs []string
	f.eval(`[...document.querySelectorAll('table.data tbody td:first-child a')].map(a => a.textContent).sort()`, &refs)
	if strings.Join(refs, " ") != "clash feb main" {
		t.Fatalf("the branches page lists %v", refs)
	}
	f.page("refs")

	// Table page: the preview pages and sorts.
	f.goTo("")
	f.click("trips", css(`a[href="#/table/main/tarn.trips"]`))
	f.waitFor("showed the first page", `document.querySelectorAll('table.grid tbody tr').length === 50`)
	f.waitText("rows 1–50")
	// A timestamp shows as the CLI's JSON shows it, not as a number.
	var row []string
	f.eval(`[...document.querySelector('table.grid tbody tr').children].slice(1, 3).map(td => td.textContent)`, &row)
	var at []struct{ P string }
	if len(row) == 2 {
		json.Unmarshal([]byte(tarn(t, d.home, "query", "select pickup_at as p from trips where trip_id = "+row[0], "-o", "json")), &at)
	}
	if len(at) != 1 || row[1] != at[0].P {
		t.Fatalf("the preview's first trip %v, the CLI's pickup_at %v", row, at)
	}
	f.page("table")
	f.click("Next", xpath(`//button[text()="Next"]`))
	f.waitText("rows 51–100")
	var first string
	f.eval(`document.querySelector('table.grid tbody tr td').textContent`, &first)
	if first != "51" {
		t.Fatalf("second page starts at row %q", first)
	}
	f.click("fare", xpath(`//th/button[starts-with(text(),"fare")]`))
	f.waitText("fare ▲")
	f.click("fare again", xpath(`//th/button[starts-with(text(),"fare")]`))
	f.waitText("fare ▼")
	f.waitFor("sorted by fare descending", `(() => { const hs = [...document.querySelectorAll('table.grid thead th')].map(h => h.textContent);
		const i = hs.findIndex(h => h.startsWith('fare')); const c = document.querySelector('table.grid tbody tr').children[i];
		return c && c.textContent === `+jsString(fmt.Sprint(d.maxFare))+` })()`)
	f.page("table-sorted")
	f.click("the stats tab", xpath(`//button[@role="tab"][text()="stats"]`))
	f.waitFor("showed histograms", `document.querySelectorAll('svg.hist rect').length > 0`)
	f.page("table-stats")

	// SQL: names completed (Tab completes a table; Ctrl+Space lists the
	// columns, arrows and Enter pick one), then run with Ctrl+Enter, its
	// rows and their count shown.
	f.goTo("#/sql")
	f.waitFor("offered the editor", css("#sql"))
	setValue(t, f, "#sql", "")
	f.typeInto("the editor", css("#sql"), "select * from tri")
	f.chord("complete with Tab", "\uE004")
	f.waitFor("completed the table's name", `document.getElementById('sql').value === 'select * from trips'`)
	setValue(t, f, "#sql", "select  from trips")
	f.eval(`(e => (e.setSelectionRange(7, 7), true))(document.getElementById('sql'))`, new(bool))
	f.typeKeys("type pick", "pick")
	f.chord("list names with Ctrl+Space", "\uE009", " ")
	f.waitFor("listed pickup_at and pickup_zone", `[...document.querySelectorAll('#sql-names [role=option]')].map(o => o.firstChild.textContent.trim()).join(' ') === 'pickup_at pickup_zone'`)
	f.page("sql-names")
	f.chord("choose the second", "\uE015")
	f.chord("accept it", "\uE007")
	f.waitFor("completed the column's name, the cursor after it", `(e => e.value === 'select pickup_zone from trips' && e.selectionStart === 18 && !document.getElementById('sql-names'))(document.getElementById('sql'))`)
	f.typeKeys("type the count", ", count(*) as n")
	f.chord("go to the end", "\uE010")
	f.typeKeys("type the grouping", " group by 1 order by 1")
	var got string
	if f.eval(`document.getElementById('sql').value`, &got); got != "select pickup_zone, count(*) as n from trips group by 1 order by 1" {
		t.Fatalf("the editor holds %q", got)
	}
	f.chord("run with Ctrl+Enter", "\uE009", "\uE007")
	f.waitFor("showed the result", `document.querySelector('[role=status]') && /^\d+ rows · \d+ ms$/.test(document.querySelector('[role=status]').textContent)`)
	var zones []struct{ Zone string }
	json.Unmarshal([]byte(tarn(t, d.home, "query", "select distinct pickup_zone as zone from trips order by 1", "-o", "json")), &zones)
	var shown []string
	f.eval(`[...document.querySelectorAll('table.grid tbody tr')].map(tr => tr.children[1].textContent)`, &shown)
	if len(zones) == 0 || len(shown) != len(zones) || shown[0] != zones[0].Zone {
		t.Fatalf("the query shows zones %v, want %d starting with %v", shown, len(zones), zones)
	}
	f.waitFor("highlighted the SQL", `[...document.querySelectorAll('.editor .t-keyword')].map(e => e.textContent).join(' ') === 'select count as from group by order by'`)
	f.page("sql")

	// Diff main~1..feb: trips changed, February's trips added.
	f.goTo("#/diff?from=main~1&to=feb")
	f.waitText("changed")
	f.click("Rows added / removed", xpath(`//button[text()="Rows added / removed"]`))
	f.waitText("400 rows added (first 20 shown), 0 rows removed.")
	f.waitFor("showed 20 of February's trips added", `(ids => ids.length === 20 && ids.every(id => id >= 501 && id <= 900))([...document.querySelectorAll('[aria-label="Rows added to tarn.trips"] tbody tr')].map(tr => Number(tr.children[1].textContent)))`)
	f.page("diff")

	// History: every commit of main in the graph, the merge-free line drawn.
	f.goTo("#/log/main")
	f.waitFor("listed main's history", fmt.Sprintf(`document.querySelectorAll('.logrow').length === %d`, len(d.log)))
	f.waitText(fmt.Sprintf("%d commits.", len(d.log)))
	f.page("history")
	f.click("a commit", css(`.logrow a`))
	f.waitText("Tables changed")
	f.waitText("+400")
	f.page("commit")

	// A run: its DAG drawn, every step turning green, the step's logs.
	proj := project(t, map[string]string{
		"make.py":   "import tarn\nimport pyarrow as pa\n\n@tarn.model(materialization_strategy=\"REPLACE\")\ndef make():\n    print('making rows', flush=True)\n    return pa.table({'a': list(range(10))})\n",
		"total.sql": "-- tarn: materialization_strategy=REPLACE\nselect sum(a) as total from make\n",
	})
	t.Setenv("TARN_TOKEN", d.tokens["ada"])
	f.goTo("#/job/" + detach(t, d.srv, proj))
	f.waitFor("drew the DAG", `document.querySelectorAll('.dag g.node').length === 2 && document.querySelectorAll('.dag .edge').length === 1`)
	f.waitText("[make] making rows")
	f.waitFor("turned every step green", `[...document.querySelectorAll('.dag g.node')].every(n => n.dataset.state === 'done')`)
	f.waitFor("showed the job succeeded", `document.querySelector('[data-testid=job-state]').textContent === 'succeeded'`)
	f.page("run")

	// A narrow window: the home does not scroll sideways.
	f.viewport(400, 800)
	f.goTo("#/")
	f.waitText("tarn.trips")
	var wide string
	f.eval(`document.documentElement.scrollWidth > window.innerWidth ? [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ') : ''`, &wide)
	if wide != "" {
		t.Fatalf("the home page scrolls sideways in a 400 px window: %s", wide)
	}
	f.page("home-narrow")

	// The dark theme follows the system's (a second Firefox whose system
	// prefers dark), and passes the contrast checks.
	dark := newFirefox(t, bin, d.srv.url, `user_pref("ui.systemUsesDarkTheme", 1);`)
	dark.signIn(d.tokens["ada"], "ada (admin)")
	dark.waitText("tarn.trips")
	var bg string
	if dark.eval(`getComputedStyle(document.body).backgroundColor`, &bg); bg != "rgb(13, 17, 23)" {
		t.Fatalf("the dark theme's background is %s", bg)
	}
	dark.page("home-dark")
}
