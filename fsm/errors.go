package fsm

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/kalamgo/kalam/auth/credential"
	"github.com/kalamgo/kalam/transport/wire"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrClosed: the engine is closed; every command fails with it.
	ErrClosed = errors.New("kalam: client closed")
	// ErrDraining: a drain is in progress; no new work is accepted.
	ErrDraining = errors.New("kalam: client draining")
	// ErrNoCredentials: the command needs credentials and none are held or
	// on their way.
	ErrNoCredentials = errors.New("kalam: no credentials")
	// ErrNoNamespace: live subscriptions need a namespace and none is set.
	ErrNoNamespace = errors.New("kalam: no namespace set")
	// ErrInvalidNamespace: a namespace name is empty or not an identifier.
	ErrInvalidNamespace = errors.New("kalam: invalid namespace")
	// ErrEmptySQL: the statement is empty.
	ErrEmptySQL = errors.New("kalam: empty SQL")
	// ErrDuplicateSubscription: a subscription with that id exists.
	ErrDuplicateSubscription = errors.New("kalam: duplicate subscription id")
	// ErrUnknownSubscription: no subscription has that id.
	ErrUnknownSubscription = errors.New("kalam: unknown subscription")
	// ErrDuplicateQuery: a query with that id is in flight.
	ErrDuplicateQuery = errors.New("kalam: duplicate query id")
	// ErrDrainTimeout: the drain deadline passed before the work finished.
	ErrDrainTimeout = errors.New("kalam: drain deadline exceeded")
	// ErrCredentialsRejected: the server refused the credentials and the
	// provider had nothing new.
	ErrCredentialsRejected = errors.New("kalam: credentials rejected")
	// ErrDeadLink: nothing arrived on the socket within the pong timeout.
	ErrDeadLink = errors.New("kalam: dead link")
	// ErrConnectTimeout: the socket did not authenticate in time.
	ErrConnectTimeout = errors.New("kalam: connect timeout")
	// ErrProtocol: the server sent something the protocol does not allow.
	ErrProtocol = errors.New("kalam: protocol violation")
	// ErrSubscribeTimeout: the server did not acknowledge a subscription
	// within Config.AckTimeout, Config.SubscribeAttempts times in a row.
	// The subscription ends with a *SubscribeTimeoutError, which matches it.
	ErrSubscribeTimeout = errors.New("kalam: subscription not acknowledged")
	// ErrSubscriptionLimit: the server refused a subscription because a
	// cap was reached (KalamDB: 100 per connection, UNSUPPORTED; a per-user
	// cap, SUBSCRIPTION_LIMIT_EXCEEDED). The subscription ends with a
	// *ServerError, which matches it; it is not retried.
	ErrSubscriptionLimit = errors.New("kalam: subscription limit reached")
	// ErrGap: a resumed subscription has a gap the engine could not repair
	// (Continuity broken). The resume event carries a *GapError, which
	// matches it, saying why.
	ErrGap = errors.New("kalam: unrepairable gap")
)

// SubscribeTimeoutError ends a subscription the server never acknowledged.
type SubscribeTimeoutError struct {
	Subscription string
	Attempts     int
	Timeout      time.Duration
}

func (e *SubscribeTimeoutError) Error() string {
	return "kalam: subscription " + e.Subscription + " not acknowledged after " + strconv.Itoa(e.Attempts) +
		" attempts of " + e.Timeout.String()
}

// Unwrap makes errors.Is(err, ErrSubscribeTimeout) hold.
func (e *SubscribeTimeoutError) Unwrap() error { return ErrSubscribeTimeout }

// TransitionError reports a trigger the lifecycle refused: no row handles
// Trigger in From, or Guard did not hold.
type TransitionError struct {
	From    State
	Trigger Trigger
	// Guard is the name of the guard that said no; empty when no transition
	// exists at all.
	Guard string
}

func (e *TransitionError) Error() string {
	if e.Guard != "" {
		s := "kalam: " + e.Trigger.String() + " refused in " + e.From.String() + ": guard " + e.Guard + " does not hold"
		switch e.Guard {
		case GuardHasNamespace.String():
			s += " (no namespace: qualify every table as ns.table, or set a namespace)"
		case GuardHasValidToken.String(), GuardHasCredentials.String():
			s += " (no usable credentials: set credentials or configure an auth provider)"
		}
		return s
	}
	return "kalam: " + e.Trigger.String() + " not permitted in " + e.From.String()
}

// Is makes a refusal by a guard match the matching sentinel, and any refusal
// in StateClosed match ErrClosed.
func (e *TransitionError) Is(target error) bool {
	switch target {
	case ErrClosed:
		return e.From == StateClosed
	case ErrNoNamespace:
		return e.Guard == GuardHasNamespace.String()
	case ErrNoCredentials:
		return e.Guard == GuardHasValidToken.String() || e.Guard == GuardHasCredentials.String()
	}
	return false
}

// ServerError is an error message the server sent on the socket.
type ServerError struct {
	// Subscription is the subscription id, or the server's placeholder
	// ("protocol", "rate_limit", "subscribe", "invalid_subscription").
	Subscription string
	Code         string
	Message      string
}

func (e *ServerError) Error() string {
	return "kalam: server error " + e.Code + " (" + e.Subscription + "): " + e.Message
}

// Is makes a refusal for a subscription cap match ErrSubscriptionLimit.
func (e *ServerError) Is(target error) bool {
	return target == ErrSubscriptionLimit && e.SubscriptionCap()
}

// SubscriptionCap reports whether the server refused a subscription
// because a cap was reached: the per-user cap (SUBSCRIPTION_LIMIT_EXCEEDED)
// or the per-connection one (UNSUPPORTED "Maximum subscriptions").
func (e *ServerError) SubscriptionCap() bool {
	return e.Code == wire.CodeSubscriptionLimitExceeded ||
		e.Code == wire.CodeUnsupported && strings.Contains(e.Message, "Maximum subscriptions")
}

// QueryError is a failed HTTP query as the driver reports it: the status and
// the server's error code, or a transport failure (Status 0).
type QueryError struct {
	Status  int
	Code    string
	Message string
	// Temporary marks failures worth retrying later (429, 503, network).
	Temporary bool
}

func (e *QueryError) Error() string {
	s := "kalam: query failed"
	if e.Status != 0 {
		s += " (" + strconv.Itoa(e.Status) + ")"
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is matches credential.ErrTokenExpired for TOKEN_EXPIRED and credential.ErrRejected for
// the other 401 answers.
func (e *QueryError) Is(target error) bool {
	switch target {
	case credential.ErrTokenExpired:
		return e.Code == wire.CodeTokenExpired
	case credential.ErrRejected:
		return e.Status == 401 && e.Code != wire.CodeTokenExpired
	}
	return false
}

// authFailure reports whether a query failure means the token is no good.
func (e *QueryError) authFailure() bool {
	return e != nil && (e.Code == wire.CodeTokenExpired || e.Code == wire.CodeInvalidCredentials || (e.Status == 401 && e.Code == ""))
}
