//go:build !amd64 && !arm64

package runtime

// No seccomp filter on this architecture (its system call numbers are not
// listed here); Sandbox.Describe says so.
const (
	auditArch = 0
	x32Bit    = 0
)

var deniedArchSyscalls []uintptr
