package runtime

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memorySampleEvery is how often a worker's anonymous memory is sampled.
const memorySampleEvery = 50 * time.Millisecond

// watchMemory samples the anonymous memory of the worker's processes
// (heap, anonymous maps: what the step itself allocated, not the pages of
// files it maps or reads, which the kernel can drop) until the worker
// exits, keeping the peak; past limit (above 0) it kills the worker. The
// cgroup's own limit, where there is one, counts shared memory and page
// cache too, but reclaims the file pages first: anonymous memory is what
// a step cannot give back.
func (p *workerProcess) watchMemory(limit int64) {
	go func() {
		tick := time.NewTicker(memorySampleEvery)
		defer tick.Stop()
		for {
			n := p.anonBytes()
			p.mu.Lock()
			p.peakAnon = max(p.peakAnon, n)
			p.mu.Unlock()
			if limit > 0 && n > limit {
				p.mu.Lock()
				p.overMemory = n
				p.mu.Unlock()
				p.killAll()
				return
			}
			select {
			case <-p.exited:
				return
			case <-tick.C:
			}
		}
	}()
}

// anonBytes is the anonymous memory of the worker and everything it
// started: the cgroup's count where it has one, else the sum over the
// processes of its process group.
func (p *workerProcess) anonBytes() int64 {
	if g := p.group; g != nil && g.mem != "" {
		key := "total_rss"
		if g.v2 {
			key = "anon"
		}
		if n, ok := statValue(filepath.Join(g.mem, "memory.stat"), key); ok {
			return n
		}
	}
	return groupAnon(p.cmd.Process.Pid)
}

// statValue reads one "key value" line of a cgroup stat file.
func statValue(path, key string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// groupAnon sums RssAnon of the processes in process group pgid.
func groupAnon(pgid int) int64 {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var total int64
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		total += rssAnon(filepath.Join(d, "status"))
	}
	return total
}

// rssAnon reads RssAnon (bytes) from a /proc/PID/status file.
func rssAnon(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
