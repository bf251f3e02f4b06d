package cli

import (
	"context"
	"errors"
	"fmt"

	"eventscope/store"
)

// Exit codes. Other tools depend on these numbers.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitBadInput = 2
	ExitConflict = 3
	ExitNotFound = 4
	ExitClosed   = 5
)

// UsageError marks bad input or usage (exit code 2). Its message names what was wrong.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var usage *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &usage), errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrDuplicateEvent):
		return ExitBadInput
	case errors.Is(err, store.ErrConflict):
		return ExitConflict
	case errors.Is(err, store.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, store.ErrStreamClosed):
		return ExitClosed
	case errors.Is(err, context.Canceled):
		return ExitFailure
	}
	for _, m := range extraExitMappers {
		if code, ok := m(err); ok {
			return code
		}
	}
	return ExitFailure
}

// extraExitMappers lets command files map their packages' errors to exit
// codes (for example a package sentinel that is not store's) without this file
// importing every package.
var extraExitMappers []func(error) (int, bool)
