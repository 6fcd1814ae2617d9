package pipeline

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
	rt "github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/secret"
)

// secretProject is a project whose model uses secret tok (and n), beside
// a secret no step uses.
func secretProject(t *testing.T, keys *secret.Keys, value string) (*Project, *Plan) {
	t.Helper()
	sealed, err := secret.Seal(keys.PublicKey(), "tok", value)
	if err != nil {
		t.Fatal(err)
	}
	m := &Model{Name: "m", Kind: "python", Function: "m", CodeHash: "h",
		Parameters: []ParamRef{{Param: "token", Name: "tok"}, {Param: "n", Name: "n"}}}
	p := &Project{Name: "p", Parameters: map[string]ParamDecl{
		"tok":    {Type: TypeSecret, Value: sealed},
		"unused": {Type: TypeSecret, Value: tarn.SecretPrefix + "corrupt"},
		"n":      {Type: "int", Default: 3},
	}}
	return p, &Plan{Steps: []*Step{{Model: m}}}
}

func newKeys(t *testing.T) *secret.Keys {
	t.Helper()
	k, err := secret.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func runnerOf(keys *secret.Keys) *Runner {
	return &Runner{Envs: &rt.EnvManager{}, Secrets: func() (SecretKeys, error) { return keys, nil }}
}

// stepKeyOf is the cache key of the plan's step, its secrets opened with keys.
func stepKeyOf(t *testing.T, r *Runner, p *Project, plan *Plan) string {
	t.Helper()
	secrets, err := r.openSecrets(p, plan)
	if err != nil {
		t.Fatal(err)
	}
	params, err := p.ResolveParams(nil)
	if err != nil {
		t.Fatal(err)
	}
	ex := &execution{r: r, p: p, plan: plan, params: params, secrets: secrets}
	if err := ex.computeKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	return ex.keys["m"]
}

func TestRunner_OpenSecrets(t *testing.T) {
	keys := newKeys(t)
	p, plan := secretProject(t, keys, "hunter2")
	s, err := runnerOf(keys).openSecrets(p, plan)
	if err != nil {
		t.Fatal(err) // the corrupt secret no step uses is not opened
	}
	if len(s.values) != 1 || s.values["tok"] != "hunter2" {
		t.Fatalf("opened %v", s.values)
	}
	if got := s.mask.Mask("it is hunter2"); got != "it is ***" {
		t.Fatalf("mask: %q", got)
	}
	// Sealed for another lakehouse, or corrupt: both are told, with what to do.
	other := newKeys(t)
	_, err = runnerOf(other).openSecrets(p, plan)
	if !strings.Contains(err.Error(), "secret tok was encrypted for another lakehouse; set it again with `tarn parameter set tok --type secret`") {
		t.Fatalf("another lakehouse's secret: %v", err)
	}
	plan.Steps[0].Model.Parameters = append(plan.Steps[0].Model.Parameters, ParamRef{Param: "u", Name: "unused"})
	_, err = runnerOf(other).openSecrets(p, plan)
	if tarn.ErrorCode(err) != tarn.EINVALID || !strings.Contains(err.Error(), "2 problems") || !strings.Contains(err.Error(), "secret unused is corrupt") ||
		!strings.Contains(err.Error(), "tarn_project.yml: secret tok was encrypted for another lakehouse") {
		t.Fatalf("two bad secrets: %v", err)
	}
	if _, err := (&Runner{}).openSecrets(p, plan); err == nil || !strings.Contains(err.Error(), "holds no lakehouse key") {
		t.Fatalf("a runner without keys: %v", err)
	}
}

// TestExecution_SecretCacheKey: a secret enters the step's key as a
// keyed hash: another value, or the same value on another lakehouse,
// gives another key, and resealing the same value the same key.
func TestExecution_SecretCacheKey(t *testing.T) {
	keys := newKeys(t)
	p, plan := secretProject(t, keys, "hunter2")
	base := stepKeyOf(t, runnerOf(keys), p, plan)
	p2, plan2 := secretProject(t, keys, "hunter2") // sealed again: another ciphertext
	if p2.Parameters["tok"].Value == p.Parameters["tok"].Value || stepKeyOf(t, runnerOf(keys), p2, plan2) != base {
		t.Fatal("resealing the same value changed the key")
	}
	p3, plan3 := secretProject(t, keys, "hunter3")
	if stepKeyOf(t, runnerOf(keys), p3, plan3) == base {
		t.Fatal("another secret value gave the same key")
	}
	other := newKeys(t)
	p4, plan4 := secretProject(t, other, "hunter2")
	if stepKeyOf(t, runnerOf(other), p4, plan4) == base {
		t.Fatal("the key does not depend on the lakehouse's key: it would be a plain hash of the value")
	}
}

func TestExecution_HideSecrets(t *testing.T) {
	ex := &execution{secrets: &runSecrets{mask: rt.NewMasker("hunter2")}}
	res := &tarn.RunResult{Steps: []*tarn.StepReport{{Error: "step m failed: hunter2"}}}
	err := ex.hideSecrets(res, tarn.Errorf(tarn.EINVALID, "step m failed: refused hunter2"))
	if err.Error() != "step m failed: refused ***" || tarn.ErrorCode(err) != tarn.EINVALID || res.Steps[0].Error != "step m failed: ***" {
		t.Fatalf("hidden: %v, %+v", err, res.Steps[0])
	}
	var events []tarn.RunEvent
	ex.r = &Runner{Events: func(e tarn.RunEvent) { events = append(events, e) }}
	ex.emit(tarn.RunEvent{Kind: tarn.EventLog, Message: "token hunter2"})
	if events[0].Message != "token ***" {
		t.Fatalf("event %+v", events[0])
	}
}
