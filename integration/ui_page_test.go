//go:build integration && browser

package integration

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// What the browser tests share, whichever browser drives the page:
// Chromium over the DevTools protocol (ui_test.go) or Firefox over
// WebDriver BiDi (ui_firefox_test.go).

// uiPage is a page in a browser.
type uiPage interface {
	// evalJSON evaluates a JavaScript expression, awaits it if it is a
	// promise, and decodes its value's JSON into out.
	evalJSON(expr string, out any) error
	// screenshot saves a PNG of the whole page as NAME.png in the
	// screenshots folder, if the browser can take it.
	screenshot(name string)
}

// jsonOf is a JavaScript expression for the JSON of expr's awaited value.
func jsonOf(expr string) string {
	return "(async () => JSON.stringify(await (" + expr + ")) ?? 'null')()"
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// hasText is a JavaScript expression: the page's text contains s.
func hasText(s string) string { return "document.body.innerText.includes(" + jsString(s) + ")" }

// pageText is the text of the first element sel selects ("" if none).
func pageText(p uiPage, sel string) string {
	var s string
	p.evalJSON("document.querySelector("+jsString(sel)+")?.innerText ?? ''", &s)
	return s
}

// waitJS waits up to 90 s until the JavaScript expression is true; then
// it saves a screenshot and fails with the page's text.
func waitJS(t *testing.T, p uiPage, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var ok bool
		if err := p.evalJSON("!!("+expr+")", &ok); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("never %s (%s); page text:\n%s", what, expr, pageText(p, "body"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// setValue sets a field's value as typing would (an input event).
func setValue(t *testing.T, p uiPage, sel, value string) {
	t.Helper()
	var ok bool
	if err := p.evalJSON(`(e => { e.value = `+jsString(value)+`; e.dispatchEvent(new Event('input', {bubbles: true})); return true })(document.querySelector(`+jsString(sel)+`))`, &ok); err != nil {
		t.Fatalf("set %s: %v", sel, err)
	}
}

// shotsDir is the screenshots folder: $TARN_UI_SHOTS (scripts/test.sh
// prints it), or a temporary one.
func shotsDir(t *testing.T) string {
	shots := os.Getenv("TARN_UI_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return shots
}

// axeScript is axe-core's script when ui/node_modules has it ("" if not;
// a failure if TARN_UI_AXE asks for it).
func axeScript(t *testing.T) string {
	axe, err := os.ReadFile("../ui/node_modules/axe-core/axe.min.js")
	if err != nil && os.Getenv("TARN_UI_AXE") != "" {
		t.Fatalf("TARN_UI_AXE is set but axe-core is missing (scripts/ui.sh installs it): %v", err)
	}
	return string(axe)
}

// checkAxe checks the page with axe-core's WCAG 2 A and AA rules (labels,
// contrast, roles...) when axe is axe-core's script.
func checkAxe(t *testing.T, p uiPage, name, axe string) {
	t.Helper()
	if axe == "" {
		return
	}
	var loaded bool
	if err := p.evalJSON("typeof axe !== 'undefined' || (()=>{"+axe+"; return true})()", &loaded); err != nil {
		t.Fatalf("load axe-core on %s: %v", name, err)
	}
	var violations []struct {
		ID, Help string
		Nodes    []struct{ Target []string }
	}
	if err := p.evalJSON(`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}).then(r => r.violations)`, &violations); err != nil {
		t.Fatalf("axe on %s: %v", name, err)
	}
	for _, v := range violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.Join(n.Target, " "))
		}
		t.Errorf("page %s: accessibility (axe %s): %s at %s", name, v.ID, v.Help, strings.Join(where, ", "))
	}
}
