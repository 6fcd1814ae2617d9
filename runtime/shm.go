package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// shmRoot is where run directories live: a tmpfs, so Arrow files are in
// memory and memory-mapping them is zero-copy.
func shmRoot() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// NewShmDir creates the shared-memory directory of a run. Its name carries
// the owning process id so SweepShm can remove directories of runs whose
// process died.
func NewShmDir(runID string) (string, error) {
	SweepShm()
	dir := filepath.Join(shmRoot(), fmt.Sprintf("tarn-%d-%s", os.Getpid(), runID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create shared-memory directory: %w", err)
	}
	return dir, nil
}

// SweepShm removes run directories whose owning process is gone (a run
// that crashed or was killed), so shared memory is never leaked for long.
func SweepShm() {
	entries, err := os.ReadDir(shmRoot())
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, "tarn-") {
			continue
		}
		parts := strings.SplitN(strings.TrimPrefix(name, "tarn-"), "-", 2)
		pid, err := strconv.Atoi(parts[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(filepath.Join(shmRoot(), name))
		}
	}
}
