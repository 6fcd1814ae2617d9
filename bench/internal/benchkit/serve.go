package benchkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/tarnhq/tarn/internal/readyfile"
)

// Serve starts `bin serve --insecure-local --addr 127.0.0.1:0 ARGS...`
// over home, waits until it listens (its --ready-file, written in dir)
// and returns its URL; stop interrupts it and waits for it to exit.
func Serve(bin, dir, home string, args ...string) (url string, stop func(), err error) {
	ready := filepath.Join(dir, fmt.Sprintf("ready-%d.json", time.Now().UnixNano()))
	cmd := exec.Command(bin, append([]string{"serve", "--insecure-local", "--addr", "127.0.0.1:0", "--ready-file", ready}, args...)...)
	cmd.Env = append(os.Environ(), "TARN_HOME="+home)
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	r, err := readyfile.Wait(ready, 60*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
			return false
		}
	})
	if err != nil {
		cmd.Process.Kill()
		<-exited
		return "", nil, fmt.Errorf("%v: %s", err, log.String())
	}
	return r.URL, func() { cmd.Process.Signal(os.Interrupt); <-exited }, nil
}
