package runtime

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// The seccomp filter of sandboxed processes. bubblewrap installs it (with
// no_new_privs) before the sandboxed command starts. It allows every
// system call but those that only matter to escape or attack the host
// kernel, which fail with EPERM: mounting and namespaces (a user namespace
// would give back capabilities inside it), ptrace and reading other
// processes' memory, kernel modules, kexec, BPF, perf, keyrings,
// userfaultfd, io_uring, clock and swap changes, reboot. clone3 fails
// with ENOSYS so that the C library falls back to clone, whose namespace
// flags the filter can see. A call from another architecture's ABI (x32,
// 32-bit) kills the process, since its numbers mean other calls.

// deniedSyscalls fail with EPERM (plus deniedArchSyscalls of the architecture).
var deniedSyscalls = []uintptr{
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_CHROOT,
	unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK, unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE, unix.SYS_MOUNT_SETATTR,
	unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV, unix.SYS_PIDFD_GETFD,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_REBOOT, unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_ACCT, unix.SYS_QUOTACTL, unix.SYS_QUOTACTL_FD,
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_LOOKUP_DCOOKIE, unix.SYS_SYSLOG, unix.SYS_VHANGUP,
	unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME, unix.SYS_ADJTIMEX,
	unix.SYS_SETHOSTNAME, unix.SYS_SETDOMAINNAME,
}

// namespaceFlags are the clone flags that create namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// Classic BPF opcodes (linux/filter.h).
const (
	bpfLdAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	bpfJsetK  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	bpfRetK   = unix.BPF_RET | unix.BPF_K
)

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16 // the low 32 bits of args[0] on a little-endian machine
)

type bpfInsn struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

// seccompProgram returns the compiled filter as bubblewrap reads it (an
// array of struct sock_filter), or nil on an architecture without one.
func seccompProgram() []byte {
	if auditArch == 0 {
		return nil
	}
	const (
		allow  = unix.SECCOMP_RET_ALLOW
		eperm  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
		enosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
		kill   = unix.SECCOMP_RET_KILL_PROCESS
	)
	denied := append(append([]uintptr{}, deniedSyscalls...), deniedArchSyscalls...)
	// Layout: checks, then the returns: [allow, eperm, enosys, kill].
	var prog []bpfInsn
	type jump struct {
		at     int
		target int // 0 allow, 1 eperm, 2 enosys, 3 kill
		onTrue bool
	}
	var jumps []jump
	emit := func(in bpfInsn) int { prog = append(prog, in); return len(prog) - 1 }
	emit(bpfInsn{code: bpfLdAbsW, k: offArch})
	jumps = append(jumps, jump{emit(bpfInsn{code: bpfJeqK, k: auditArch}), 3, false})
	emit(bpfInsn{code: bpfLdAbsW, k: offNr})
	if x32Bit != 0 {
		jumps = append(jumps, jump{emit(bpfInsn{code: bpfJgeK, k: x32Bit}), 3, true})
	}
	for _, nr := range denied {
		jumps = append(jumps, jump{emit(bpfInsn{code: bpfJeqK, k: uint32(nr)}), 1, true})
	}
	jumps = append(jumps, jump{emit(bpfInsn{code: bpfJeqK, k: unix.SYS_CLONE3}), 2, true})
	// clone with a namespace flag: EPERM.
	emit(bpfInsn{code: bpfJeqK, k: unix.SYS_CLONE, jt: 0, jf: 2})
	emit(bpfInsn{code: bpfLdAbsW, k: offArg0})
	jumps = append(jumps, jump{emit(bpfInsn{code: bpfJsetK, k: namespaceFlags}), 1, true})
	returns := len(prog)
	for _, r := range []uint32{allow, eperm, enosys, kill} {
		emit(bpfInsn{code: bpfRetK, k: r})
	}
	for _, j := range jumps {
		off := returns + j.target - j.at - 1
		if off > 255 {
			panic("seccomp program too long for its jumps")
		}
		if j.onTrue {
			prog[j.at].jt = uint8(off)
		} else {
			prog[j.at].jf = uint8(off)
		}
	}
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = binary.LittleEndian.AppendUint16(out, in.code)
		out = append(out, in.jt, in.jf)
		out = binary.LittleEndian.AppendUint32(out, in.k)
	}
	return out
}
