//go:build unix

package main

import "syscall"

// syncDisks asks the kernel to write dirty pages back now.
func syncDisks() { syscall.Sync() }
