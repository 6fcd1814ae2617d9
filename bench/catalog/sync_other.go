//go:build !unix

package main

// syncDisks is a no-op where there is no sync(2).
func syncDisks() {}
