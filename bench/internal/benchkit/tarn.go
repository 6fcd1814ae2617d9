package benchkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tarnhq/tarn/internal/readyfile"
)

// TarnFlag registers -tarn, the tarn binary a benchmark times, and returns
// its value; pass it to Tarn.
func (b *Bench) TarnFlag() *string {
	return b.Flags.String("tarn", "", "tarn binary (default: go build ./cmd/tarn into the temporary directory)")
}

// Tarn returns the tarn binary to time: path when it is given, else one
// built with `go build ./cmd/tarn` in the tarn module that holds the
// working directory, written to dir/tarn.
func (b *Bench) Tarn(ctx context.Context, path, dir string) (string, error) {
	if path != "" {
		return path, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tarn")
	b.Logf("go build -o %s ./cmd/tarn", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tarn")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build tarn: %v: %s", err, out)
	}
	return bin, nil
}

// moduleRoot returns the directory of the go.mod that holds the working
// directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the tarn module (or pass -tarn BINARY)")
	}
	return filepath.Dir(gomod), nil
}

// Serve starts `tarn serve ARGS... --addr 127.0.0.1:0` with bin over home
// and waits for it to listen (its --ready-file, written into dir). stop
// interrupts it and waits for its exit.
func Serve(bin, home, dir string, env []string, args ...string) (stop func(), url string, err error) {
	ready := filepath.Join(dir, fmt.Sprintf("ready-%d.json", time.Now().UnixNano()))
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--ready-file", ready}, args...)...)
	cmd.Env = append(append(os.Environ(), "TARN_HOME="+home), env...)
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		return nil, "", err
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
		return nil, "", fmt.Errorf("%v: %s", err, log.String())
	}
	return func() { cmd.Process.Signal(os.Interrupt); <-exited }, r.URL, nil
}
