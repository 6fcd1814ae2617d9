package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// attackModels try, from inside a worker, what a hostile model would.
// Each raises an error that names what was refused, or returns a row
// (which makes the test fail: the attack worked).
const attackModels = `import ctypes
import errno
import mmap
import os
import socket

import tarn

libc = ctypes.CDLL(None, use_errno=True)


def refused(what):
    err = ctypes.get_errno()
    raise PermissionError(f"{what} refused: [Errno {err}] {os.strerror(err)}")


def escaped(what):
    return {"escaped": [what]}


@tarn.model()
def capabilities():
    with open("/proc/self/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    if int(status["CapEff"], 16) or int(status["CapPrm"], 16):
        return escaped("capabilities " + status["CapEff"])
    if status["Uid"].split()[0] == "0":
        return escaped("root")
    os.setuid(0)
    return escaped("setuid(0)")


@tarn.model()
def unmount():
    if libc.umount2(b"/tmp", 2) != 0:
        refused("umount /tmp")
    return escaped("umount")


@tarn.model()
def mount():
    if libc.mount(b"none", b"/usr", b"tmpfs", 0, None) != 0:
        refused("mount over /usr")
    return escaped("mount")


@tarn.model()
def remount_root():
    MS_REMOUNT, MS_BIND = 32, 4096
    if libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None) != 0:
        refused("remount / read-write")
    return escaped("remount")


@tarn.model()
def user_namespace():
    CLONE_NEWUSER = 0x10000000
    if libc.unshare(CLONE_NEWUSER) != 0:
        refused("a user namespace")
    return escaped("user namespace")


@tarn.model()
def trace():
    PTRACE_ATTACH = 16
    if libc.ptrace(PTRACE_ATTACH, 1, None, None) != 0:
        refused("ptrace of pid 1")
    return escaped("ptrace")


@tarn.model()
def read_file(path=tarn.Parameter("path")):
    with open(path) as f:
        return escaped(path + ": " + f.read(100))


@tarn.model()
def list_root():
    names = [n for n in os.listdir("/root") if n != ".pyenv"]  # the way to a bound interpreter
    if names:
        return escaped("/root holds " + ", ".join(names))
    raise PermissionError("/root shows nothing of the host")


@tarn.model()
def write_file(path=tarn.Parameter("path")):
    with open(path, "w") as f:
        f.write("x")
    return escaped("wrote " + path)


@tarn.model()
def loopback(port=tarn.Parameter("port")):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=2)
    s.close()
    return escaped("reached 127.0.0.1:" + str(port))


@tarn.model()
def shared_memory():
    size = 4 << 30
    m = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
    for i in range(0, size, 4096):
        m[i] = 1
    return escaped("4 GiB of MAP_SHARED memory")


@tarn.model()
def dev_shm():
    with open("/dev/shm/fill", "wb") as f:
        for _ in range(1024):
            f.write(b"x" * (1 << 20))
    return escaped("1 GiB in /dev/shm")


@tarn.model()
def fill_tmp():
    with open("/tmp/fill", "wb") as f:
        for _ in range(1024):
            f.write(b"x" * (1 << 20))
    return escaped("1 GiB in /tmp")


@tarn.model()
def fill_disk():
    here = os.path.dirname(os.environ.get("TARN_OUT", "") or "/tarn/work/x")
    for n in range(64):
        with open(os.path.join(here, f"fill{n}"), "wb") as f:
            for _ in range(30):
                f.write(b"x" * (1 << 20))
    return escaped("wrote 1.9 GiB")


@tarn.model()
def fork_bomb():
    import time

    children = []
    try:
        for _ in range(10000):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
    finally:
        for pid in children:
            os.kill(pid, 9)
    return escaped(f"started {len(children)} processes")
`

// requireSandbox skips the test without bubblewrap, unless the test tier
// says the sandbox must be there (TARN_REQUIRE_SANDBOX=1, set by scripts/test.sh).
func requireSandbox(t *testing.T) *Sandbox {
	t.Helper()
	sb := testSandbox(t, "")
	if sb.Isolation != IsolationBubblewrap {
		if os.Getenv("TARN_REQUIRE_SANDBOX") == "1" {
			t.Fatalf("TARN_REQUIRE_SANDBOX=1 but the isolation here is %s: %s", sb.Isolation, sb.Describe())
		}
		t.Skipf("no bubblewrap sandbox here (%s)", sb.Describe())
	}
	return sb
}

// TestSandbox_Attacks runs models that try to escape or exhaust the
// sandbox: every attempt must fail, and the step's error must say why.
// It runs as whoever runs the tests; scripts/test.sh runs it as root and
// again as an ordinary user (integration/sandbox_user_test.go).
func TestSandbox_Attacks(t *testing.T) {
	sb := requireSandbox(t)
	f := newPoolFixture(t, IsolationBubblewrap)
	f.opts.Sandbox = sb
	if err := os.WriteFile(filepath.Join(f.opts.ProjectDir, "attacks.py"), []byte(attackModels), 0o644); err != nil {
		t.Fatal(err)
	}
	secretDir := filepath.Join(f.dir, "home")
	os.MkdirAll(secretDir, 0o755)
	secret := filepath.Join(secretDir, "users.json")
	os.WriteFile(secret, []byte(`{"admin": "token"}`), 0o644)
	homeMarker := ""
	if home, err := os.UserHomeDir(); err == nil {
		homeMarker = filepath.Join(home, fmt.Sprintf(".tarn-sandbox-test-%d", os.Getpid()))
		if os.WriteFile(homeMarker, []byte("operator's token"), 0o644) == nil {
			defer os.Remove(homeMarker)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	param := func(k string, v any) func(*StepSpec, *WorkerOptions) {
		return func(s *StepSpec, _ *WorkerOptions) { s.Parameters[k] = v }
	}
	limits := func(l Limits) func(*StepSpec, *WorkerOptions) {
		return func(s *StepSpec, o *WorkerOptions) { o.Limits = l; s.MemoryLimit = l.Memory }
	}
	cases := []struct {
		name, function string
		change         func(*StepSpec, *WorkerOptions)
		reason         string   // one of these, separated by |
		want           []string // any of these in the message
	}{
		{"raise capabilities", "capabilities", nil, "failed", []string{"Operation not permitted", "Invalid argument"}},
		{"unmount", "unmount", nil, "failed", []string{"umount /tmp refused"}},
		{"mount", "mount", nil, "failed", []string{"mount over /usr refused"}},
		{"remount root", "remount_root", nil, "failed", []string{"remount / read-write refused"}},
		{"user namespace", "user_namespace", nil, "failed", []string{"a user namespace refused"}},
		{"ptrace", "trace", nil, "failed", []string{"ptrace of pid 1 refused"}},
		{"read the home", "read_file", param("path", secret), "failed", []string{"No such file or directory"}},
		{"read /etc/shadow", "read_file", param("path", "/etc/shadow"), "failed", []string{"No such file or directory"}},
		{"list /root", "list_root", nil, "failed", []string{"/root shows nothing of the host", "No such file or directory", "Permission denied"}},
		{"write the project", "write_file", param("path", filepath.Join(f.opts.ProjectDir, "x.py")), "failed", []string{"Read-only file system"}},
		{"write /usr", "write_file", param("path", "/usr/lib/x"), "failed", []string{"Read-only file system"}},
		{"write the SDK", "write_file", param("path", filepath.Join(f.opts.SDKDir, "tarn", "x.py")), "failed", []string{"Read-only file system"}},
		{"write another worker's directory", "write_file", param("path", filepath.Join(f.opts.WorkRoot, "x")), "failed", []string{"Read-only file system"}},
		{"reach loopback", "loopback", param("port", port), "failed", []string{"Connection refused", "Network is unreachable"}},
		{"MAP_SHARED past the memory limit", "shared_memory", limits(Limits{Memory: 256 << 20}), "memory", []string{"256.0 MiB", "Cannot allocate memory"}},
		// With a cgroup the memory limit stops it; with rlimits, the size of /dev/shm.
		{"/dev/shm past the memory limit", "dev_shm", limits(Limits{Memory: 256 << 20, Disk: 512 << 20}), "memory|disk", []string{"256.0 MiB", "512.0 MiB"}},
		{"fill /tmp", "fill_tmp", limits(Limits{Memory: 2 << 30, Disk: 64 << 20}), "disk", []string{"No space left on device", "64.0 MiB"}},
		{"fill the disk", "fill_disk", limits(Limits{Disk: 100 << 20}), "disk", []string{"disk limit of 100.0 MiB"}},
		{"fork past the process limit", "fork_bomb", limits(Limits{Processes: 64}), "failed", []string{"Resource temporarily unavailable"}},
	}
	if homeMarker != "" {
		cases = append(cases, struct {
			name, function string
			change         func(*StepSpec, *WorkerOptions)
			reason         string
			want           []string
		}{"read the operator's home", "read_file", param("path", homeMarker), "failed", []string{"No such file or directory", "Permission denied"}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err, out := f.run(t, nil, strings.ReplaceAll(tc.function, "_", "-"), tc.function, func(s *StepSpec, o *WorkerOptions) {
				s.File = "attacks.py"
				if tc.change != nil {
					tc.change(s, o)
				}
			})
			var se *StepError
			if !errors.As(err, &se) {
				t.Fatalf("the attack was not refused (err %v):\n%s", err, strings.Join(out, "\n"))
			}
			if !strings.Contains("|"+tc.reason+"|", "|"+se.Reason+"|") {
				t.Fatalf("reason %q, want %q: %v", se.Reason, tc.reason, se.Msg)
			}
			found := false
			for _, w := range tc.want {
				found = found || strings.Contains(se.Msg, w)
			}
			if !found {
				t.Fatalf("the error does not say why (want one of %q):\n%s", tc.want, se.Msg)
			}
			waitNoProcesses(t, f.dir)
		})
	}
}

// TestSandbox_Verified: the sandbox's own probe saw no capabilities and
// the sandbox uid, and says so.
func TestSandbox_Verified(t *testing.T) {
	sb := requireSandbox(t)
	if !sb.Strong() || !strings.Contains(sb.Verified, "no capabilities") {
		t.Fatalf("bubblewrap is not verified: %q", sb.Verified)
	}
	if os.Geteuid() == 0 && sb.UID == 0 {
		t.Fatal("as root, the sandbox keeps uid 0")
	}
	if !strings.Contains(sb.Describe(), fmt.Sprintf("uid %d", sb.UID)) {
		t.Fatalf("Describe does not name the uid: %s", sb.Describe())
	}
}
