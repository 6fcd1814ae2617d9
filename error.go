package tarn

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Error codes. Every error a service returns to a user carries one of them;
// the CLI maps them to exit codes and the server to HTTP statuses in one
// table each.
const (
	ECONFLICT     = "conflict"     // a concurrent or merge conflict; retrying may help
	EEXISTS       = "exists"       // the thing to create already exists
	EINTERNAL     = "internal"     // a bug or an environment failure
	EINVALID      = "invalid"      // bad input: names, refs, files, flags
	ENOTFOUND     = "not_found"    // unknown ref, table, namespace, commit
	EUNAUTHORIZED = "unauthorized" // missing or bad credentials
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed
	ECANCELLED    = "cancelled"    // stopped by `tarn job cancel`, a client that went away or a server stopping
)

// Error is an application error with a code and a user-facing message.
// Wrapped errors keep their chain so errors.Is keeps working.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the wrapped error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code; a %w verb in format wraps
// its argument.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the full message of err (context phrases included).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }

// quotedMax is how many bytes of an input Quote keeps.
const quotedMax = 64

// Quote returns s quoted for a message (as %q does), cut to its first 64
// bytes (whole characters) with its length when it is longer: a message
// names the input it refuses without echoing a long one whole.
func Quote(s string) string {
	if len(s) <= quotedMax {
		return strconv.Quote(s)
	}
	cut := quotedMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// MaxMessage caps the error messages a server sends (see CapMessage).
const MaxMessage = 8 << 10

// CapMessage cuts a message to MaxMessage bytes (whole characters), saying
// how much was left out: a last resort for messages that quote what they
// were given.
func CapMessage(msg string) string {
	if len(msg) <= MaxMessage {
		return msg
	}
	cut := MaxMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (message cut: %d more bytes)", msg[:cut], len(msg)-cut)
}
