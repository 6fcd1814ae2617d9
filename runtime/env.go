package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tarnhq/tarn"
)

// DefaultPyArrow is the newest pyarrow tarn is tested with; environments
// that do not pin pyarrow themselves get the newest release in
// PyArrowRange that has a wheel for their Python and works with their
// other pins (the worker needs pyarrow).
const DefaultPyArrow = "26.0.1"

// PyArrowRange is the pyarrow requirement added to environments that pin
// none: the releases the SDK supports (python/pyproject.toml).
const PyArrowRange = ">=14,<=" + DefaultPyArrow

// pyarrowNumPy1 is the requirement tarn falls back to when the resolved
// NumPy is older than 2: pyarrow 26 and later refuse it at import, and
// pyarrow does not declare NumPy as a dependency, so no resolver sees it.
const pyarrowNumPy1 = "pyarrow>=14,<26"

// EnvSpec describes a Python environment.
type EnvSpec struct {
	Python   string            `json:"python"`   // e.g. "3.11"
	Packages map[string]string `json:"packages"` // name -> version ("" = unpinned)
}

// IndexConfig says where packages come from.
type IndexConfig struct {
	URL       string `json:"index_url,omitempty"`  // e.g. a private PyPI mirror
	FindLinks string `json:"find_links,omitempty"` // a local folder of wheels
	Offline   bool   `json:"offline,omitempty"`    // never touch the network
	// NoBuild installs wheels only: no package's build backend (setup.py,
	// PEP 517 hooks: code of the package's author) runs in a build.
	NoBuild bool `json:"no_build,omitempty"`
	// Owner, when set, makes the environment one user's own (its packages
	// come from artifacts that user supplied): it is part of the key, so
	// the environment is never shared with another user.
	Owner string `json:"owner,omitempty"`
}

// Env is a built environment.
type Env struct {
	Key       string        `json:"key"`
	Dir       string        `json:"dir"`
	Python    string        `json:"python"` // ENV/bin/python
	Version   string        `json:"version"`
	Cached    bool          `json:"cached"`
	BuildTime time.Duration `json:"build_time"`
	// CheckTime is the part of BuildTime spent checking that the new
	// environment's packages import.
	CheckTime time.Duration `json:"check_time"`
	Spec      EnvSpec       `json:"spec"`
	// Prefix is the installation of the interpreter the environment runs
	// (bound read-only into its sandboxes): one tarn found itself, never
	// what a file in the environment says, since the packages installed
	// there may write any file into it (a wheel's .data/data/pyvenv.cfg
	// replaces the environment's own).
	Prefix string `json:"prefix"`
}

// Requirements returns the sorted requirement strings of a spec, with
// PyArrowRange added when it pins no pyarrow.
func (s EnvSpec) Requirements() []string {
	pk := map[string]string{}
	for k, v := range s.Packages {
		pk[normalizePackage(k)] = strings.TrimSpace(v)
	}
	if _, ok := pk["pyarrow"]; !ok {
		pk["pyarrow"] = PyArrowRange
	}
	var reqs []string
	for name, v := range pk {
		switch {
		case v == "" || v == "*":
			reqs = append(reqs, name)
		case strings.ContainsAny(v[:1], "<>=!~"):
			reqs = append(reqs, name+v)
		default:
			reqs = append(reqs, name+"=="+v)
		}
	}
	sort.Strings(reqs)
	return reqs
}

func normalizePackage(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
}

// Key is the content hash identifying the environment of a spec built
// by an SDK version with no particular package sources. EnvManager.Key is
// the one a manager uses: it adds its package sources.
func (s EnvSpec) Key(sdkVersion string) string {
	return s.keyWith(sdkVersion, "")
}

func (s EnvSpec) keyWith(sdkVersion, sources string) string {
	b, _ := json.Marshal(struct {
		Python  string   `json:"python"`
		Reqs    []string `json:"reqs"`
		SDK     string   `json:"sdk"`
		Sources string   `json:"sources,omitempty"`
	}{s.Python, s.Requirements(), sdkVersion, sources})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:24]
}

// EnvManager builds and caches environments under a directory.
type EnvManager struct {
	Dir        string   // TARN_HOME/envs
	UV         []string // the uv command, e.g. ["uv"] or ["python3", "-m", "uv"]
	Index      IndexConfig
	SDKVersion string
	// SDKDir, when set, is byte-compiled for each new environment's
	// interpreter (workers run with a read-only SDK and write no .pyc).
	SDKDir string
	// Sandbox confines builds: uv, and with it every package build
	// backend, runs in it with the network but without the home (nil: on
	// the host).
	Sandbox *Sandbox
	// UVCache is uv's cache directory, bound read-write into builds
	// (default: uv's own cache, or a cache of the sandbox uid's when tarn
	// runs as root).
	UVCache string
	// BuildLimits bound a build's memory, processes and disk.
	BuildLimits Limits
	// NoImportCheck skips importing a new environment's packages before
	// it is marked built. Only for measuring what that check costs
	// (bench/env): a broken environment then fails in its first step.
	NoImportCheck bool

	mu         sync.Mutex
	compiling  sync.WaitGroup
	building   map[string]*sync.Mutex
	quick, all []Interpreter // from pyenv alone; from pyenv and uv
	linkHashes map[string]string
}

// Key is the environment key of spec as m builds it: the spec, the SDK
// and every package source (index, offline, wheels only, owner, and the
// content of the wheel folder), so that environments built from other
// sources never share a key.
func (m *EnvManager) Key(spec EnvSpec) string {
	return spec.keyWith(m.SDKVersion, m.sourcesKey())
}

// sourcesKey describes the package sources; "" for the default ones.
func (m *EnvManager) sourcesKey() string {
	ix := m.Index
	if ix == (IndexConfig{}) {
		return ""
	}
	links := ""
	if ix.FindLinks != "" {
		links = m.folderHash(ix.FindLinks)
	}
	return fmt.Sprintf("url=%s\x00links=%s\x00%s\x00offline=%v\x00nobuild=%v\x00owner=%s", ix.URL, ix.FindLinks, links, ix.Offline, ix.NoBuild, ix.Owner)
}

// folderHash hashes the names and contents of the files in a wheel
// folder (each file hashed once per size and modification time).
func (m *EnvManager) folderHash(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "unreadable"
	}
	h := sha256.New()
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		memo := fmt.Sprintf("%s\x00%d\x00%d", p, fi.Size(), fi.ModTime().UnixNano())
		m.mu.Lock()
		sum, ok := m.linkHashes[memo]
		m.mu.Unlock()
		if !ok {
			sum = fileHash(p)
			m.mu.Lock()
			if m.linkHashes == nil {
				m.linkHashes = map[string]string{}
			}
			m.linkHashes[memo] = sum
			m.mu.Unlock()
		}
		fmt.Fprintf(h, "%s\x00%s\x00", e.Name(), sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileHash(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return "unreadable"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable"
	}
	return hex.EncodeToString(h.Sum(nil))
}

// FindUV returns the command that runs uv: command when set (a command
// line, e.g. "python3 -m uv"), else uv on PATH, or `python3 -m uv`.
func FindUV(command string) ([]string, error) {
	if command != "" {
		return strings.Fields(command), nil
	}
	if p, err := exec.LookPath("uv"); err == nil {
		return []string{p}, nil
	}
	for _, py := range []string{"python3", "python"} {
		if p, err := exec.LookPath(py); err == nil {
			if exec.Command(p, "-m", "uv", "--version").Run() == nil {
				return []string{p, "-m", "uv"}, nil
			}
		}
	}
	return nil, tarn.Errorf(tarn.EINVALID, "uv is not installed: tarn builds Python environments with it (`pip install uv`, or run scripts/setup.sh)")
}

// Interpreters lists (once) the interpreters on the machine.
func (m *EnvManager) Interpreters(ctx context.Context) ([]Interpreter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.all == nil {
		list, err := FindInterpreters(ctx, m.UV, false)
		if err != nil {
			return nil, err
		}
		m.all = list
	}
	return m.all, nil
}

// InterpreterPath is the path of the interpreter environments of a
// Python version are built with, when the cheap look (pyenv's versions,
// a glob) finds it; without asking uv, which takes half a second.
func (m *EnvManager) InterpreterPath(ctx context.Context, version string) (string, error) {
	in, err := PickInterpreter(m.quickInterpreters(ctx), version)
	return in.Path, err
}

// quickInterpreters lists (once) the interpreters the cheap look finds.
func (m *EnvManager) quickInterpreters(ctx context.Context) []Interpreter {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.quick == nil {
		m.quick, _ = FindInterpreters(ctx, m.UV, true)
	}
	return m.quick
}

// interpreter finds the interpreter for a version: the cheap way first,
// then asking uv too.
func (m *EnvManager) interpreter(ctx context.Context, version string) (Interpreter, error) {
	if in, err := PickInterpreter(m.quickInterpreters(ctx), version); err == nil {
		return in, nil
	}
	all, err := m.Interpreters(ctx)
	if err != nil {
		return Interpreter{}, err
	}
	return PickInterpreter(all, version)
}

func (m *EnvManager) lockFor(key string) *sync.Mutex {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.building == nil {
		m.building = map[string]*sync.Mutex{}
	}
	if m.building[key] == nil {
		m.building[key] = &sync.Mutex{}
	}
	return m.building[key]
}

// Ensure returns the environment for spec, building it if needed. An
// identical environment that exists already is returned at once. Builds go
// to a temporary directory renamed into place, so a crash never leaves a
// half-built environment under its key; concurrent builders (other
// processes too) of the same key are safe. Builds run in the sandbox.
func (m *EnvManager) Ensure(ctx context.Context, spec EnvSpec, log func(string)) (*Env, error) {
	key := m.Key(spec)
	dir := filepath.Join(m.Dir, key)
	env := &Env{Key: key, Dir: dir, Python: filepath.Join(dir, "bin", "python"), Spec: spec}
	if ready(dir) {
		return m.cached(ctx, env)
	}
	lock := m.lockFor(key)
	lock.Lock()
	defer lock.Unlock()
	if ready(dir) {
		return m.cached(ctx, env)
	}
	interp, err := m.interpreter(ctx, spec.Python)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(m.Dir, ".build-"+key+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil { // workers (the sandbox uid) read it
		return nil, err
	}
	if err := m.Sandbox.Own(tmp); err != nil {
		return nil, err
	}
	if log != nil {
		log(fmt.Sprintf("building environment %s: Python %s, %s", key[:12], interp.Version, strings.Join(spec.Requirements(), " ")))
	}
	b, err := m.newBuild(interp, tmp)
	if err != nil {
		return nil, err
	}
	if err := b.uv(ctx, "venv", "--quiet", "--python", interp.Path, tmp); err != nil {
		return nil, fmt.Errorf("create environment: %w", err)
	}
	args := []string{"pip", "install", "--quiet", "--python", filepath.Join(tmp, "bin", "python")}
	if m.Index.URL != "" {
		args = append(args, "--index-url", m.Index.URL)
	}
	if m.Index.FindLinks != "" {
		args = append(args, "--find-links", m.Index.FindLinks)
	}
	if m.Index.Offline {
		// Packages come from the wheel folder and uv's cache only.
		args = append(args, "--offline")
	}
	if m.Index.NoBuild {
		args = append(args, "--no-build")
	} else {
		// pyarrow from a wheel only: a Python without a wheel of the newest
		// release gets the newest that has one, not a source build.
		args = append(args, "--only-binary", "pyarrow")
	}
	install := func(reqs []string) error {
		if err := b.uv(ctx, append(append([]string{}, args...), reqs...)...); err != nil {
			msg := err.Error()
			if m.Index.NoBuild && strings.Contains(msg, "--no-build") {
				msg += "\n(this server installs wheels only: ask its operator for --allow-source-builds, or pin a version that has a wheel for Python " + interp.Minor() + ")"
			}
			return tarn.Errorf(tarn.EINVALID, "install packages %s for Python %s: %s", strings.Join(reqs, " "), interp.Version, msg)
		}
		return nil
	}
	reqs := spec.Requirements()
	if err := install(reqs); err != nil {
		return nil, err
	}
	checkStart := time.Now()
	check, err := b.check(ctx, spec)
	env.CheckTime = time.Since(checkStart)
	if err == nil && check.needsOlderPyArrow() && !spec.pinsPyArrow() {
		if log != nil {
			log(fmt.Sprintf("environment %s: NumPy %s is older than 2, which pyarrow 26 needs: installing %s", key[:12], check.NumPy, pyarrowNumPy1))
		}
		if err := install(withPyArrow(reqs, pyarrowNumPy1)); err != nil {
			return nil, err
		}
		checkStart = time.Now()
		check, err = b.check(ctx, spec)
		env.CheckTime += time.Since(checkStart)
	}
	if err != nil {
		return nil, err
	}
	if err := check.problem(spec, interp); err != nil {
		return nil, err
	}
	if m.SDKDir != "" {
		m.compileSDK(ctx, interp)
	}
	meta, _ := json.Marshal(map[string]any{"spec": spec, "python_version": interp.Version, "requirements": spec.Requirements(), "sdk": m.SDKVersion,
		"sources": m.Index, "pyarrow": check.PyArrow, "numpy": check.NumPy})
	if err := writeNew(filepath.Join(tmp, "tarn-env.json"), meta); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if ready(dir) { // another process built it first
			return m.cached(ctx, env)
		}
		return nil, fmt.Errorf("install environment %s: %w", key, err)
	}
	env.BuildTime = time.Since(start)
	env.Version = interp.Version
	env.Prefix = InterpreterPrefixOf(interp.Path)
	m.compileInBackground(env, interp)
	return env, nil
}

// envCheck is what python -m tarn._envcheck found in a new environment.
type envCheck struct {
	OK       bool   `json:"ok"`
	PyArrow  string `json:"pyarrow"`
	NumPy    string `json:"numpy"`
	Failures []struct {
		Dist   string `json:"dist"`
		Module string `json:"module"`
		Error  string `json:"error"`
	} `json:"failures"`
}

// check imports pyarrow, tarn's worker and the top-level modules of the
// spec's pins in the new environment, in the build sandbox without the
// network.
func (b *build) check(ctx context.Context, spec EnvSpec) (*envCheck, error) {
	if b.m.SDKDir == "" || b.m.NoImportCheck {
		return &envCheck{OK: true}, nil
	}
	var dists []string
	for name := range spec.Packages {
		if n := normalizePackage(name); n != "pyarrow" {
			dists = append(dists, n)
		}
	}
	sort.Strings(dists)
	python := filepath.Join(b.tmp, "bin", "python")
	var stdout, stderr bytes.Buffer
	err := b.m.Sandbox.Run(ctx, Command{
		Argv: append([]string{python, "-m", "tarn._envcheck"}, dists...),
		// It writes the bytecode of what it imports into the environment
		// (which the background compilation would write anyway): the
		// first step's imports are then compiled already.
		Env:         []string{"PATH=" + filepath.Join(b.tmp, "bin") + ":/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", "PYTHONPATH=" + b.m.SDKDir},
		Confinement: Confinement{ReadOnly: []string{InterpreterPrefixOf(b.python), b.m.SDKDir}, Writable: []string{b.tmp}, Limits: b.m.BuildLimits},
		Stdout:      &stdout, Stderr: &stderr,
	})
	var c envCheck
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &c); jerr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, tarn.Errorf(tarn.EINVALID, "check the new environment (importing its packages): %v: %s", err, lastLine(stderr.String()))
	}
	return &c, nil
}

// needsOlderPyArrow says whether pyarrow failed to import because NumPy is
// older than it needs.
func (c *envCheck) needsOlderPyArrow() bool {
	for _, f := range c.Failures {
		if f.Dist == "pyarrow" && strings.Contains(f.Error, "NumPy") {
			return true
		}
	}
	return false
}

// problem is the build error for a failed check: which import failed and
// what to pin.
func (c *envCheck) problem(spec EnvSpec, interp Interpreter) error {
	if c.OK {
		return nil
	}
	var lines []string
	for _, f := range c.Failures {
		hint := ""
		switch {
		case f.Dist == "pyarrow" && strings.Contains(f.Error, "NumPy"):
			hint = fmt.Sprintf(" (NumPy %s is installed: pin pyarrow<26, or a numpy>=2 that your other pins allow)", c.NumPy)
		case f.Dist == "tarn":
			hint = fmt.Sprintf(" (tarn's worker needs pyarrow>=14 on Python %s; pyarrow %s is installed)", interp.Minor(), c.PyArrow)
		}
		lines = append(lines, fmt.Sprintf("import %s (from %s) fails: %s%s", f.Module, f.Dist, lastLine(f.Error), hint))
	}
	return tarn.Errorf(tarn.EINVALID, "the environment of Python %s with %s installs but does not work:\n  %s", interp.Version, strings.Join(spec.Requirements(), " "), strings.Join(lines, "\n  "))
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// pinsPyArrow says whether the spec pins pyarrow itself.
func (s EnvSpec) pinsPyArrow() bool {
	for name := range s.Packages {
		if normalizePackage(name) == "pyarrow" {
			return true
		}
	}
	return false
}

// withPyArrow replaces the pyarrow requirement of reqs.
func withPyArrow(reqs []string, pyarrow string) []string {
	out := []string{pyarrow}
	for _, r := range reqs {
		if rest, ok := strings.CutPrefix(r, "pyarrow"); !ok || (rest != "" && !strings.ContainsAny(rest[:1], "<>=!~ [")) {
			out = append(out, r)
		}
	}
	return out
}

// compileSDK byte-compiles the SDK for an interpreter, with that
// interpreter in isolated mode on the host: -I -S imports no site and
// so no package of anyone's (the SDK is shared by every environment, so
// no sandboxed build may write it). Best effort: a missing .pyc only
// costs start-up time.
func (m *EnvManager) compileSDK(ctx context.Context, interp Interpreter) {
	exec.CommandContext(ctx, interp.Path, "-I", "-S", "-m", "compileall", "-q", m.SDKDir).Run()
}

// compileInBackground byte-compiles a new environment's packages while the
// run goes on. Workers run with PYTHONDONTWRITEBYTECODE and a read-only
// environment, so without .pyc files every step would compile its imports
// again (pandas: 0.17 s instead of 0.08 s). Compiling up front would make
// the build itself 5x slower; py_compile writes each file atomically, so
// workers that start meanwhile are safe. It runs the environment's own
// interpreter, which runs its packages' .pth files, so it runs in the
// sandbox with only the environment writable. Wait blocks until it is done.
func (m *EnvManager) compileInBackground(env *Env, interp Interpreter) {
	m.compiling.Add(1)
	go func() {
		defer m.compiling.Done()
		m.Sandbox.Run(context.Background(), Command{ // best effort: a missing .pyc only costs start-up time
			Argv:        []string{env.Python, "-m", "compileall", "-q", "-j", "0", env.Dir},
			Env:         []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"},
			Confinement: Confinement{ReadOnly: []string{InterpreterPrefixOf(interp.Path)}, Writable: []string{env.Dir}, Limits: m.BuildLimits},
		})
	}()
}

// Wait waits for background work on environments (byte-compilation).
func (m *EnvManager) Wait() { m.compiling.Wait() }

// cached completes env, an environment built before: its version and
// the installation of its interpreter. That installation is the one its
// pyvenv.cfg names only if it is an interpreter's tarn finds itself: the
// file is the environment's, which its packages could have rewritten
// (to have a host folder bound into every step of the environment).
func (m *EnvManager) cached(ctx context.Context, env *Env) (*Env, error) {
	env.Cached = true
	env.Version = readVersion(env.Dir)
	home := InterpreterPrefix(env.Dir)
	known := func(list []Interpreter) bool {
		return home != "" && slices.ContainsFunc(list, func(in Interpreter) bool { return InterpreterPrefixOf(in.Path) == home })
	}
	ok := known(m.quickInterpreters(ctx))
	if !ok && len(m.UV) > 0 { // then ask uv too
		all, err := m.Interpreters(ctx)
		ok = err == nil && known(all)
	}
	if ok {
		env.Prefix = home
		return env, nil
	}
	return nil, tarn.Errorf(tarn.EINVALID, "environment %s (%s) names an interpreter installation tarn does not know (%s in its pyvenv.cfg): a package in it may have replaced that file, or the interpreter it was built with is gone; it is not used: remove the folder %s and run again to build it anew",
		env.Key[:12], strings.Join(env.Spec.Requirements(), " "), tarn.Quote(home), env.Dir)
}

// writeNew writes a file tarn owns into a folder a sandboxed process
// wrote: whatever was at that name (a link to a host file, say) is
// removed first, and the file is created anew, never through a link.
func writeNew(path string, data []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func ready(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "tarn-env.json"))
	return err == nil
}

func readVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "tarn-env.json"))
	if err != nil {
		return ""
	}
	var meta struct {
		Version string `json:"python_version"`
	}
	json.Unmarshal(b, &meta)
	return meta.Version
}

// build is one environment build: where uv, the interpreter, the cache
// and the new environment are.
type build struct {
	m      *EnvManager
	uvBin  []string // the uv binary
	python string   // the base interpreter (runs the egress forwarder)
	binds  []string // read-only: uv, the interpreter, the wheel folder
	cache  string
	tmp    string
}

func (m *EnvManager) newBuild(interp Interpreter, tmp string) (*build, error) {
	uv, err := ResolveUV(m.UV)
	if err != nil {
		return nil, err
	}
	cache := m.UVCache
	if cache == "" {
		if cache, err = defaultUVCache(m.Sandbox); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("create uv's cache: %w", err)
	} else if err := m.Sandbox.Own(cache); err != nil {
		return nil, err
	}
	b := &build{m: m, uvBin: uv, python: interp.Path, cache: cache, tmp: tmp}
	b.binds = []string{filepath.Dir(uv[0]), InterpreterPrefixOf(interp.Path), m.Index.FindLinks}
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		b.binds = append(b.binds, f)
	}
	return b, nil
}

// uv runs uv in the build's sandbox: the network, uv's cache and the new
// environment writable, the interpreter and uv readable, nothing of the
// home.
func (b *build) uv(ctx context.Context, args ...string) error {
	env := []string{"PATH=" + filepath.Dir(b.uvBin[0]) + ":/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", "UV_CACHE_DIR=" + b.cache,
		"UV_PYTHON_DOWNLOADS=never", "UV_NO_CONFIG=1", "VIRTUAL_ENV="}
	for _, k := range []string{"SSL_CERT_FILE", "SSL_CERT_DIR", "UV_NATIVE_TLS", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
		"http_proxy", "https_proxy", "no_proxy", "UV_HTTP_TIMEOUT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	argv := append(append([]string{}, b.uvBin...), args...)
	c := Confinement{ReadOnly: b.binds, Writable: []string{b.tmp, b.cache}, Limits: b.m.BuildLimits}
	if args[0] == "pip" && !b.m.Index.Offline {
		c.Network = true
		if b.m.Sandbox != nil && b.m.Sandbox.Isolation == IsolationBubblewrap && b.m.SDKDir != "" {
			// The network of a build reaches the package indexes only.
			eg, err := NewEgress(b.m.Sandbox.stateDir, IndexEgress(b.m.Index.URL))
			if err != nil {
				return err
			}
			defer eg.Close()
			argv, env = eg.confine(&c, argv, env, b.python, b.m.SDKDir)
		}
	}
	var stderr bytes.Buffer
	err := b.m.Sandbox.Run(ctx, Command{Argv: argv, Env: env, Stderr: &stderr, Confinement: c})
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if errors.Is(ctx.Err(), context.Canceled) {
			return ctx.Err()
		}
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	return nil
}

// ResolveUV turns the uv command into the path of the uv binary itself (a
// sandbox cannot run a pyenv shim or `python -m uv`, which find it through
// the home).
func ResolveUV(cmd []string) ([]string, error) {
	if len(cmd) == 0 {
		return nil, tarn.Errorf(tarn.EINVALID, "no uv command")
	}
	if len(cmd) == 1 && !strings.Contains(cmd[0], "/shims/") {
		if p, err := filepath.EvalSymlinks(cmd[0]); err == nil {
			return []string{p}, nil
		}
		return cmd, nil
	}
	py := cmd[0]
	if len(cmd) == 1 { // a pyenv shim: ask the interpreter that has uv
		py = "python3"
	}
	out, err := exec.Command(py, "-c", "import uv; print(uv.find_uv_bin())").Output()
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "cannot find the uv binary behind %q: %v (install uv on PATH: pip install uv)", strings.Join(cmd, " "), err)
	}
	p, err := filepath.EvalSymlinks(strings.TrimSpace(string(out)))
	if err != nil {
		return nil, err
	}
	return []string{p}, nil
}

// defaultUVCache is uv's cache for builds: uv's own (as any user but
// root), or, when tarn runs as root, one of the sandbox uid's under root's
// cache directory (builds run as that uid).
func defaultUVCache(sb *Sandbox) (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find uv's cache: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	if v := os.Getenv("UV_CACHE_DIR"); v != "" && (sb == nil || !sb.dropsTo(sb.Isolation)) {
		return v, nil
	}
	dir := filepath.Join(base, "uv")
	if sb != nil && sb.dropsTo(sb.Isolation) {
		dir = filepath.Join(base, "tarn", fmt.Sprintf("uv-%d", sb.UID))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create uv's cache: %w", err)
	}
	if err := sb.Own(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// InterpreterPrefixOf is the installation an interpreter belongs to (for a
// sandbox to bind): /usr for /usr/bin/python3, PREFIX for PREFIX/bin/python.
func InterpreterPrefixOf(python string) string {
	p, err := filepath.EvalSymlinks(python)
	if err != nil {
		p = python
	}
	dir := filepath.Dir(p)
	if filepath.Base(dir) == "bin" {
		return filepath.Dir(dir)
	}
	return dir
}
