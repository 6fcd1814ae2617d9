// Package readyfile is the file `tarn serve --ready-file PATH` writes
// once it listens, and the wait for it: how tests, benchmarks and scripts
// find a server started on port 0 without reading its log.
package readyfile

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/tarnhq/tarn/internal/atomicfile"
)

// Ready is the content of a ready file (JSON).
type Ready struct {
	URL  string `json:"url"`  // http://HOST:PORT
	Addr string `json:"addr"` // HOST:PORT
	PID  int    `json:"pid"`
	Home string `json:"home"`
}

// Write writes the ready file of this process, listening on addr.
func Write(path, addr, home string) error {
	b, _ := json.Marshal(Ready{URL: "http://" + addr, Addr: addr, PID: os.Getpid(), Home: home})
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}

// Wait waits up to timeout for the ready file at path. exited, when set,
// reports whether the server's process has ended (Wait then gives up at
// once).
func Wait(path string, timeout time.Duration, exited func() bool) (*Ready, error) {
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(path); err == nil {
			var r Ready
			if err := json.Unmarshal(b, &r); err != nil {
				return nil, fmt.Errorf("ready file %s: %w", path, err)
			}
			return &r, nil
		}
		if exited != nil && exited() {
			return nil, fmt.Errorf("tarn serve exited before it was ready (no %s)", path)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("tarn serve was not ready after %s (no %s)", timeout, path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
