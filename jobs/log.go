package jobs

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/tarnhq/tarn"
)

// logFlush is how long an event waits before it is written to the store
// with the events that follow it; logChunk is how much is written at most
// at once.
const (
	logFlush = 50 * time.Millisecond
	logChunk = 256 << 10
)

// jobLog buffers a job's events and appends them to the store in order,
// a chunk at a time: a run that prints many lines makes a few writes.
type jobLog struct {
	store Store
	id    string

	mu      sync.Mutex
	buf     []byte
	timer   *time.Timer
	closed  bool
	writeMu sync.Mutex // one append at a time, in order
}

func newJobLog(store Store, id string) *jobLog { return &jobLog{store: store, id: id} }

// event adds one event to the log.
func (l *jobLog) event(e tarn.RunEvent) {
	b, _ := json.Marshal(e)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.buf = append(append(l.buf, b...), '\n')
	full := len(l.buf) >= logChunk
	if !full && l.timer == nil {
		l.timer = time.AfterFunc(logFlush, func() { l.flush(context.Background()) })
	}
	l.mu.Unlock()
	if full {
		l.flush(context.Background())
	}
}

// flush writes what is buffered.
func (l *jobLog) flush(ctx context.Context) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.mu.Lock()
	data := l.buf
	l.buf = nil
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.mu.Unlock()
	if len(data) > 0 {
		l.store.AppendLog(ctx, l.id, data)
	}
}

// close writes what is buffered; later events are dropped.
func (l *jobLog) close(ctx context.Context) {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.flush(ctx)
}
