package kalam

import (
	"github.com/kalamgo/kalam/fsm"
)

// Errors the client returns. Match them with errors.Is. The engine's typed
// errors (*fsm.TransitionError, *fsm.ServerError, *fsm.QueryError) are
// re-exported below for errors.As.
var (
	ErrClosed                = fsm.ErrClosed
	ErrDraining              = fsm.ErrDraining
	ErrNoCredentials         = fsm.ErrNoCredentials
	ErrNoNamespace           = fsm.ErrNoNamespace
	ErrInvalidNamespace      = fsm.ErrInvalidNamespace
	ErrEmptySQL              = fsm.ErrEmptySQL
	ErrUnknownSubscription   = fsm.ErrUnknownSubscription
	ErrDrainTimeout          = fsm.ErrDrainTimeout
	ErrCredentialsRejected   = fsm.ErrCredentialsRejected
	ErrDeadLink              = fsm.ErrDeadLink
	ErrConnectTimeout        = fsm.ErrConnectTimeout
	ErrProtocol              = fsm.ErrProtocol
	ErrInvalidSubscriptionID = fsm.ErrInvalidSubscriptionID
	// ErrSubscribeTimeout ends a subscription the server never
	// acknowledged (*SubscribeTimeoutError).
	ErrSubscribeTimeout = fsm.ErrSubscribeTimeout
	// ErrSubscriptionLimit ends a subscription the server refused because
	// a cap was reached (a *ServerError matches it).
	ErrSubscriptionLimit = fsm.ErrSubscriptionLimit
	// ErrGap matches Event.Err on a resume whose gap could not be
	// repaired (*GapError).
	ErrGap = fsm.ErrGap
	// ErrGaveUp matches every *GiveUpError: the give-up policy
	// (Config.GiveUpAttempts, Config.GiveUpAfter) ended the waiting work.
	ErrGaveUp = fsm.ErrGaveUp
)

type (
	// TransitionError is a lifecycle refusal naming the guard that said no.
	TransitionError = fsm.TransitionError
	// ServerError is an error message the server sent on the socket.
	ServerError = fsm.ServerError
	// QueryError is a failed HTTP query: status, KalamDB error code, message.
	QueryError = fsm.QueryError
	// SubscribeTimeoutError ends a subscription the server never
	// acknowledged; it matches ErrSubscribeTimeout.
	SubscribeTimeoutError = fsm.SubscribeTimeoutError
	// GapError says why a gap could not be repaired; it matches ErrGap.
	GapError = fsm.GapError
	// GiveUpError says what was tried before the give-up policy stopped:
	// failed attempts, elapsed time, last failure.
	GiveUpError = fsm.GiveUpError
	// CloseError is a socket closed by the server or the network: its close
	// code and reason (the Reason of a Transition when no typed error says
	// more).
	CloseError = fsm.CloseError
)
