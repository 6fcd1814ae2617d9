package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tarnhq/tarn/bench/internal/benchkit"
)

// progress prints what the benchmark is doing to stderr: phase starts and,
// every few seconds, how far a phase has got. Its lines start with the time
// since the benchmark started.
type progress struct {
	kit *benchkit.Bench

	label string
	total int
	done  atomic.Int64
	stop  func()
}

func newProgress(kit *benchkit.Bench) *progress {
	start := time.Now()
	kit.LogPrefix = func() string { return fmt.Sprintf("[%6.1fs] ", time.Since(start).Seconds()) }
	return &progress{kit: kit}
}

func (p *progress) logf(format string, args ...any) { p.kit.Logf(format, args...) }

// phase starts a counted phase of total steps (ending the previous one).
func (p *progress) phase(label string, total int) {
	p.end()
	p.label, p.total = label, total
	p.done.Store(0)
	p.logf("%s: %d operations", label, total)
	p.stop = p.every(5*time.Second, func() string {
		return fmt.Sprintf("%s: %d/%d", p.label, p.done.Load(), p.total)
	})
}

func (p *progress) step() { p.done.Add(1) }

// end stops the current phase's ticker.
func (p *progress) end() {
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
}

// every prints msg() every interval until the returned stop is called.
func (p *progress) every(interval time.Duration, msg func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.logf("%s", msg())
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
