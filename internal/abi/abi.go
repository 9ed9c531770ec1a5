package abi

import (
	"strconv"
)

// Version is the ABI version the guest reports from ExportVersion. The host
// refuses a module with another version. Bump it on any change to the
// exports or the encodings. Version 4 added ExportStepBatch, the engine's
// pacer/catch-up timers and sentinels, and the give-up and close errors
// with the reasons StateChanged carries.
const Version = 4

// Names of the guest's exports. The module imports nothing of its own: only
// the wasi_snapshot_preview1 functions the Go runtime uses.
const (
	// ExportInitialize is the reactor initializer (the Go runtime's). The host
	// calls it once, before anything else.
	ExportInitialize = "_initialize"
	// ExportVersion: () -> i32, the ABI version.
	ExportVersion = "kalam_abi_version"
	// ExportBuffer: (size i32) -> i32, a pointer to a guest buffer of at least
	// size bytes for the host to write a request into. It stays valid until
	// the next ExportBuffer call; 0 when size is out of range.
	ExportBuffer = "kalam_buffer"
	// ExportInit: (ptr i32, len i32) -> i64, (re)creates the engine from the
	// JSON fsm.Config at ptr. The response holds only a status.
	ExportInit = "kalam_init"
	// ExportStep: (ptr i32, len i32) -> i64, feeds one encoded input (see
	// AppendInput) and returns the encoded step result (see AppendStep).
	ExportStep = "kalam_step"
	// ExportStepBatch: (ptr i32, len i32) -> i64, feeds a batch of encoded
	// inputs in one call (see AppendBatchItem) and returns every input's
	// step result, each as ExportStep would have returned it.
	ExportStepBatch = "kalam_step_batch"
	// ExportView: () -> i64, the engine's state, namespace and subscriptions
	// (see AppendView).
	ExportView = "kalam_view"
	// ExportMemory is the guest's linear memory.
	ExportMemory = "memory"
)

// Limits the guest enforces on requests.
const (
	// MaxRequest bounds one request written into the guest buffer.
	MaxRequest = 64 << 20
	// maxErrorDepth bounds the nesting of encoded errors.
	maxErrorDepth = 32
)

// Pack joins a response's pointer and length into the i64 the exports
// return: the pointer in the high 32 bits, the length in the low 32.
func Pack(ptr, length uint32) uint64 { return uint64(ptr)<<32 | uint64(length) }

// Unpack splits a packed response.
func Unpack(v uint64) (ptr, length uint32) { return uint32(v >> 32), uint32(v) }

// Code classifies a failure of the ABI itself (as opposed to an engine
// error, which travels inside a successful response). Codes are stable and
// appear as the first byte of every response; 0 means success.
type Code uint8

const (
	CodeOK Code = iota
	// CodeTruncated: an encoding ends before its last field.
	CodeTruncated
	// CodeUnknownTag: an input, effect or error tag that does not exist.
	CodeUnknownTag
	// CodeBadValue: a field out of its range (an enum, a bool that is not 0
	// or 1, invalid JSON), trailing bytes, or nesting too deep.
	CodeBadValue
	// CodeOutOfRange: a pointer and length outside linear memory or outside
	// the buffer they must lie in.
	CodeOutOfRange
	// CodeTooLarge: a request over MaxRequest.
	CodeTooLarge
	// CodeNotInitialized: a step before a successful init.
	CodeNotInitialized
	// CodeBadConfig: the init request is not a valid fsm.Config.
	CodeBadConfig
	// CodeGuestPanic: the engine panicked; the instance is unusable.
	CodeGuestPanic
	// CodeTrap: the module trapped or could not be called (host side).
	CodeTrap
	// CodeVersion: the module speaks another ABI version (host side).
	CodeVersion
	// CodeClosed: the instance was closed (host side).
	CodeClosed
	// CodeUnencodable: a host value has no encoding (a query parameter that
	// is not JSON-encodable, an input type the ABI does not know).
	CodeUnencodable

	numCodes
)

var codeNames = [numCodes]string{
	"ok", "truncated", "unknown tag", "bad value", "out of range", "too large",
	"not initialized", "bad config", "guest panic", "trap", "version mismatch",
	"closed", "unencodable",
}

func (c Code) String() string {
	if c < numCodes {
		return codeNames[c]
	}
	return "code(" + strconv.Itoa(int(c)) + ")"
}

// Error is a failure of the ABI. Match codes with errors.Is against the
// Err* values, or read Code with errors.As.
type Error struct {
	Code Code
	// Detail says where; it never holds request or response bytes (they may
	// carry tokens).
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "kalam abi: " + e.Code.String()
	}
	return "kalam abi: " + e.Code.String() + ": " + e.Detail
}

// Is matches any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Detail == ""
}

// Sentinels for errors.Is.
var (
	ErrTruncated      = &Error{Code: CodeTruncated}
	ErrUnknownTag     = &Error{Code: CodeUnknownTag}
	ErrBadValue       = &Error{Code: CodeBadValue}
	ErrOutOfRange     = &Error{Code: CodeOutOfRange}
	ErrTooLarge       = &Error{Code: CodeTooLarge}
	ErrNotInitialized = &Error{Code: CodeNotInitialized}
	ErrBadConfig      = &Error{Code: CodeBadConfig}
	ErrGuestPanic     = &Error{Code: CodeGuestPanic}
	ErrTrap           = &Error{Code: CodeTrap}
	ErrVersion        = &Error{Code: CodeVersion}
	ErrClosed         = &Error{Code: CodeClosed}
	ErrUnencodable    = &Error{Code: CodeUnencodable}
)

// Errorf builds an *Error.
func Errorf(code Code, detail string) *Error { return &Error{Code: code, Detail: detail} }

// AppendStatus writes a failure response: the code, then the detail as a
// string.
func AppendStatus(b []byte, e *Error) []byte {
	b = append(b, byte(e.Code))
	return appendString(b, e.Detail)
}

// readStatus reads the status byte that starts every response; a non-zero
// code is returned as an *Error with its detail.
func readStatus(d *decoder) *Error {
	c := Code(d.u8())
	if d.err != nil {
		return d.err
	}
	if c == CodeOK {
		return nil
	}
	detail := d.str()
	if d.err != nil {
		return d.err
	}
	if c >= numCodes {
		return Errorf(CodeUnknownTag, "response status "+strconv.Itoa(int(c)))
	}
	return Errorf(c, "guest: "+detail)
}

// DecodeStatus reads a response that carries only a status (init).
func DecodeStatus(b []byte) error {
	d := decoder{b: b}
	if e := readStatus(&d); e != nil {
		return e
	}
	if e := d.end(); e != nil {
		return e
	}
	return nil
}
