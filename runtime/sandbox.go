package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Isolation names the mechanism that confines workers.
type Isolation string

// Isolation mechanisms, strongest first.
const (
	// IsolationBubblewrap: bwrap with only what a worker needs bound
	// (system libraries, the interpreter, the environment, the SDK, the
	// project, its inputs), a private /tmp, PID, IPC and network
	// namespaces, no capabilities, an unprivileged uid and a seccomp filter.
	IsolationBubblewrap Isolation = "bubblewrap"
	// IsolationUnshare: `unshare --net` (no network) as an unprivileged
	// uid; the filesystem is not confined.
	IsolationUnshare Isolation = "unshare"
	// IsolationNone: a separate process with a scrubbed environment and
	// rlimits only.
	IsolationNone Isolation = "process"
)

// DefaultSandboxUID is the uid (and gid) sandboxed processes run as when
// tarn runs as root: nobody.
const DefaultSandboxUID = 65534

// SandboxConfig configures NewSandbox.
type SandboxConfig struct {
	// UID and GID are what sandboxed processes switch to when tarn runs
	// as root (default DefaultSandboxUID). As any other user tarn's own
	// uid is kept, inside a user namespace.
	UID, GID int
	// StateDir holds the files the sandbox generates (a passwd file, the
	// seccomp program); it is created. Default: a directory in os.TempDir.
	StateDir string
	// Isolation, when set, is used instead of the strongest one found
	// (tests use IsolationNone to compare).
	Isolation Isolation
	// NoCgroups makes the limits use rlimits even where cgroups work.
	NoCgroups bool
	// Shared says the sandbox runs the code of several users (tarn
	// serve): then, when tarn runs as root, even weaker isolation than
	// bubblewrap runs user code as UID. Otherwise (one user's own code)
	// only bubblewrap switches uid, since without a mount namespace uid
	// UID could not read a project or a home that only root may read.
	Shared bool
}

// Sandbox confines the processes tarn starts for user code (workers,
// environment builds, the Parquet writer): what they see, which uid they
// run as, which system calls they may make and how much they may use.
// Create one per process with NewSandbox; it is safe for concurrent use.
type Sandbox struct {
	Isolation Isolation
	// UID and GID are the ids sandboxed processes run as (outside any
	// user namespace).
	UID, GID int
	// Verified is what a probe inside the sandbox saw (capabilities, uid),
	// empty when no probe ran.
	Verified string

	root     bool     // tarn runs as root: drop to UID with setpriv after bwrap mounts
	shared   bool     // see SandboxConfig.Shared
	seccomp  string   // path of the compiled filter ("" when none)
	passwd   string   // generated /etc/passwd and /etc/group for the sandbox
	group    string   //
	system   []string // bwrap arguments binding the host's system directories
	limits   *limiter
	stateDir string
}

// NewSandbox probes the host for the strongest isolation it offers and
// prepares it. It never fails for want of a mechanism: the result says
// what is in force (Describe), and a server decides whether that is
// enough (Strong).
func NewSandbox(ctx context.Context, cfg SandboxConfig) (*Sandbox, error) {
	if cfg.UID == 0 {
		cfg.UID = DefaultSandboxUID
	}
	if cfg.GID == 0 {
		cfg.GID = cfg.UID
	}
	s := &Sandbox{root: os.Geteuid() == 0, shared: cfg.Shared, UID: os.Getuid(), GID: os.Getgid()}
	if s.root {
		s.UID, s.GID = cfg.UID, cfg.GID
		if _, err := exec.LookPath("setpriv"); err != nil {
			return nil, fmt.Errorf("sandbox: tarn runs as root and needs setpriv (util-linux) to run user code as uid %d: %w", cfg.UID, err)
		}
	}
	s.stateDir = cfg.StateDir
	if s.stateDir == "" {
		s.stateDir = filepath.Join(os.TempDir(), fmt.Sprintf("tarn-sandbox-%d", os.Getuid()))
	}
	if err := os.MkdirAll(s.stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: create %s: %w", s.stateDir, err)
	}
	if err := s.writeFiles(); err != nil {
		return nil, err
	}
	s.system = systemBinds()
	s.limits = newLimiter(!cfg.NoCgroups)
	s.Isolation = cfg.Isolation
	if s.Isolation == "" {
		s.Isolation = s.detect(ctx)
	}
	if s.root && !s.dropsTo(s.Isolation) {
		s.UID, s.GID = 0, 0 // user code runs as root: Describe says so
	}
	if s.Isolation == IsolationBubblewrap {
		v, err := s.verify(ctx)
		if err != nil {
			return nil, err
		}
		s.Verified = v
	}
	return s, nil
}

// writeFiles writes the seccomp program and the passwd/group files the
// sandbox binds (user code that looks up its own uid finds a name).
func (s *Sandbox) writeFiles() error {
	write := func(name string, data []byte) (string, error) {
		p := filepath.Join(s.stateDir, name)
		if b, err := os.ReadFile(p); err == nil && string(b) == string(data) {
			return p, nil
		}
		tmp := p + fmt.Sprintf(".%d.tmp", os.Getpid())
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return "", fmt.Errorf("sandbox: write %s: %w", p, err)
		}
		return p, os.Rename(tmp, p)
	}
	var err error
	if s.passwd, err = write("passwd", fmt.Appendf(nil, "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\ntarn:x:%d:%d:tarn sandbox:/tmp:/usr/sbin/nologin\n", s.UID, s.GID)); err != nil {
		return err
	}
	if s.group, err = write("group", fmt.Appendf(nil, "root:x:0:\ntarn:x:%d:\n", s.GID)); err != nil {
		return err
	}
	if prog := seccompProgram(); prog != nil {
		if s.seccomp, err = write("seccomp.bpf", prog); err != nil {
			return err
		}
	}
	return nil
}

// detect finds the strongest mechanism that works here.
func (s *Sandbox) detect(ctx context.Context) Isolation {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := exec.LookPath("bwrap"); err == nil {
		argv, files, err := s.wrap(IsolationBubblewrap, Confinement{}, []string{"/bin/true"}, 3)
		if err == nil && runQuiet(ctx, argv, files) == nil {
			return IsolationBubblewrap
		}
	}
	if _, err := exec.LookPath("unshare"); err == nil {
		argv, files, err := s.wrap(IsolationUnshare, Confinement{}, []string{"/bin/true"}, 3)
		if err == nil && runQuiet(ctx, argv, files) == nil {
			return IsolationUnshare
		}
	}
	return IsolationNone
}

func runQuiet(ctx context.Context, argv []string, files []*os.File) error {
	defer closeAll(files)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.ExtraFiles = files
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	return cmd.Run()
}

// verify runs a probe in the sandbox and checks what it sees: no
// effective capabilities, the sandbox uid, no new privileges.
func (s *Sandbox) verify(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	argv, files, err := s.wrap(s.Isolation, Confinement{}, []string{"/bin/cat", "/proc/self/status"}, 3)
	if err != nil {
		return "", err
	}
	defer closeAll(files)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.ExtraFiles = files
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("sandbox: the probe failed: %w", err)
	}
	st := ParseProcStatus(string(out))
	if err := st.Check(s.UID, true); err != nil {
		return "", fmt.Errorf("sandbox: bubblewrap works here but does not confine: %w", err)
	}
	return st.String(), nil
}

// ProcStatus is what /proc/self/status says of a process's privileges.
type ProcStatus struct {
	CapEff, CapBnd string
	UID            int
	Threads        int
	NoNewPrivs     bool
	Seccomp        int // 0 none, 2 filter
}

// ParseProcStatus reads the fields of /proc/PID/status that tell a
// process's privileges.
func ParseProcStatus(text string) ProcStatus {
	st := ProcStatus{UID: -1}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "CapEff":
			st.CapEff = val
		case "CapBnd":
			st.CapBnd = val
		case "Uid":
			if f := strings.Fields(val); len(f) > 0 {
				st.UID, _ = strconv.Atoi(f[0])
			}
		case "Threads":
			st.Threads, _ = strconv.Atoi(val)
		case "NoNewPrivs":
			st.NoNewPrivs = val == "1"
		case "Seccomp":
			st.Seccomp, _ = strconv.Atoi(val)
		}
	}
	return st
}

// Check says what is wrong with a sandboxed process's privileges: any
// effective capability, a uid other than uid, or (with noNewPrivs) the
// ability to gain privileges through setuid programs.
func (st ProcStatus) Check(uid int, noNewPrivs bool) error {
	var problems []string
	if st.CapEff == "" || strings.Trim(st.CapEff, "0") != "" {
		problems = append(problems, fmt.Sprintf("effective capabilities %q (want none)", st.CapEff))
	}
	if st.UID != uid {
		problems = append(problems, fmt.Sprintf("uid %d (want %d)", st.UID, uid))
	}
	if st.UID == 0 {
		problems = append(problems, "it runs as root")
	}
	if noNewPrivs && !st.NoNewPrivs {
		problems = append(problems, "it may gain privileges (no_new_privs is off)")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func (st ProcStatus) String() string {
	s := fmt.Sprintf("uid %d, no capabilities", st.UID)
	if st.Seccomp == 2 {
		s += ", seccomp filter"
	}
	return s
}

// checkWorker checks what a worker reported of its own privileges as it
// ran a step: no capabilities, the sandbox uid (and no_new_privs in
// bubblewrap). The probe in NewSandbox is the real check; this one catches
// a worker that was started some other way.
func (s *Sandbox) checkWorker(res *StepResult) error {
	if s == nil || res.Status == "" || s.UID == 0 {
		return nil // as root without a switch Describe says so already
	}
	return ParseProcStatus(res.Status).Check(s.UID, s.Isolation == IsolationBubblewrap)
}

// Strong says whether the sandbox confines user code enough to share a
// server: bubblewrap, checked.
func (s *Sandbox) Strong() bool {
	return s != nil && s.Isolation == IsolationBubblewrap && s.Verified != ""
}

// Describe says in a sentence what confines user code.
func (s *Sandbox) Describe() string {
	if s == nil {
		return string(IsolationNone)
	}
	who := fmt.Sprintf("uid %d", s.UID)
	if s.UID == 0 {
		who = "uid 0 (ROOT: user code runs with root's privileges)"
	}
	switch s.Isolation {
	case IsolationBubblewrap:
		sc := ""
		if s.seccomp != "" {
			sc = ", seccomp"
		}
		return fmt.Sprintf("bubblewrap sandbox (%s, no capabilities%s, only the interpreter, environment, SDK, project and inputs visible, private /tmp, no network unless allowed, and then through a policy proxy on a server); limits: %s", who, sc, s.limits.describe())
	case IsolationUnshare:
		return fmt.Sprintf("network namespace as %s (no network unless allowed); the filesystem is NOT confined (install bubblewrap); limits: %s", who, s.limits.describe())
	}
	return fmt.Sprintf("separate process as %s with a scrubbed environment; network and filesystem are NOT confined (install bubblewrap); limits: %s", who, s.limits.describe())
}

// Limits are what one sandboxed process (and everything it starts) may use.
type Limits struct {
	Memory    int64 // bytes of memory, shared memory included (0: none)
	Processes int   // processes and threads (0: none)
	Disk      int64 // bytes it may write: per file, and in all in its own directory (0: none)
	// Inputs is the size of the files the process maps (counted by the
	// address-space limit where no cgroup bounds memory).
	Inputs int64
}

// Confinement says what one sandboxed command may see and do.
type Confinement struct {
	ReadOnly []string // directories and files bound read-only
	Writable []string // directories bound read-write
	Network  bool     // share the host's network (else none)
	Workdir  string   // working directory (default /tmp)
	// Tmp is a host directory bound at /tmp (else /tmp is a tmpfs the
	// size of the disk limit).
	Tmp    string
	Limits Limits
	// Binds are bound read-write at a destination of their own (dst → src).
	Binds map[string]string
	// Files are bound read-only at a destination of their own (dst → src).
	Files map[string]string
}

// Wrap turns argv into the command line that runs it confined, and the
// files that command needs as descriptors fdBase, fdBase+1, ... (the
// seccomp program; the caller's own extra descriptors come first). The
// limits are applied when the process starts (startProcess). A nil
// Sandbox runs argv as it is.
func (s *Sandbox) Wrap(c Confinement, argv []string, fdBase int) ([]string, []*os.File, error) {
	if s == nil {
		return argv, nil, nil
	}
	return s.wrap(s.Isolation, c, argv, fdBase)
}

func (s *Sandbox) wrap(iso Isolation, c Confinement, argv []string, fdBase int) ([]string, []*os.File, error) {
	drop := s.dropPrivileges(iso)
	switch iso {
	case IsolationBubblewrap:
		args := []string{"bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"}
		if !s.root {
			args = append(args, "--unshare-user", "--disable-userns")
		}
		if !c.Network {
			args = append(args, "--unshare-net")
		}
		args = append(args, s.system...)
		args = append(args, "--ro-bind", s.passwd, "/etc/passwd", "--ro-bind", s.group, "/etc/group")
		if c.Network {
			for _, f := range []string{"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf"} {
				args = append(args, "--ro-bind-try", f, f)
			}
		}
		args = append(args, "--proc", "/proc", "--dev", "/dev",
			"--perms", "1777", "--size", strconv.FormatInt(shmSize(c.Limits), 10), "--tmpfs", "/dev/shm")
		if c.Tmp != "" {
			args = append(args, "--bind", c.Tmp, "/tmp")
		} else {
			args = append(args, "--perms", "1777", "--size", strconv.FormatInt(tmpfsSize(c.Limits.Disk), 10), "--tmpfs", "/tmp")
		}
		args = append(args, bindArgs(c)...)
		var files []*os.File
		if s.seccomp != "" {
			f, err := os.Open(s.seccomp)
			if err != nil {
				return nil, nil, fmt.Errorf("sandbox: open the seccomp program: %w", err)
			}
			files = append(files, f)
			args = append(args, "--seccomp", strconv.Itoa(fdBase))
		}
		wd := c.Workdir
		if wd == "" {
			wd = "/tmp"
		}
		args = append(args, "--chdir", wd, "--")
		return append(append(args, drop...), argv...), files, nil
	case IsolationUnshare:
		if !c.Network {
			return append(append([]string{"unshare", "--net", "--"}, drop...), argv...), nil, nil
		}
	}
	return append(drop, argv...), nil, nil
}

// dropsTo says whether processes confined by iso switch to the sandbox
// uid when tarn runs as root (see SandboxConfig.Shared).
func (s *Sandbox) dropsTo(iso Isolation) bool {
	return s.root && (iso == IsolationBubblewrap || s.shared)
}

// dropPrivileges is the command prefix that switches a process started
// by root to the sandbox uid with no capabilities left (none as another
// user: bubblewrap's user namespace has none to give).
func (s *Sandbox) dropPrivileges(iso Isolation) []string {
	if !s.dropsTo(iso) {
		return nil
	}
	return []string{"setpriv", "--reuid", strconv.Itoa(s.UID), "--regid", strconv.Itoa(s.GID), "--clear-groups",
		"--inh-caps", "-all", "--bounding-set", "-all", "--no-new-privs", "--"}
}

// tmpfsSize is the size of a private /tmp in memory (a command without a
// scratch directory of its own): the disk limit, or 1 GiB without one.
func tmpfsSize(disk int64) int64 {
	if disk > 0 {
		return disk
	}
	return 1 << 30
}

// shmSize is the size of a sandbox's /dev/shm: its memory limit (whose
// cgroup counts the pages in it too), or 1 GiB without one.
func shmSize(lim Limits) int64 {
	if lim.Memory > 0 {
		return lim.Memory
	}
	return 1 << 30
}

// systemBinds binds what every process needs from the host, read-only:
// /usr and the top-level links or directories into it, the dynamic
// loader's configuration, certificates and time zone data. Nothing else
// of /etc, no home directory, no /root, no /var.
func systemBinds() []string {
	args := []string{"--ro-bind", "/usr", "/usr", "--perms", "0755", "--dir", "/etc"}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"} {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(d); err == nil {
				args = append(args, "--symlink", target, d)
			}
		case fi.IsDir():
			args = append(args, "--ro-bind", d, d)
		}
	}
	for _, p := range []string{"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/ssl", "/etc/ca-certificates",
		"/etc/pki", "/etc/localtime", "/etc/timezone", "/etc/alternatives", "/etc/mime.types", "/etc/os-release"} {
		if _, err := os.Stat(p); err == nil {
			args = append(args, "--ro-bind", p, p)
		}
	}
	return args
}

// Own gives paths to the sandbox uid, so that a process started by root
// and switched to it can write there (nothing to do as another user).
func (s *Sandbox) Own(paths ...string) error {
	if s == nil || !s.dropsTo(s.Isolation) {
		return nil
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if err := os.Lchown(p, s.UID, s.GID); err != nil {
			return fmt.Errorf("sandbox: give %s to uid %d: %w", p, s.UID, err)
		}
	}
	return nil
}

// Disown gives a file a sandboxed process wrote back to tarn's uid and
// makes it read-only, so that no later sandboxed process (which runs as
// the same uid) can change it where it is visible to it writable. The
// file is changed through a descriptor opened without following a link:
// what the sandbox left at p must be a regular file of its own (one
// name), or it is refused, never a link that would have tarn change a
// host file.
func (s *Sandbox) Disown(p string) error {
	f, err := OpenWritten(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if s == nil {
		return nil
	}
	if s.dropsTo(s.Isolation) {
		if err := f.Chown(os.Getuid(), os.Getgid()); err != nil {
			return err
		}
	}
	return f.Chmod(0o444)
}

// ErrNotWritten is OpenWritten's refusal of what a sandboxed process left
// where tarn reads its files.
var ErrNotWritten = errors.New("refused")

// OpenWritten opens for reading a file a sandboxed process wrote, where
// it could have left anything: a link (to a host file it cannot see), a
// named pipe (which would block the reader), a device, or a second name
// of another file. Only a regular file with one name is opened; anything
// else is an error that says what was found.
func OpenWritten(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%w: %s is a link", ErrNotWritten, filepath.Base(p))
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file (%s)", ErrNotWritten, filepath.Base(p), fi.Mode().Type())
	case st != nil && st.Nlink != 1:
		f.Close()
		return nil, fmt.Errorf("%w: %s has %d names (a hard link)", ErrNotWritten, filepath.Base(p), st.Nlink)
	}
	return f, nil
}

// bindArgs binds what c names, parents before children, after creating
// every directory on the way to them world-readable (bubblewrap would
// create them 0700, which the sandbox uid could not pass).
func bindArgs(c Confinement) []string {
	type bind struct{ flag, src, dst string }
	var binds []bind
	for _, p := range dedupe(c.ReadOnly) {
		binds = append(binds, bind{"--ro-bind", p, p})
	}
	for _, p := range dedupe(c.Writable) {
		binds = append(binds, bind{"--bind", p, p})
	}
	for _, dst := range sortedKeys(c.Binds) {
		binds = append(binds, bind{"--bind", c.Binds[dst], dst})
	}
	for _, dst := range sortedKeys(c.Files) {
		binds = append(binds, bind{"--ro-bind", c.Files[dst], dst})
	}
	sort.SliceStable(binds, func(i, j int) bool { return strings.Count(binds[i].dst, "/") < strings.Count(binds[j].dst, "/") })
	var args []string
	made := map[string]bool{"/": true, "/tmp": true, "/usr": true, "/dev": true, "/proc": true, "/etc": true}
	for _, b := range binds {
		var parents []string
		for d := filepath.Dir(b.dst); !made[d] && d != "/" && !strings.HasPrefix(d, "/usr/"); d = filepath.Dir(d) {
			parents = append(parents, d)
			made[d] = true
		}
		for i := len(parents) - 1; i >= 0; i-- {
			args = append(args, "--perms", "0755", "--dir", parents[i])
		}
	}
	for _, b := range binds {
		args = append(args, b.flag, b.src, b.dst)
	}
	return args
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dedupe(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// InterpreterPrefix returns the installation an environment's interpreter
// belongs to (the `home` of its pyvenv.cfg, less bin/), which a sandbox
// must bind for the interpreter and its standard library; "" when the
// environment is not a virtual environment.
func InterpreterPrefix(envDir string) string {
	b, err := os.ReadFile(filepath.Join(envDir, "pyvenv.cfg"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "home" {
			home := filepath.Clean(strings.TrimSpace(v))
			if real, err := filepath.EvalSymlinks(home); err == nil {
				home = real
			}
			if filepath.Base(home) == "bin" {
				return filepath.Dir(home)
			}
			return home
		}
	}
	return ""
}

// Command is a command to run confined (see Sandbox.Run).
type Command struct {
	Argv, Env []string
	Confinement
	Dir            string // working directory on the host before the sandbox starts (default: /)
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// ErrOutOfMemory is wrapped by the error of Sandbox.Run when the kernel
// killed the command for reaching its memory limit.
var ErrOutOfMemory = errors.New("ran out of memory")

// Run runs c confined by the sandbox and its limits and waits for it; the
// process and everything it started are gone when it returns. A nil
// Sandbox runs c as a plain process. The error is *exec.ExitError when the
// command failed, or names the limit it exceeded (ErrOutOfMemory).
func (s *Sandbox) Run(ctx context.Context, c Command) error {
	argv, files, err := s.Wrap(c.Confinement, c.Argv, 3)
	if err != nil {
		return err
	}
	defer closeAll(files)
	var group *limitGroup
	if s != nil {
		var prefix []string
		if group, prefix, err = s.limits.prepare(c.Limits, s.UID); err != nil {
			return fmt.Errorf("set the limits of %s: %w", filepath.Base(c.Argv[0]), err)
		}
		defer group.remove()
		argv = append(prefix, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = c.Env, c.Stdin, c.Stdout, c.Stderr, files
	cmd.Dir = c.Dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err = cmd.Run()
	if group.oomKilled() {
		return fmt.Errorf("%s %w: it reached its limit of %s and was killed", filepath.Base(c.Argv[0]), ErrOutOfMemory, formatBytes(c.Limits.Memory))
	}
	return err
}
