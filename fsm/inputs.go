package fsm

import (
	"time"

	"github.com/kalamgo/kalam/auth/credential"
	"github.com/kalamgo/kalam/transport/wire"
)

// Input is anything fed to Engine.Step: an application command, the result
// of an effect, or a timer firing. The concrete types are below.
type Input interface{ input() }

// Application commands. Step returns an error for a command the engine
// refuses; the refusal never reaches the wire.
type (
	// Start begins the lifecycle: it resolves credentials when a provider
	// exists and, with Config.Eager, opens the socket once they arrive.
	Start struct{}

	// SetCredentials installs credentials pushed by the application (no
	// provider call). It also lifts a block left by a refused token.
	SetCredentials struct{ Credentials credential.Credentials }

	// FreshAuth asks the provider for new credentials now.
	FreshAuth struct{}

	// SetNamespace sets the namespace used for unqualified tables in HTTP
	// queries (namespace_id) and in live SQL; Live requires it.
	SetNamespace struct{ Namespace string }

	// Connect asks for the socket to be opened and kept open.
	Connect struct{}

	// Disconnect closes the socket (close 1000) and keeps it closed until
	// Connect or Subscribe. Subscriptions stay registered and resume later.
	Disconnect struct{}

	// Subscribe registers a live subscription. ID must be unique among the
	// engine's subscriptions; the same SQL twice is two subscriptions.
	Subscribe struct {
		ID  string
		SQL string
		// Options is sent as the subscribe options; nil asks the server for no
		// initial snapshot.
		Options *wire.SubscriptionOptions
		// Wait parks the subscription until credentials and a namespace are set,
		// instead of refusing it with ErrNoCredentials or ErrNoNamespace.
		Wait bool
	}

	// Unsubscribe removes a subscription for good: it is not resubscribed on
	// reconnect, connected or not.
	Unsubscribe struct{ ID string }

	// Pause takes a subscription off the wire because its consumer lags:
	// events after Position were dropped by the driver. The engine rewinds
	// the subscription to Position and does not resubscribe it until Resume.
	Pause struct {
		ID          string
		Position    wire.SeqID
		HasPosition bool
	}

	// Resume puts a paused subscription back on the wire; it resumes from the
	// position given to Pause.
	Resume struct{ ID string }

	// Query runs SQL over HTTP. ID must be unique among in-flight queries.
	Query struct {
		ID     uint64
		SQL    string
		Params []any
		// Namespace overrides the engine's namespace for this query when set.
		Namespace string
	}

	// Drain starts a graceful shutdown that ends by Deadline (engine time).
	Drain struct{ Deadline time.Duration }

	// Close shuts down at once.
	Close struct{}

	// NetworkChanged reports the platform's view of the network (the
	// browser's online/offline events). Offline drops the socket and holds
	// redials; Online redials at once instead of waiting out the backoff.
	NetworkChanged struct{ Online bool }

	// Wake reports that the application is running again after a pause the
	// timers may not have seen (a hidden browser tab, a suspended laptop):
	// expiry is checked at once and the socket is probed with a ping.
	Wake struct{}
)

// Results of effects, fed back by the driver.
type (
	// CredentialsResolved answers ResolveCredentials Req.
	CredentialsResolved struct {
		Req         uint64
		Credentials credential.Credentials
	}
	// CredentialsFailed answers ResolveCredentials Req with a failure.
	// Retryable says whether asking again later may succeed (network trouble)
	// or not (the provider has nothing new: wait for SetCredentials).
	CredentialsFailed struct {
		Req       uint64
		Err       error
		Retryable bool
	}
	// Dialed reports that the socket of Epoch is open.
	Dialed struct{ Epoch uint64 }
	// DialFailed reports that the socket of Epoch could not be opened.
	DialFailed struct {
		Epoch uint64
		Err   error
	}
	// FrameReceived carries one WebSocket message of Epoch, as received.
	// The engine does not keep Data past the Step.
	//
	// Index, when not nil, is where the fields of a text frame lie in Data,
	// as wire.IndexServer found them: the engine decodes from it instead of
	// scanning Data (a host running the engine in a slow guest scans
	// natively and passes it along). An index that does not fit Data is
	// ignored and the engine scans; one that fits but lies about Data gives
	// wrong events, never a panic. Nil for a binary frame.
	FrameReceived struct {
		Epoch  uint64
		Binary bool
		Data   []byte
		Index  *wire.FrameIndex
	}
	// PongReceived reports a Pong (or any liveness proof) on Epoch.
	PongReceived struct{ Epoch uint64 }
	// SocketClosed reports that the socket of Epoch is gone. Code is the close
	// status (1006 when there was no close frame).
	SocketClosed struct {
		Epoch  uint64
		Code   int
		Reason string
	}
	// QueryResult answers HTTPQuery ID: a response, or an error.
	QueryResult struct {
		ID       uint64
		Response *wire.SQLResponse
		Err      *QueryError
	}
	// TimerFired reports that the timer set with Gen expired.
	TimerFired struct {
		Timer Timer
		Gen   uint64
	}
)

func (Start) input()               {}
func (SetCredentials) input()      {}
func (FreshAuth) input()           {}
func (SetNamespace) input()        {}
func (Connect) input()             {}
func (Disconnect) input()          {}
func (Subscribe) input()           {}
func (Unsubscribe) input()         {}
func (Pause) input()               {}
func (Resume) input()              {}
func (Query) input()               {}
func (Drain) input()               {}
func (Close) input()               {}
func (NetworkChanged) input()      {}
func (Wake) input()                {}
func (CredentialsResolved) input() {}
func (CredentialsFailed) input()   {}
func (Dialed) input()              {}
func (DialFailed) input()          {}
func (FrameReceived) input()       {}
func (PongReceived) input()        {}
func (SocketClosed) input()        {}
func (QueryResult) input()         {}
func (TimerFired) input()          {}
