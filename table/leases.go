package table

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/google/uuid"
)

// A write in progress holds a lease: a small file under the warehouse's
// .tarn/writes/ folder (a name no namespace can have), made before the
// write's first file and removed when the write ends, refreshed while it
// lasts. Garbage collection keeps every unreferenced file that a live
// lease's write may have made (anything modified since the oldest live
// lease began), so it never removes the files of a write in progress,
// however short its grace period. A lease not refreshed for leaseTTL
// belongs to a crashed process and protects nothing.
const (
	leaseDir     = ".tarn/writes"
	clockDir     = ".tarn/clock" // gc's probes of an object store's clock (s3Store.now)
	leaseRefresh = 30 * time.Second
	leaseTTL     = 3 * leaseRefresh
)

// leaseInfo is what a lease file holds.
type leaseInfo struct {
	Started time.Time `json:"started"`
	// Refreshed is when this version of the lease was written, in the
	// writer's clock: gc takes the write's start as the lease's
	// modification time less Refreshed-Started, so an object store's
	// clock and the writer's need not agree.
	Refreshed time.Time `json:"refreshed"`
	PID       int       `json:"pid"`
	Host      string    `json:"host,omitempty"`
}

// leaseSet is the live leases of one service, refreshed together.
type leaseSet struct {
	svc     *Service
	mu      sync.Mutex
	live    map[*lease]bool
	running bool
}

type lease struct {
	set  *leaseSet
	path string // URL of the lease file
	info leaseInfo
}

// leasesURL is the folder of the lease files.
func (s *Service) leasesURL() string { return s.warehouse + "/" + leaseDir }

// take starts a lease (nil when its file cannot be written: the write
// goes on, protected by the grace period alone).
func (ls *leaseSet) take() *lease {
	if ls == nil {
		return nil
	}
	host, _ := os.Hostname()
	l := &lease{set: ls, path: ls.svc.leasesURL() + "/" + uuid.NewString() + ".json",
		info: leaseInfo{Started: time.Now().UTC(), PID: os.Getpid(), Host: host}}
	if err := l.write(context.Background(), true); err != nil {
		return nil
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.live == nil {
		ls.live = map[*lease]bool{}
	}
	ls.live[l] = true
	if !ls.running {
		ls.running = true
		go ls.refresh()
	}
	return l
}

// refresh rewrites the live leases every leaseRefresh until none is left.
func (ls *leaseSet) refresh() {
	t := time.NewTicker(leaseRefresh)
	defer t.Stop()
	for range t.C {
		ls.mu.Lock()
		live := make([]*lease, 0, len(ls.live))
		for l := range ls.live {
			live = append(live, l)
		}
		if len(live) == 0 {
			ls.running = false
			ls.mu.Unlock()
			return
		}
		ls.mu.Unlock()
		for _, l := range live {
			_ = l.write(context.Background(), false) // a missed refresh is retried at the next tick
		}
	}
}

// write writes (or refreshes) the lease file; first says to create its
// folder on disk (a refresh does not make again a folder removed since).
func (l *lease) write(ctx context.Context, first bool) error {
	info := l.info
	info.Refreshed = time.Now().UTC()
	data, _ := json.Marshal(info)
	if p, ok := localPath(l.path); ok {
		if first {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
		}
		return os.WriteFile(p, data, 0o644)
	}
	fsys, err := iceio.LoadFS(ctx, l.set.svc.ioProps, l.path)
	if err != nil {
		return err
	}
	w, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return fmt.Errorf("storage of %s is read-only", l.path)
	}
	return w.WriteFile(l.path, data)
}

// release ends the lease.
func (l *lease) release() {
	if l == nil {
		return
	}
	l.set.mu.Lock()
	delete(l.set.live, l)
	l.set.mu.Unlock()
	l.set.svc.removeFiles(context.Background(), []string{l.path})
}

// engineWrites holds the leases that stand for writes other engines make
// through the REST catalog (Service.EngineMayWrite).
type engineWrites struct {
	mu     sync.Mutex
	cur    *lease    // the newest lease, which later loads share
	began  time.Time // when cur was taken
	timers map[*lease]*time.Timer
}

// engineLeaseGroup is how long after a lease is taken later loads share
// it rather than take their own.
const engineLeaseGroup = 5 * time.Minute

// EngineMayWrite records that another engine may be writing files of a
// table: it loaded the table, or staged its creation, through the REST
// catalog on a branch it may write. Such a write begins where tarn cannot
// see it (the engine writes data and manifest files, then commits, or
// never does), so this holds a lease until window after the engine's
// last such request, and garbage collection keeps every unreferenced file
// made since the lease began, whatever its --older-than. Requests within
// engineLeaseGroup of a lease's start share it (at most one lease file
// per five minutes of traffic), so gc spares at most window plus five
// minutes of files while engines are active. Without a lease file (the
// warehouse refuses it) the engine's files are protected by gc's age
// alone.
func (s *Service) EngineMayWrite(window time.Duration) {
	e := &s.engines
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur != nil && time.Since(e.began) <= engineLeaseGroup {
		if t := e.timers[e.cur]; t.Stop() {
			t.Reset(window)
			return
		}
		// Its window ended just now and its release is under way.
	}
	l := s.leases.take()
	if l == nil {
		return
	}
	if e.timers == nil {
		e.timers = map[*lease]*time.Timer{}
	}
	e.cur, e.began = l, time.Now()
	e.timers[l] = time.AfterFunc(window, func() {
		e.mu.Lock()
		delete(e.timers, l)
		if e.cur == l {
			e.cur = nil
		}
		e.mu.Unlock()
		l.release()
	})
}

// EndEngineWrites releases the leases EngineMayWrite holds (a server
// that stops serving the REST catalog).
func (s *Service) EndEngineWrites() {
	e := &s.engines
	e.mu.Lock()
	var held []*lease
	for l, t := range e.timers {
		if t.Stop() {
			held = append(held, l)
		}
		delete(e.timers, l)
	}
	e.cur = nil
	e.mu.Unlock()
	for _, l := range held {
		l.release()
	}
}
