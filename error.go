package tarn

import (
	"errors"
	"fmt"
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
