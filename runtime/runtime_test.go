package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvSpec_Key(t *testing.T) {
	a := EnvSpec{Python: "3.11", Packages: map[string]string{"pandas": "2.2.3", "Polars": "1.9.0"}}
	b := EnvSpec{Python: "3.11", Packages: map[string]string{"polars": "1.9.0", "pandas": "2.2.3"}}
	if a.Key("sdk1") != b.Key("sdk1") {
		t.Fatal("the key depends on package order or case")
	}
	for name, other := range map[string]EnvSpec{
		"Python": {Python: "3.12", Packages: b.Packages},
		"Pin":    {Python: "3.11", Packages: map[string]string{"pandas": "2.2.2", "polars": "1.9.0"}},
		"Extra":  {Python: "3.11", Packages: map[string]string{"pandas": "2.2.3", "polars": "1.9.0", "six": "1.16.0"}},
	} {
		if other.Key("sdk1") == a.Key("sdk1") {
			t.Fatalf("changing %s does not change the key", name)
		}
	}
	if a.Key("sdk1") == a.Key("sdk2") {
		t.Fatal("the SDK version does not change the key")
	}
}

func TestEnvSpec_Requirements(t *testing.T) {
	got := strings.Join(EnvSpec{Packages: map[string]string{"pandas": "2.2.3", "numpy": ">=2", "six": "", "Py_Yaml": "6.0"}}.Requirements(), " ")
	want := "numpy>=2 pandas==2.2.3 py-yaml==6.0 pyarrow" + PyArrowRange + " six"
	if got != want {
		t.Fatalf("requirements = %q, want %q", got, want)
	}
	pinned := EnvSpec{Packages: map[string]string{"pyarrow": "17.0.0"}}
	if got := pinned.Requirements(); len(got) != 1 || got[0] != "pyarrow==17.0.0" {
		t.Fatalf("an explicit pyarrow pin is replaced: %v", got)
	}
}

func TestWithPyArrow(t *testing.T) {
	got := strings.Join(withPyArrow([]string{"pandas==2.1.4", "pyarrow>=14,<=26.0.1", "pyarrow-hotfix==0.6"}, pyarrowNumPy1), " ")
	if got != "pyarrow>=14,<26 pandas==2.1.4 pyarrow-hotfix==0.6" {
		t.Fatalf("withPyArrow: %q", got)
	}
}

func TestPickInterpreter(t *testing.T) {
	all := []Interpreter{{Version: "3.10.13", Path: "/a"}, {Version: "3.11.7", Path: "/b"}}
	if in, err := PickInterpreter(all, "3.11"); err != nil || in.Path != "/b" {
		t.Fatalf("3.11: %v %v", in, err)
	}
	if in, err := PickInterpreter(all, "3.10.13"); err != nil || in.Path != "/a" {
		t.Fatalf("3.10.13: %v %v", in, err)
	}
	_, err := PickInterpreter(all, "3.99")
	if err == nil || !strings.Contains(err.Error(), "available: 3.10, 3.11") {
		t.Fatalf("missing interpreter: %v", err)
	}
}

func TestVersionLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{{"3.9.1", "3.10.0", true}, {"3.11.7", "3.11.2", false}, {"3.11", "3.11.1", true}, {"3.12.1", "3.12.1", false}} {
		if got := versionLess(tc.a, tc.b); got != tc.less {
			t.Fatalf("versionLess(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

func TestSandbox_Wrap(t *testing.T) {
	argv := []string{"/env/bin/python", "-m", "tarn._worker", "spec.json"}
	c := Confinement{ReadOnly: []string{"/envs/x", "", "/proj", "/proj"}, Binds: map[string]string{"/tarn/work": "/run/w-1"}, Workdir: "/tmp"}
	prog := filepath.Join(t.TempDir(), "seccomp.bpf")
	if err := os.WriteFile(prog, seccompProgram(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, root := range []bool{false, true} {
		s := &Sandbox{Isolation: IsolationBubblewrap, root: root, UID: 65534, GID: 65534, passwd: "/state/passwd", group: "/state/group", seccomp: prog,
			system: []string{"--ro-bind", "/usr", "/usr"}, limits: &limiter{kind: limitsRlimit}}
		got, files, err := s.Wrap(c, argv, 4)
		if err != nil {
			t.Fatal(err)
		}
		closeAll(files)
		line := strings.Join(got, " ")
		for _, want := range []string{"--unshare-net", "--unshare-pid", "--new-session", "--die-with-parent", "--ro-bind /usr /usr",
			"--ro-bind /proj /proj", "--bind /run/w-1 /tarn/work", "--perms 1777 --size", "--tmpfs /tmp", "--tmpfs /dev/shm", "--seccomp 4",
			"--chdir /tmp --"} {
			if !strings.Contains(line, want) {
				t.Fatalf("root %v: bwrap args %q lack %q", root, line, want)
			}
		}
		if strings.Contains(line, "--ro-bind / /") || strings.Count(line, "/proj /proj") != 1 {
			t.Fatalf("root %v: the host's root is bound, or a path twice: %q", root, line)
		}
		switch {
		case root && !strings.Contains(line, "-- setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps -all --bounding-set -all --no-new-privs -- /env/bin/python"):
			t.Fatalf("as root the sandbox does not drop to uid 65534 before the command: %q", line)
		case !root && (strings.Contains(line, "setpriv") || !strings.Contains(line, "--unshare-user --disable-userns")):
			t.Fatalf("as a user the sandbox needs a user namespace and no setpriv: %q", line)
		}
	}
	s := &Sandbox{Isolation: IsolationBubblewrap, passwd: "/p", group: "/g", limits: &limiter{kind: limitsRlimit}}
	c.Network = true
	got, _, _ := s.Wrap(c, argv, 3)
	if line := strings.Join(got, " "); strings.Contains(line, "--unshare-net") || !strings.Contains(line, "--ro-bind-try /etc/resolv.conf") {
		t.Fatalf("network access: %q", line)
	}
	for _, iso := range []Isolation{IsolationUnshare, IsolationNone} {
		s := &Sandbox{Isolation: iso, root: true, shared: true, UID: 65534, GID: 65534, limits: &limiter{kind: limitsRlimit}}
		got, _, _ := s.Wrap(Confinement{}, argv, 3)
		if line := strings.Join(got, " "); !strings.Contains(line, "setpriv --reuid 65534") {
			t.Fatalf("%s on a shared server as root keeps root: %q", iso, line)
		}
	}
}

func TestProcStatus_Check(t *testing.T) {
	const confined = "Uid:\t65534\t65534\t65534\t65534\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n"
	if err := ParseProcStatus(confined).Check(65534, true); err != nil {
		t.Fatalf("a confined worker fails the check: %v", err)
	}
	for name, status := range map[string]string{
		"capabilities": strings.Replace(confined, "0000000000000000", "000001fffeffffff", 1),
		"root":         strings.Replace(confined, "65534\t65534\t65534\t65534", "0\t0\t0\t0", 1),
		"new privs":    strings.Replace(confined, "NoNewPrivs:\t1", "NoNewPrivs:\t0", 1),
		"empty":        "",
	} {
		if err := ParseProcStatus(status).Check(65534, true); err == nil {
			t.Errorf("%s: the check passes", name)
		}
	}
}

func TestEnvManager_KeyCoversSources(t *testing.T) {
	spec := EnvSpec{Python: "3.11", Packages: map[string]string{"pandas": "2.2.3"}}
	wheels := t.TempDir()
	os.WriteFile(filepath.Join(wheels, "rtpkg-1.0-py3-none-any.whl"), []byte("alice's"), 0o644)
	key := func(ix IndexConfig) string { return (&EnvManager{SDKVersion: "s", Index: ix}).Key(spec) }
	base := key(IndexConfig{})
	if base != spec.Key("s") {
		t.Fatal("the default sources change the key")
	}
	seen := map[string]string{"default": base}
	for name, ix := range map[string]IndexConfig{
		"index":   {URL: "https://mirror/simple"},
		"wheels":  {FindLinks: wheels},
		"offline": {Offline: true},
		"nobuild": {NoBuild: true},
		"owner":   {FindLinks: wheels, Owner: "alice"},
	} {
		k := key(ix)
		for other, ok := range seen {
			if ok == k {
				t.Errorf("sources %s and %s share a key", name, other)
			}
		}
		seen[name] = k
	}
	before := key(IndexConfig{FindLinks: wheels})
	os.WriteFile(filepath.Join(wheels, "rtpkg-1.0-py3-none-any.whl"), []byte("bob's wheel of the same name"), 0o644)
	if key(IndexConfig{FindLinks: wheels}) == before {
		t.Fatal("another wheel under the same name keeps the key")
	}
}

// TestEnsure_CachedPrefixIsKnown: the installation bound into an
// environment's sandboxes is one of the interpreters tarn finds, not
// whatever the environment's pyvenv.cfg says: a package can rewrite that
// file (a wheel's .data/data/pyvenv.cfg lands on it) to have a host
// folder (the lakehouse's home, say) bound into every step.
func TestEnsure_CachedPrefixIsKnown(t *testing.T) {
	ctx := context.Background()
	m := &EnvManager{Dir: t.TempDir(), SDKVersion: "s"}
	interps := m.quickInterpreters(ctx)
	if len(interps) == 0 {
		t.Fatal("no Python interpreter found")
	}
	spec := EnvSpec{Python: interps[0].Minor()}
	dir := filepath.Join(m.Dir, m.Key(spec))
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "tarn-env.json"), []byte(`{"python_version":"`+interps[0].Version+`"}`), 0o644)
	real := InterpreterPrefixOf(interps[0].Path)
	for _, c := range []struct {
		name, home, want string
	}{
		{"Genuine", filepath.Join(real, "bin"), real},
		{"Rewritten", filepath.Join(m.Dir, "bin"), ""}, // a folder of the host that is no interpreter's
		{"Root", "/", ""},
		{"None", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := "include-system-site-packages = false\n"
			if c.home != "" {
				cfg = "home = " + c.home + "\n" + cfg
			}
			os.WriteFile(filepath.Join(dir, "pyvenv.cfg"), []byte(cfg), 0o644)
			env, err := m.Ensure(ctx, spec, nil)
			if c.want != "" {
				if err != nil || env.Prefix != c.want || !env.Cached {
					t.Fatalf("Ensure = %+v, %v; want the prefix %s", env, err, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "names an interpreter installation tarn does not know") || !strings.Contains(err.Error(), dir) {
				t.Fatalf("Ensure with pyvenv.cfg home %q = %+v, %v; want a refusal naming the folder", c.home, env, err)
			}
		})
	}
}

// TestWriteNew: a file tarn writes into a folder a sandboxed process
// wrote replaces a link there instead of writing through it.
func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("host file"), 0o600)
	p := filepath.Join(dir, "tarn-env.json")
	if err := os.Symlink(victim, p); err != nil {
		t.Fatal(err)
	}
	if err := writeNew(p, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "host file" {
		t.Fatalf("the link's target was written: %q", b)
	}
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("%s is %v, %v: want a regular file", p, fi, err)
	}
}
