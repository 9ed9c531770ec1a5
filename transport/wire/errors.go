package wire

import (
	"errors"
	"strconv"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrFrameTooLarge reports a frame, or its decompressed payload, over the
	// decoder's limit.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrUnknownType reports a message whose "type" this package does not know.
	ErrUnknownType = errors.New("wire: unknown message type")
)

// DecodeError reports bytes that are not a valid message. It never holds the
// frame itself (frames may carry tokens); Reason names what was wrong.
type DecodeError struct {
	Reason string
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Err != nil {
		return "wire: " + e.Reason + ": " + e.Err.Error()
	}
	return "wire: " + e.Reason
}

func (e *DecodeError) Unwrap() error { return e.Err }

// sizeError wraps ErrFrameTooLarge with the numbers.
type sizeError struct {
	what  string
	limit int64
}

func (e *sizeError) Error() string {
	return "wire: " + e.what + " exceeds " + strconv.FormatInt(e.limit, 10) + " bytes"
}

func (e *sizeError) Unwrap() error { return ErrFrameTooLarge }
