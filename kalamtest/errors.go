package kalamtest

import (
	"errors"
	"strconv"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrClosed reports a call on a server that was closed or shut down.
	ErrClosed = errors.New("kalamtest: server closed")
	// ErrUnknownUser reports a user name the server does not know.
	ErrUnknownUser = errors.New("kalamtest: unknown user")
	// ErrInvalidConfig reports a Config that cannot be used. The error is a
	// *ConfigError naming the field.
	ErrInvalidConfig = errors.New("kalamtest: invalid config")
)

// ConfigError reports an invalid Config field. It matches ErrInvalidConfig
// with errors.Is. It never holds a secret value, only the field's name.
type ConfigError struct {
	Field  string // Go name of the field, e.g. "Overflow" or "Users[2].Role"
	Reason string
}

func (e *ConfigError) Error() string {
	return "kalamtest: invalid config: " + e.Field + ": " + e.Reason
}

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// ListenError reports that the server could not (re)open its listener. It
// wraps the net error.
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string { return "kalamtest: listen on " + e.Addr + ": " + e.Err.Error() }

func (e *ListenError) Unwrap() error { return e.Err }

func fieldIndex(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }
