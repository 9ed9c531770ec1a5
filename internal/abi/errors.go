package abi

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/kalamgo/kalam/auth/credential"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// Error kinds (docs/ABI.md, "Errors").
const (
	errNil            = 0 // no error
	errSentinel       = 1 // code uvarint: a well-known sentinel
	errTransition     = 2 // from u8, trigger u8, guard string
	errServer         = 3 // subscription, code, message strings
	errQuery          = 4 // status varint, code, message strings, temporary bool
	errDecode         = 5 // reason string, cause error
	errMalformedToken = 6 // reason string
	errOther          = 7 // message string, list of wrapped errors
	errGiveUp         = 8 // attempts varint, elapsed varint, last error
	errClose          = 9 // code varint, reason string
)

// sentinels maps stable codes to the sentinel errors both sides share.
// Codes are never reused; new ones are appended.
var sentinels = []struct {
	code uint64
	err  error
}{
	{1, fsm.ErrClosed},
	{2, fsm.ErrDraining},
	{3, fsm.ErrNoCredentials},
	{4, fsm.ErrNoNamespace},
	{5, fsm.ErrInvalidNamespace},
	{6, fsm.ErrEmptySQL},
	{7, fsm.ErrDuplicateSubscription},
	{8, fsm.ErrUnknownSubscription},
	{9, fsm.ErrDuplicateQuery},
	{10, fsm.ErrDrainTimeout},
	{11, fsm.ErrCredentialsRejected},
	{12, fsm.ErrDeadLink},
	{13, fsm.ErrConnectTimeout},
	{14, fsm.ErrProtocol},
	{15, fsm.ErrInvalidSubscriptionID},
	{16, fsm.ErrSubscribeTimeout},
	{17, fsm.ErrSubscriptionLimit},
	{18, fsm.ErrGap},
	{19, fsm.ErrGaveUp},
	{32, credential.ErrMalformedToken},
	{33, credential.ErrTokenExpired},
	{34, credential.ErrRejected},
	{35, credential.ErrNoEndpoint},
	{36, credential.ErrNoCredentials},
	{37, credential.ErrNotRefreshable},
	{48, wire.ErrFrameTooLarge},
	{49, wire.ErrUnknownType},
	{64, context.Canceled},
	{65, context.DeadlineExceeded},
	{66, io.EOF},
	{67, io.ErrUnexpectedEOF},
}

func sentinelCode(err error) (uint64, bool) {
	for _, s := range sentinels {
		// Comparing interfaces of different dynamic types is false without
		// panicking, and every sentinel's type is comparable.
		if err == s.err {
			return s.code, true
		}
	}
	return 0, false
}

func sentinelByCode(code uint64) error {
	for _, s := range sentinels {
		if s.code == code {
			return s.err
		}
	}
	return nil
}

// RemoteError stands for an error of a type the ABI does not know: its text
// and the errors it wrapped, so errors.Is still finds a sentinel or a known
// type anywhere in the chain. errors.As for the unknown type itself fails:
// the type did not cross.
type RemoteError struct {
	Msg     string
	Wrapped []error
}

func (e *RemoteError) Error() string   { return e.Msg }
func (e *RemoteError) Unwrap() []error { return e.Wrapped }

// appendError encodes err. Known types keep their type; any other error
// becomes its text plus what it wraps (RemoteError on the other side).
func appendError(b []byte, err error, depth int) []byte {
	if err == nil {
		return append(b, errNil)
	}
	if depth >= maxErrorDepth {
		// Too deep to follow: keep the text, drop the chain.
		b = append(b, errOther)
		b = appendString(b, err.Error())
		return appendUvarint(b, 0)
	}
	if code, ok := sentinelCode(err); ok {
		b = append(b, errSentinel)
		return appendUvarint(b, code)
	}
	switch e := err.(type) {
	case *fsm.TransitionError:
		if e != nil {
			b = append(b, errTransition, byte(e.From), byte(e.Trigger))
			return appendString(b, e.Guard)
		}
	case *fsm.ServerError:
		if e != nil {
			b = append(b, errServer)
			b = appendString(b, e.Subscription)
			b = appendString(b, e.Code)
			return appendString(b, e.Message)
		}
	case *fsm.QueryError:
		if e != nil {
			b = append(b, errQuery)
			return appendQueryError(b, e)
		}
	case *wire.DecodeError:
		if e != nil {
			b = append(b, errDecode)
			b = appendString(b, e.Reason)
			return appendError(b, e.Err, depth+1)
		}
	case *credential.MalformedTokenError:
		if e != nil {
			b = append(b, errMalformedToken)
			return appendString(b, e.Reason)
		}
	case *fsm.GiveUpError:
		if e != nil {
			b = append(b, errGiveUp)
			b = appendVarint(b, int64(e.Attempts))
			b = appendVarint(b, int64(e.Elapsed))
			return appendError(b, e.Last, depth+1)
		}
	case *fsm.CloseError:
		if e != nil {
			b = append(b, errClose)
			b = appendVarint(b, int64(e.Code))
			return appendString(b, e.Reason)
		}
	}
	b = append(b, errOther)
	b = appendString(b, err.Error())
	var wrapped []error
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		wrapped = u.Unwrap()
	case interface{ Unwrap() error }:
		if w := u.Unwrap(); w != nil {
			wrapped = []error{w}
		}
	}
	// A type that matches sentinels through its own Is method (an HTTP
	// error that is auth.ErrRejected for a 401) would lose that match on
	// the other side: the sentinels it matches travel as wrapped errors.
	if m, ok := err.(interface{ Is(error) bool }); ok {
		for _, s := range sentinels {
			if m.Is(s.err) {
				wrapped = append(wrapped[:len(wrapped):len(wrapped)], s.err)
			}
		}
	}
	n := 0
	for _, w := range wrapped {
		if w != nil {
			n++
		}
	}
	b = appendUvarint(b, uint64(n))
	for _, w := range wrapped {
		if w != nil {
			b = appendError(b, w, depth+1)
		}
	}
	return b
}

func appendQueryError(b []byte, e *fsm.QueryError) []byte {
	b = appendVarint(b, int64(e.Status))
	b = appendString(b, e.Code)
	b = appendString(b, e.Message)
	return appendBool(b, e.Temporary)
}

func (d *decoder) queryError() *fsm.QueryError {
	return &fsm.QueryError{Status: d.int(), Code: d.str(), Message: d.str(), Temporary: d.bool()}
}

var (
	numStates   = len(fsm.States())
	numTriggers = len(fsm.Triggers())
)

func (d *decoder) error() error {
	kind := d.u8()
	if d.err != nil {
		return nil
	}
	switch kind {
	case errNil:
		return nil
	case errSentinel:
		code := d.uvarint()
		if d.err != nil {
			return nil
		}
		s := sentinelByCode(code)
		if s == nil {
			d.fail(CodeUnknownTag, "sentinel error "+strconv.FormatUint(code, 10))
		}
		return s
	case errTransition:
		return &fsm.TransitionError{
			From:    fsm.State(d.enum(numStates, "state")),
			Trigger: fsm.Trigger(d.enum(numTriggers, "trigger")),
			Guard:   d.str(),
		}
	case errServer:
		return &fsm.ServerError{Subscription: d.str(), Code: d.str(), Message: d.str()}
	case errQuery:
		return d.queryError()
	case errDecode:
		e := &wire.DecodeError{Reason: d.str()}
		e.Err = d.nested()
		return e
	case errMalformedToken:
		return &credential.MalformedTokenError{Reason: d.str()}
	case errGiveUp:
		e := &fsm.GiveUpError{Attempts: d.int(), Elapsed: time.Duration(d.varint())}
		e.Last = d.nested()
		return e
	case errClose:
		return &fsm.CloseError{Code: d.int(), Reason: d.str()}
	case errOther:
		e := &RemoteError{Msg: d.str()}
		n := d.count(1)
		if n > 0 {
			e.Wrapped = make([]error, 0, n)
		}
		for range n {
			w := d.nested()
			if d.err != nil {
				return nil
			}
			if w == nil {
				d.fail(CodeBadValue, "nil wrapped error")
				return nil
			}
			e.Wrapped = append(e.Wrapped, w)
		}
		return e
	}
	d.fail(CodeUnknownTag, "error kind "+strconv.Itoa(int(kind)))
	return nil
}

func (d *decoder) nested() error {
	if d.depth >= maxErrorDepth {
		d.fail(CodeBadValue, "errors nested too deep")
		return nil
	}
	d.depth++
	err := d.error()
	d.depth--
	return err
}

// AppendError encodes one error (exported for tests and other hosts).
func AppendError(b []byte, err error) []byte { return appendError(b, err, 0) }

// DecodeError decodes one error that fills b.
func DecodeError(b []byte) (error, error) {
	d := decoder{b: b}
	err := d.error()
	if e := d.end(); e != nil {
		return nil, e
	}
	return err, nil
}
