package tarn

import "context"

// Caller is what `tarn serve` tells a second front end (the Iceberg REST
// catalog under /iceberg) about the request it hands it: who made it and
// what they may write. The server authenticates the request first, so a
// front end never sees one without a Caller.
type Caller interface {
	// User is the authenticated user; commits are recorded as theirs.
	User() *User
	// CanWrite returns nil when the user may change branch directly (not by
	// merging), and EFORBIDDEN naming the rule that refuses it otherwise.
	CanWrite(branch string) error
	// Redact removes server paths from a message before it is sent.
	Redact(msg string) string
}

type callerKey struct{}

// WithCaller returns a context that carries the caller of a request.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller of the request ctx belongs to, or
// nil outside one.
func CallerFromContext(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}
