package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// How limits are enforced.
const (
	limitsCgroupV2 = "cgroup v2"
	limitsCgroupV1 = "cgroup v1"
	limitsRlimit   = "rlimits"
)

// limiter puts each sandboxed process in a cgroup of its own with a memory
// limit that counts every page it touches (anonymous, shared, tmpfs files
// like its private /tmp and /dev/shm) and a process limit, where the host
// lets tarn create cgroups (as root on cgroups v1 or v2). Elsewhere it
// falls back to rlimits: the address space (RLIMIT_AS, which counts
// shared mappings, unlike RLIMIT_DATA) and the number of processes of the
// sandbox uid. Both ways, RLIMIT_FSIZE caps each file a process writes.
type limiter struct {
	kind string
	v2   string            // the parent of tarn's cgroups (v2)
	v1   map[string]string // controller -> parent of tarn's cgroups (v1)
}

var cgroupSeq atomic.Int64

const cgroupRoot = "/sys/fs/cgroup"

func newLimiter(cgroups bool) *limiter {
	l := &limiter{kind: limitsRlimit}
	if !cgroups {
		return l
	}
	if ctl, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		have := strings.Fields(string(ctl))
		if slices.Contains(have, "memory") && slices.Contains(have, "pids") {
			parent := filepath.Join(cgroupRoot, "tarn-sandbox")
			if os.MkdirAll(parent, 0o755) == nil &&
				writeFile(filepath.Join(cgroupRoot, "cgroup.subtree_control"), "+memory +pids") == nil &&
				writeFile(filepath.Join(parent, "cgroup.subtree_control"), "+memory +pids") == nil {
				l.kind, l.v2 = limitsCgroupV2, parent
				sweepCgroups([]string{parent})
				return l
			}
		}
	}
	v1 := map[string]string{}
	for _, ctl := range []string{"memory", "pids"} {
		parent := filepath.Join(cgroupRoot, ctl, "tarn")
		if _, err := os.Stat(filepath.Join(cgroupRoot, ctl, "cgroup.procs")); err != nil {
			return l
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return l
		}
		// A probe: the parent is writable only if tarn may manage cgroups.
		probe := filepath.Join(parent, fmt.Sprintf("probe-%d", os.Getpid()))
		if err := os.Mkdir(probe, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return l
		}
		os.Remove(probe)
		v1[ctl] = parent
	}
	l.kind, l.v1 = limitsCgroupV1, v1
	sweepCgroups([]string{v1["memory"], v1["pids"]})
	return l
}

func (l *limiter) describe() string {
	switch l.kind {
	case limitsCgroupV1, limitsCgroupV2:
		return l.kind + " (memory including shared memory, processes), disk (each step's files, watched; file size rlimit)"
	}
	return "rlimits (address space, processes of the sandbox uid, file size), disk (each step's files, watched); no cgroup could be created here, so memory that a package maps while a warm worker waits for its step is not bounded"
}

// cgrouped says whether limits are enforced by cgroups.
func (l *limiter) cgrouped() bool { return l.kind != limitsRlimit }

// limitGroup is the cgroup of one process (empty with rlimits).
type limitGroup struct {
	dirs []string // one per hierarchy (v1) or one (v2)
	mem  string   // the directory with the memory files
	v2   bool
}

// prepare creates the limits of one process and returns the command prefix
// that applies them before the sandbox starts: joining the cgroup (a
// shell, since a process must be in it before it forks) and the rlimits
// (prlimit). uid is whose processes RLIMIT_NPROC counts.
func (l *limiter) prepare(lim Limits, uid int) (*limitGroup, []string, error) {
	g := &limitGroup{}
	var prefix []string
	name := fmt.Sprintf("w%d-%d", os.Getpid(), cgroupSeq.Add(1))
	switch l.kind {
	case limitsCgroupV2:
		dir := filepath.Join(l.v2, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("create cgroup: %w", err)
		}
		g.dirs, g.mem, g.v2 = []string{dir}, dir, true
		if lim.Memory > 0 {
			writeFile(filepath.Join(dir, "memory.swap.max"), "0")
			if err := writeFile(filepath.Join(dir, "memory.max"), strconv.FormatInt(lim.Memory, 10)); err != nil {
				g.remove()
				return nil, nil, err
			}
		}
		if lim.Processes > 0 {
			if err := writeFile(filepath.Join(dir, "pids.max"), strconv.Itoa(lim.Processes)); err != nil {
				g.remove()
				return nil, nil, err
			}
		}
	case limitsCgroupV1:
		for _, ctl := range []string{"memory", "pids"} {
			dir := filepath.Join(l.v1[ctl], name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				g.remove()
				return nil, nil, fmt.Errorf("create cgroup: %w", err)
			}
			g.dirs = append(g.dirs, dir)
		}
		g.mem = g.dirs[0]
		if lim.Memory > 0 {
			if err := writeFile(filepath.Join(g.mem, "memory.limit_in_bytes"), strconv.FormatInt(lim.Memory, 10)); err != nil {
				g.remove()
				return nil, nil, err
			}
			writeFile(filepath.Join(g.mem, "memory.memsw.limit_in_bytes"), strconv.FormatInt(lim.Memory, 10)) // no swap to escape to, where accounted
		}
		if lim.Processes > 0 {
			if err := writeFile(filepath.Join(g.dirs[1], "pids.max"), strconv.Itoa(lim.Processes)); err != nil {
				g.remove()
				return nil, nil, err
			}
		}
	}
	if len(g.dirs) > 0 {
		prefix = []string{"/bin/sh", "-c", `for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; shift; done; shift; exec "$@"`, "sh"}
		for _, d := range g.dirs {
			prefix = append(prefix, filepath.Join(d, "cgroup.procs"))
		}
		prefix = append(prefix, "--")
	}
	rl := []string{}
	if lim.Disk > 0 {
		rl = append(rl, "--fsize="+strconv.FormatInt(lim.Disk, 10))
	}
	if !l.cgrouped() {
		if lim.Processes > 0 {
			// RLIMIT_NPROC counts every process of the uid: allow what it
			// runs already plus the limit.
			rl = append(rl, "--nproc="+strconv.Itoa(tasksOf(uid)+lim.Processes))
		}
		if as := addressSpace(lim); as > 0 {
			rl = append(rl, "--as="+strconv.FormatInt(as, 10))
		}
	}
	if len(rl) > 0 {
		prefix = append(append(append(prefix, "prlimit"), rl...), "--")
	}
	return g, prefix, nil
}

// addressSpaceHeadroom is what an interpreter with pyarrow and pandas
// reserves beyond the memory it uses (thread stacks, allocator arenas,
// shared libraries), allowed on top of the memory limit and the inputs
// when the address space is the bound.
const addressSpaceHeadroom = 2 << 30

// addressSpace is the RLIMIT_AS for limits (0: none).
func addressSpace(lim Limits) int64 {
	if lim.Memory <= 0 {
		return 0
	}
	return lim.Memory + lim.Inputs + addressSpaceHeadroom
}

// oomKilled says whether the kernel killed a process of the group for
// exceeding its memory limit.
func (g *limitGroup) oomKilled() bool {
	if g == nil || g.mem == "" {
		return false
	}
	file := "memory.oom_control"
	if g.v2 {
		file = "memory.events"
	}
	f, err := os.Open(filepath.Join(g.mem, file))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "oom_kill "); ok {
			v, _ := strconv.Atoi(strings.TrimSpace(n))
			return v > 0
		}
	}
	return false
}

// peak returns the most memory the group used (0 when unknown).
func (g *limitGroup) peak() int64 {
	if g == nil || g.mem == "" {
		return 0
	}
	file := "memory.max_usage_in_bytes"
	if g.v2 {
		file = "memory.peak"
	}
	b, err := os.ReadFile(filepath.Join(g.mem, file))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// kill kills every process left in the group (a process that left the
// worker's process group or session included).
func (g *limitGroup) kill() {
	if g == nil {
		return
	}
	for _, d := range g.dirs {
		if g.v2 && writeFile(filepath.Join(d, "cgroup.kill"), "1") == nil {
			continue
		}
		killProcs(filepath.Join(d, "cgroup.procs"))
	}
}

// remove kills what is left and deletes the group.
func (g *limitGroup) remove() {
	if g == nil {
		return
	}
	g.kill()
	for _, d := range g.dirs {
		for i := 0; i < 50; i++ { // the kernel needs a moment to release killed processes
			if err := os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			killProcs(filepath.Join(d, "cgroup.procs"))
			sleepBriefly()
		}
	}
}

func killProcs(procs string) {
	b, err := os.ReadFile(procs)
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// sweepCgroups removes the cgroups of tarn processes that are gone.
func sweepCgroups(parents []string) {
	for _, parent := range parents {
		entries, _ := os.ReadDir(parent)
		for _, e := range entries {
			name := e.Name()
			if !e.IsDir() || !strings.HasPrefix(name, "w") {
				continue
			}
			pidText, _, _ := strings.Cut(name[1:], "-")
			pid, err := strconv.Atoi(pidText)
			if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
				continue
			}
			g := &limitGroup{dirs: []string{filepath.Join(parent, name)}}
			g.remove()
		}
	}
}

// tasksOf counts the tasks (threads) of a uid, which RLIMIT_NPROC counts.
func tasksOf(uid int) int {
	paths, _ := filepath.Glob("/proc/[0-9]*/status")
	n := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if st := ParseProcStatus(string(b)); st.UID == uid {
			n += max(st.Threads, 1)
		}
	}
	return n
}

func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func sleepBriefly() { time.Sleep(20 * time.Millisecond) }
