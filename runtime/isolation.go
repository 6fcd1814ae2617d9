package runtime

import (
	"context"
	"os/exec"
	"time"
)

// Isolation names the mechanism that confines workers.
type Isolation string

// Isolation mechanisms, strongest first.
const (
	// IsolationBubblewrap: bwrap with a read-only root, private /tmp, no
	// network (unless asked), the lakehouse home hidden, PID namespace.
	IsolationBubblewrap Isolation = "bubblewrap"
	// IsolationUnshare: `unshare --net` (no network), plain filesystem.
	IsolationUnshare Isolation = "unshare"
	// IsolationNone: a separate process with rlimits and a scrubbed
	// environment only.
	IsolationNone Isolation = "process"
)

// Describe says in a sentence what the isolation does.
func (i Isolation) Describe() string {
	switch i {
	case IsolationBubblewrap:
		return "bubblewrap sandbox (read-only root, lakehouse home hidden, private /tmp, no network unless internet_access=True), memory rlimit, timeout"
	case IsolationUnshare:
		return "network namespace (no network unless internet_access=True), memory rlimit, timeout; filesystem not confined (install bubblewrap for more)"
	}
	return "separate process with a scrubbed environment, memory rlimit and timeout; network and filesystem are NOT confined (install bubblewrap)"
}

// DetectIsolation probes the host for the strongest working mechanism.
func DetectIsolation(ctx context.Context) Isolation {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if p, err := exec.LookPath("bwrap"); err == nil {
		if exec.CommandContext(ctx, p, "--unshare-net", "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/",
			"--dev", "/dev", "--proc", "/proc", "true").Run() == nil {
			return IsolationBubblewrap
		}
	}
	if p, err := exec.LookPath("unshare"); err == nil {
		if exec.CommandContext(ctx, p, "--net", "true").Run() == nil {
			return IsolationUnshare
		}
	}
	return IsolationNone
}

// sandboxArgs wraps a command line in the isolation mechanism.
func sandboxArgs(iso Isolation, o sandboxOptions, argv []string) []string {
	switch iso {
	case IsolationBubblewrap:
		args := []string{"bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
			"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"}
		if !o.network {
			args = append(args, "--unshare-net")
		}
		if o.hide != "" {
			args = append(args, "--tmpfs", o.hide)
		}
		for _, p := range o.readOnly {
			if p != "" {
				args = append(args, "--ro-bind", p, p)
			}
		}
		for _, p := range o.writable {
			args = append(args, "--bind", p, p)
		}
		args = append(args, "--chdir", o.workdir, "--")
		return append(args, argv...)
	case IsolationUnshare:
		if !o.network {
			return append([]string{"unshare", "--net", "--"}, argv...)
		}
	}
	return argv
}

type sandboxOptions struct {
	network  bool
	hide     string   // a directory to hide (the lakehouse home)
	readOnly []string // re-exposed read-only inside the hidden directory
	writable []string // scratch and shared-memory directories
	workdir  string
}
