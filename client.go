package kalam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/httpapi"
	"github.com/kalamgo/kalam/transport/wire"
)

// Client is a KalamDB client: HTTP queries, live subscriptions over one
// WebSocket, and the credentials both need, driven by one lifecycle.
//
// Build one Client per server and share it. All methods are safe for
// concurrent use. A Client owns one goroutine (its loop) plus the I/O
// goroutines of the moment; Close or Drain stops all of them.
type Client struct {
	cfg    Config
	engCfg fsm.Config
	wsURL  *url.URL
	api    *httpapi.Client
	log    *slog.Logger
	start  time.Time

	ctx    context.Context // cancelled when the loop ends
	cancel context.CancelFunc
	inbox  chan any // fsm inputs, dialedMsg and commands, from every goroutine
	done   chan struct{}
	io     sync.WaitGroup

	state   atomic.Uint32
	nextQID atomic.Uint64
	nextSub atomic.Uint64
	events  *dispatcher

	// Owned by the loop goroutine.
	eng       fsm.Stepper
	timers    [16]*time.Timer
	conns     map[uint64]*conn
	queries   map[uint64]*pendingQuery
	subs      map[string]*Subscription
	creds     auth.Credentials
	credWait  []chan error
	connWait  []chan error
	drainWait []chan DrainOutcome
	drainDone *DrainOutcome
	followups []fsm.Input
	drainBy   atomic.Int64 // the running Drain's deadline (Unix ns): bounds its closing handshake
	closeOnce sync.Once
	draining  atomic.Bool

	topicCalls sync.Map // consumer.go: query ID → *topicCall
	consumers  sync.Map // consumer.go: open *Consumer → struct{}
}

type pendingQuery struct {
	ctx   context.Context
	reply chan queryReply
}

type queryReply struct {
	res *Result
	err error
}

// command is an application call executed on the loop.
type command struct {
	in    fsm.Input
	pre   func() // runs on the loop before the input
	reply chan error
}

// New builds a client. It validates cfg and starts the loop; credentials are
// resolved in the background (and the socket opened when
// Config.EagerConnect is set). New never blocks on the network.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	base, ws, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	api, err := httpapi.New(base.String(), cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		// The seed only spreads reconnects; it guards nothing, so the
		// runtime's generator will do (crypto/rand would add its DRBG to
		// the browser build).
		for seed == 0 {
			seed = rand.Uint64()
		}
	}
	reconnect := false
	if r, ok := cfg.Auth.(interface{ ResolveOnReconnect() bool }); ok {
		reconnect = r.ResolveOnReconnect()
	}
	c := &Client{
		cfg:   cfg,
		wsURL: ws,
		api:   api,
		log:   cfg.Logger,
		start: time.Now(),
		engCfg: fsm.Config{
			Namespace:          cfg.Namespace,
			HasProvider:        cfg.Auth != nil,
			ResolveOnReconnect: reconnect,
			Eager:              cfg.EagerConnect,
			RefreshMargin:      cfg.RefreshMargin,
			BackoffMin:         cfg.BackoffMin,
			BackoffMax:         cfg.BackoffMax,
			PingInterval:       cfg.PingInterval,
			PongTimeout:        cfg.PongTimeout,
			ConnectTimeout:     cfg.ConnectTimeout,
			GiveUpAttempts:     cfg.GiveUpAttempts,
			GiveUpAfter:        cfg.GiveUpAfter,
			Seed:               seed,
		},
		inbox:   make(chan any, 256),
		done:    make(chan struct{}),
		conns:   map[uint64]*conn{},
		queries: map[uint64]*pendingQuery{},
		subs:    map[string]*Subscription{},
	}
	c.engCfg = withEngineDefaults(c.engCfg)
	if cfg.Engine != nil {
		eng, err := cfg.Engine(c.engCfg)
		if err != nil {
			return nil, err
		}
		c.eng = eng
	} else {
		c.eng = fsm.New(c.engCfg)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.events = newDispatcher(cfg)
	if base.Scheme == "http" && !isLoopback(base.Hostname()) && cfg.Auth != nil && !auth.IsAnonymous(cfg.Auth) {
		c.log.Warn("kalam: credentials will be sent over plain HTTP to a non-loopback host", "host", base.Hostname(), "hint", "use an https:// URL")
	}
	go c.loop()
	if err := c.do(context.Background(), fsm.Start{}, nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// withEngineDefaults mirrors the engine's defaults so the driver knows the
// timeouts it uses for I/O.
func withEngineDefaults(c fsm.Config) fsm.Config {
	if c.PingInterval <= 0 {
		c.PingInterval = 5 * time.Second
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = 5 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	return c
}

func (c *Client) now() time.Duration { return time.Since(c.start) }

// goIO runs f as an I/O goroutine that Close waits for.
func (c *Client) goIO(f func()) {
	c.io.Add(1)
	go func() {
		defer c.io.Done()
		f()
	}()
}

// post hands a message to the loop; false when the loop has ended.
func (c *Client) post(m any) bool {
	select {
	case c.inbox <- m:
		return true
	case <-c.done:
		return false
	}
}

// do runs an engine command on the loop and returns the engine's verdict.
func (c *Client) do(ctx context.Context, in fsm.Input, pre func()) error {
	cmd := &command{in: in, pre: pre, reply: make(chan error, 1)}
	select {
	case c.inbox <- cmd:
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-cmd.reply:
		return err
	case <-c.done:
		// The command may have been the loop's last (a Drain that closed
		// the client at once): its verdict wins over the shutdown.
		select {
		case err := <-cmd.reply:
			return err
		default:
			return ErrClosed
		}
	}
}

// exec runs f on the loop and waits for it.
func (c *Client) exec(f func()) error {
	ran := make(chan struct{})
	cmd := &command{pre: func() { f(); close(ran) }, reply: make(chan error, 1)}
	select {
	case c.inbox <- cmd:
	case <-c.done:
		return ErrClosed
	}
	select {
	case <-ran:
		return nil
	case <-c.done:
		select {
		case <-ran:
			return nil
		default:
			return ErrClosed
		}
	}
}

// loop owns the engine: it is the only caller of Step.
func (c *Client) loop() {
	defer c.shutdownIO()
	for {
		m := <-c.inbox
		switch m := m.(type) {
		case *command:
			if m.pre != nil {
				m.pre()
			}
			var err error
			if m.in != nil {
				err = c.step(m.in)
			}
			m.reply <- err
		case dialedMsg:
			cn := c.conns[m.epoch]
			if cn == nil {
				m.ws.closeNow()
				c.step(fsm.Dialed{Epoch: m.epoch}) // stale: the engine ignores it
				continue
			}
			c.attach(cn, m.ws)
			c.step(fsm.Dialed{Epoch: m.epoch})
		case fsm.Input:
			c.step(m)
		}
		if c.eng.State() == fsm.StateClosed {
			return
		}
	}
}

// step feeds one input, carries out its effects, then any follow-ups the
// effects produced.
func (c *Client) step(in fsm.Input) error {
	c.observe(in)
	effs, err := c.eng.Step(c.now(), in)
	c.run(effs)
	for len(c.followups) > 0 {
		next := c.followups[0]
		c.followups = c.followups[1:]
		c.observe(next)
		effs, _ := c.eng.Step(c.now(), next)
		c.run(effs)
	}
	return err
}

// observe updates the driver's view before the engine sees an input.
func (c *Client) observe(in fsm.Input) {
	switch in := in.(type) {
	case fsm.CredentialsResolved:
		c.creds = in.Credentials
		c.wakeCredWaiters(nil)
	case fsm.CredentialsFailed:
		c.wakeCredWaiters(in.Err)
	case fsm.SetCredentials:
		c.creds = in.Credentials
	}
}

// run carries out effects. It never blocks: anything slow runs in an I/O
// goroutine that reports back through the inbox.
func (c *Client) run(effs []fsm.Effect) {
	for _, eff := range effs {
		switch eff := eff.(type) {
		case fsm.ResolveCredentials:
			c.resolve(eff)
		case fsm.Dial:
			c.dial(eff.Epoch)
		case fsm.Authenticate:
			c.send(eff.Epoch, wire.AuthenticateMessage(eff.Token.Reveal()))
		case fsm.Send:
			c.send(eff.Epoch, eff.Data)
		case fsm.Ping:
			c.ping(eff.Epoch)
		case fsm.CloseSocket:
			// Close is immediate; everything else, a drain included, says goodbye.
			c.closeSocket(eff.Epoch, eff.Code, eff.Reason, c.eng.State() == fsm.StateClosed && !c.draining.Load())
		case fsm.HTTPQuery:
			c.httpQuery(eff)
		case fsm.SetTimer:
			c.setTimer(eff)
		case fsm.CancelTimer:
			if t := c.timers[eff.Timer]; t != nil {
				t.Stop()
				c.timers[eff.Timer] = nil
			}
		case fsm.Deliver:
			c.deliver(eff)
		case fsm.QueryDone:
			c.queryDone(eff)
		case fsm.StateChanged:
			c.state.Store(uint32(eff.To))
			c.log.Debug("kalam: state", "from", eff.From, "to", eff.To, "trigger", eff.Trigger, "reason", eff.Reason, "attempt", eff.Attempt, "retryIn", eff.RetryIn)
			c.events.push(Transition{From: eff.From, To: eff.To, Trigger: eff.Trigger, Reason: eff.Reason, Code: eff.Code, Attempt: eff.Attempt, RetryIn: eff.RetryIn})
			c.wakeConnWaiters(eff.To)
		case fsm.ConnectionEvent:
			ev := ConnectionEvent{Connected: eff.Connected, Code: eff.Code, Reason: eff.Reason, Err: eff.Err, Recoverable: eff.Recoverable}
			if eff.Connected {
				c.log.Debug("kalam: connected", "epoch", eff.Epoch)
			} else {
				c.log.Debug("kalam: disconnected", "epoch", eff.Epoch, "code", eff.Code, "reason", eff.Reason, "err", eff.Err)
			}
			c.events.push(ev)
		case fsm.Problem:
			c.log.Warn("kalam: problem", "err", eff.Err, "recoverable", eff.Recoverable)
			c.events.push(problem{err: eff.Err, recoverable: eff.Recoverable})
			if !eff.Recoverable {
				c.wakeConnWaitersErr(eff.Err)
			}
		case fsm.DrainDone:
			o := eff.Outcome
			c.drainDone = &o
			for _, w := range c.drainWait {
				w <- o
			}
			c.drainWait = nil
		}
	}
}

func (c *Client) setTimer(st fsm.SetTimer) {
	if t := c.timers[st.Timer]; t != nil {
		t.Stop()
	}
	d := max(st.At-c.now(), 0)
	c.timers[st.Timer] = time.AfterFunc(d, func() { c.post(fsm.TimerFired{Timer: st.Timer, Gen: st.Gen}) })
}

func (c *Client) resolve(rc fsm.ResolveCredentials) {
	p := c.cfg.Auth
	req := auth.Request{Reason: rc.Reason, Current: c.creds, Endpoint: c.api}
	c.goIO(func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RequestTimeout)
		defer cancel()
		creds, err := safeProvide(ctx, p, req)
		if err != nil {
			c.post(fsm.CredentialsFailed{Req: rc.Req, Err: err, Retryable: retryableAuth(err)})
			return
		}
		c.post(fsm.CredentialsResolved{Req: rc.Req, Credentials: creds})
	})
}

// safeProvide calls the provider, turning a panic into an error so that a
// faulty provider cannot take the client down.
func safeProvide(ctx context.Context, p auth.Provider, req auth.Request) (creds auth.Credentials, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kalam: auth provider panicked: %v", r)
		}
	}()
	return p.Credentials(ctx, req)
}

// retryableAuth says whether asking the provider again later may help.
func retryableAuth(err error) bool {
	for _, final := range []error{auth.ErrRejected, auth.ErrTokenExpired, auth.ErrNoCredentials, auth.ErrNoEndpoint, auth.ErrMalformedToken} {
		if errors.Is(err, final) {
			return false
		}
	}
	return true
}

func (c *Client) httpQuery(q fsm.HTTPQuery) {
	pq := c.queries[q.ID]
	ctx := c.ctx
	if pq != nil && pq.ctx != nil {
		ctx = pq.ctx
	}
	c.goIO(func() {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(c.ctx, cancel)
		defer stop()
		if _, has := ctx.Deadline(); !has {
			var tcancel context.CancelFunc
			ctx, tcancel = context.WithTimeout(ctx, c.cfg.RequestTimeout)
			defer tcancel()
		}
		var resp *wire.SQLResponse
		var err error
		if tc := c.topicCallFor(q.ID); tc != nil { // consumer.go
			resp, err = tc.run(ctx, c.api, q.Token)
		} else {
			resp, err = c.api.SQL(ctx, q.Token, q.Request)
		}
		if err != nil {
			c.post(fsm.QueryResult{ID: q.ID, Err: queryError(err)})
			return
		}
		c.post(fsm.QueryResult{ID: q.ID, Response: resp})
	})
}

// queryError maps an HTTP failure to the engine's QueryError.
func queryError(err error) *fsm.QueryError {
	var he *httpapi.Error
	if errors.As(err, &he) {
		return &fsm.QueryError{Status: he.Status, Code: he.Code, Message: he.Message, Temporary: httpapi.IsRetryable(err)}
	}
	return &fsm.QueryError{Message: err.Error(), Temporary: true}
}

func (c *Client) queryDone(qd fsm.QueryDone) {
	pq := c.queries[qd.ID]
	delete(c.queries, qd.ID)
	if pq == nil {
		return
	}
	if qd.Err != nil {
		pq.reply <- queryReply{err: qd.Err}
		return
	}
	res, err := resultFromWire(qd.Response)
	pq.reply <- queryReply{res: res, err: err}
}

func (c *Client) wakeCredWaiters(err error) {
	for _, w := range c.credWait {
		w <- err
	}
	c.credWait = nil
}

func (c *Client) wakeConnWaiters(s State) {
	switch {
	case s.In(StateConnected):
		for _, w := range c.connWait {
			w <- nil
		}
		c.connWait = nil
	case s == StateDraining || s == StateClosed:
		c.wakeConnWaitersErr(ErrClosed)
	}
}

func (c *Client) wakeConnWaitersErr(err error) {
	for _, w := range c.connWait {
		w <- err
	}
	c.connWait = nil
}

// shutdownIO runs when the loop ends: stop timers, drop sockets, end I/O.
func (c *Client) shutdownIO() {
	for i, t := range c.timers {
		if t != nil {
			t.Stop()
			c.timers[i] = nil
		}
	}
	for epoch := range c.conns {
		c.closeSocket(epoch, wire.CloseNormal, "client closed", !c.draining.Load())
	}
	for _, w := range c.drainWait {
		w <- DrainOutcome{Aborted: true}
	}
	c.wakeConnWaitersErr(ErrClosed)
	c.wakeCredWaiters(ErrClosed)
	close(c.done)
	c.cancel()
	c.events.close()
}

// State returns the current lifecycle state.
func (c *Client) State() State { return State(c.state.Load()) }

// Connect opens the socket and waits until it is authenticated, the client
// is closed, credentials cannot be had, or ctx ends. The socket then stays
// open (reconnecting as needed) until Disconnect, Drain or Close.
func (c *Client) Connect(ctx context.Context) error {
	wait := make(chan error, 1)
	err := c.do(ctx, fsm.Connect{}, func() {
		if c.eng.State().In(StateConnected) {
			wait <- nil
			return
		}
		c.connWait = append(c.connWait, wait)
	})
	if err != nil {
		return err
	}
	select {
	case err := <-wait:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return ErrClosed
	}
}

// Disconnect closes the socket (close 1000) and keeps it closed until
// Connect or Live. Subscriptions stay registered and resume on reconnect.
func (c *Client) Disconnect(ctx context.Context) error {
	return c.do(ctx, fsm.Disconnect{}, nil)
}

// SetNamespace sets the namespace for HTTP queries (namespace_id) and for
// unqualified tables in live SQL. Subscriptions waiting for a namespace
// start now.
func (c *Client) SetNamespace(ns string) error {
	return c.do(context.Background(), fsm.SetNamespace{Namespace: ns}, nil)
}

// Namespace returns the current namespace ("" when none). USE statements run
// through Query update it.
func (c *Client) Namespace() string {
	var ns string
	if c.exec(func() { ns = c.eng.Namespace() }) != nil {
		return ""
	}
	return ns
}

// UpdateAuth installs credentials pushed by the application, without
// calling the provider. An open socket keeps running (KalamDB does not
// recheck tokens on open sockets); the new token is used by every HTTP call
// and the next connection.
func (c *Client) UpdateAuth(creds auth.Credentials) error {
	return c.do(context.Background(), fsm.SetCredentials{Credentials: creds}, nil)
}

// FreshAuth asks the provider for new credentials now and waits for the
// answer.
func (c *Client) FreshAuth(ctx context.Context) error {
	wait := make(chan error, 1)
	if err := c.do(ctx, fsm.FreshAuth{}, func() { c.credWait = append(c.credWait, wait) }); err != nil {
		return err
	}
	select {
	case err := <-wait:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return ErrClosed
	}
}

// Query runs sql over HTTP with positional parameters ($1, $2, …) and the
// current namespace. A TOKEN_EXPIRED answer refreshes the credentials and
// retries once. Integers arrive as int64 (see Value).
func (c *Client) Query(ctx context.Context, sql string, params ...any) (*Result, error) {
	return c.query(ctx, fsm.Query{SQL: sql, Params: params})
}

// QueryIn runs sql like Query, with namespace as namespace_id for this call
// only.
func (c *Client) QueryIn(ctx context.Context, namespace, sql string, params ...any) (*Result, error) {
	return c.query(ctx, fsm.Query{SQL: sql, Params: params, Namespace: namespace})
}

func (c *Client) query(ctx context.Context, q fsm.Query) (*Result, error) {
	q.ID = c.nextQID.Add(1)
	pq := &pendingQuery{ctx: ctx, reply: make(chan queryReply, 1)}
	if err := c.do(ctx, q, func() { c.queries[q.ID] = pq }); err != nil {
		if err := c.exec(func() { delete(c.queries, q.ID) }); err != nil {
			return nil, ErrClosed
		}
		return nil, err
	}
	select {
	case r := <-pq.reply:
		return r.res, r.err
	case <-ctx.Done():
		// The request itself runs with ctx and ends too; its reply is dropped.
		return nil, ctx.Err()
	case <-c.done:
		select {
		case r := <-pq.reply:
			return r.res, r.err
		default:
			return nil, ErrClosed
		}
	}
}

// SubscriptionInfo describes a subscription as the client sees it.
type SubscriptionInfo = fsm.SubscriptionInfo

// Subscriptions lists the registered subscriptions with their positions.
func (c *Client) Subscriptions() []SubscriptionInfo {
	var out []SubscriptionInfo
	if c.exec(func() { out = c.eng.Subscriptions() }) != nil {
		return nil
	}
	return out
}

// Drain shuts down gracefully: no new work is accepted, subscriptions end,
// queries in flight and initial loads in progress finish, then the socket
// closes with 1000. It ends by ctx's deadline (30 s when ctx has none) with
// ErrDrainTimeout when work was abandoned. Cancelling ctx aborts the drain
// and closes the client.
//
// Open topic consumers are drained first (Consumer.Drain): they stop
// polling and commit what was processed.
func (c *Client) Drain(ctx context.Context) (DrainOutcome, error) {
	deadline := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	c.drainConsumers(ctx) // consumer.go: commit what was processed while requests are still accepted
	wait := make(chan DrainOutcome, 1)
	c.draining.Store(true)
	c.drainBy.Store(time.Now().Add(deadline).UnixNano())
	err := c.do(ctx, fsm.Drain{Deadline: c.now() + deadline}, func() {
		if c.drainDone != nil {
			wait <- *c.drainDone
			return
		}
		c.drainWait = append(c.drainWait, wait)
	})
	if err != nil {
		return DrainOutcome{}, err
	}
	finish := func(o DrainOutcome) (DrainOutcome, error) {
		c.waitIO()
		if o.TimedOut {
			return o, ErrDrainTimeout
		}
		return o, nil
	}
	select {
	case o := <-wait:
		return finish(o)
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The engine's drain timer runs to the same deadline and is
			// about to report what was finished and what was left.
			t := time.NewTimer(drainGrace)
			defer t.Stop()
			select {
			case o := <-wait:
				return finish(o)
			case <-t.C:
			}
		}
		c.Close()
		return DrainOutcome{Aborted: true}, ctx.Err()
	}
}

// drainGrace is how long Drain waits, once its context's deadline has
// passed, for the engine's own verdict on the drain.
const drainGrace = time.Second

// Close shuts down at once: queries in flight fail with ErrClosed,
// subscriptions end, the socket closes. It waits for the client's
// goroutines to finish. Calling it again returns ErrClosed.
func (c *Client) Close() error {
	err := c.do(context.Background(), fsm.Close{}, nil)
	c.waitIO()
	first := false
	c.closeOnce.Do(func() { first = true })
	if !first || errors.Is(err, ErrClosed) {
		return ErrClosed
	}
	return nil
}

func (c *Client) waitIO() {
	<-c.done
	c.io.Wait()
	c.events.wait()
	if c.cfg.HTTPClient == nil {
		c.api.CloseIdleConnections() // the client's own transport: nothing may linger
	}
}

// String describes the client without revealing credentials.
func (c *Client) String() string {
	return "kalam.Client{" + c.wsURL.Host + " " + c.State().String() + "}"
}

// NetworkChanged tells the client what the platform knows about the
// network (a browser's online/offline events, a phone's connectivity
// callback). Offline drops the socket and holds redials; online redials at
// once instead of waiting out the backoff.
func (c *Client) NetworkChanged(online bool) error {
	return c.do(context.Background(), fsm.NetworkChanged{Online: online}, nil)
}

// Wake tells the client the program is running again after a pause its
// timers may not have seen (a hidden tab, a suspended machine): token expiry
// is checked at once and the socket is probed with a ping.
func (c *Client) Wake() error {
	return c.do(context.Background(), fsm.Wake{}, nil)
}
