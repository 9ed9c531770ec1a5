package wazero

import "github.com/kalamgo/kalam/internal/abi"

// Error is a failure of the ABI between this host and the guest; Code says
// which. Match it with errors.Is against the Err values below or read it
// with errors.As. Engine errors (fsm.ErrClosed, *fsm.TransitionError …) are
// not Errors: they cross the ABI with their types and sentinels intact.
type Error = abi.Error

// Code classifies an Error (docs/ABI.md lists the codes).
type Code = abi.Code

// Errors by code, for errors.Is.
var (
	ErrTruncated      = abi.ErrTruncated
	ErrUnknownTag     = abi.ErrUnknownTag
	ErrBadValue       = abi.ErrBadValue
	ErrOutOfRange     = abi.ErrOutOfRange
	ErrTooLarge       = abi.ErrTooLarge
	ErrNotInitialized = abi.ErrNotInitialized
	ErrBadConfig      = abi.ErrBadConfig
	ErrGuestPanic     = abi.ErrGuestPanic
	ErrTrap           = abi.ErrTrap
	ErrVersion        = abi.ErrVersion
	ErrClosed         = abi.ErrClosed
	ErrUnencodable    = abi.ErrUnencodable
)
