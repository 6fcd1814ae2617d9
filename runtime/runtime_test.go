package runtime

import (
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
	want := "numpy>=2 pandas==2.2.3 py-yaml==6.0 pyarrow==" + DefaultPyArrow + " six"
	if got != want {
		t.Fatalf("requirements = %q, want %q", got, want)
	}
	pinned := EnvSpec{Packages: map[string]string{"pyarrow": "17.0.0"}}
	if got := pinned.Requirements(); len(got) != 1 || got[0] != "pyarrow==17.0.0" {
		t.Fatalf("an explicit pyarrow pin is replaced: %v", got)
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

func TestSandboxArgs(t *testing.T) {
	argv := []string{"/env/bin/python", "-m", "tarn._worker", "spec.json"}
	o := sandboxOptions{hide: "/home/.tarn", readOnly: []string{"/home/.tarn/envs/x", "", "/proj"}, writable: []string{"/scratch", "/dev/shm/tarn-1"}, workdir: "/scratch"}
	got := strings.Join(sandboxArgs(IsolationBubblewrap, o, argv), " ")
	for _, want := range []string{"--unshare-net", "--tmpfs /home/.tarn", "--ro-bind /proj /proj", "--bind /scratch /scratch", "--chdir /scratch -- /env/bin/python"} {
		if !strings.Contains(got, want) {
			t.Fatalf("bwrap args %q lack %q", got, want)
		}
	}
	if strings.Index(got, "--tmpfs /home/.tarn") > strings.Index(got, "--ro-bind /home/.tarn/envs/x") {
		t.Fatal("the environment is bound before the home is hidden (it would be hidden too)")
	}
	o.network = true
	if strings.Contains(strings.Join(sandboxArgs(IsolationBubblewrap, o, argv), " "), "--unshare-net") {
		t.Fatal("internet access still unshares the network")
	}
	if got := sandboxArgs(IsolationUnshare, sandboxOptions{}, argv); got[0] != "unshare" || got[1] != "--net" {
		t.Fatalf("unshare args %v", got)
	}
	if got := sandboxArgs(IsolationNone, sandboxOptions{}, argv); got[0] != argv[0] {
		t.Fatalf("no isolation changed the command: %v", got)
	}
}
