package kalamtest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kalamgo/kalam/kalamtest/internal/store"
)

// Server is a running KalamDB-compatible server. Create it with Start, or
// with NewServer in a test. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, "http://host:port" without a trailing slash. It
	// does not change across Restart or PauseAccepting.
	URL string

	cfg  Config
	log  *slog.Logger
	db   *store.Store
	tok  *tokens
	hub  *hub
	http *http.Server
	addr string

	stats     counters
	drops     dropLog
	hooks     testHooks
	stopWatch func()
	hbStop    chan struct{}
	bg        sync.WaitGroup // heartbeat and hub goroutines
	quit      chan struct{}  // closed when Shutdown or Close begins
	async     sync.WaitGroup // admin-triggered faults running after their answer
	setupMu   sync.Mutex     // serializes /auth/setup

	topicFault topicFaults // topics.go

	opMu sync.Mutex // serializes Restart, Pause/ResumeAccepting, Shutdown, Close

	mu       sync.Mutex
	state    serverState
	ln       net.Listener // nil while paused or closed
	paused   bool
	tcp      map[*trackedConn]struct{}
	ws       map[*wsConn]struct{}
	userSubs map[string]int
	serving  sync.WaitGroup // http.Server.Serve goroutines
}

type serverState uint8

const (
	stateRunning serverState = iota
	stateShuttingDown
	stateClosed
)

// Start opens the store, seeds root and Config.Users, and starts serving on
// Config.Addr. The server answers /health as soon as Start returns. Stop it
// with Shutdown or Close.
func Start(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	path, err := dataPath(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(store.Options{Path: path, Limits: cfg.storeLimits()})
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		db:       db,
		tok:      newTokens(cfg),
		tcp:      make(map[*trackedConn]struct{}),
		ws:       make(map[*wsConn]struct{}),
		userSubs: make(map[string]int),
		hbStop:   make(chan struct{}),
		quit:     make(chan struct{}),
	}
	if err := s.seed(); err != nil {
		db.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		db.Close()
		return nil, &ListenError{Addr: cfg.Addr, Err: err}
	}
	s.addr = ln.Addr().String()
	s.URL = "http://" + s.addr
	s.http = &http.Server{
		Handler:           s.cors(s.routes()),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.hub = newHub(s)
	db.SetLiveSource(s.hub.liveInfo)
	s.stopWatch = db.Watch(s.hub.enqueue)
	s.bg.Add(2)
	go s.hub.run()
	go s.heartbeat()
	s.serve(ln)
	s.log.Info("kalamtest: listening", "addr", s.addr)
	return s, nil
}

// NewServer starts a server for a test, like httptest.NewServer: on a free
// loopback port unless cfg.Addr says otherwise, closed by tb.Cleanup. A
// start error fails the test at once. A nil cfg.Logger is replaced by one
// that writes to tb.Log at level Warn and above.
func NewServer(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := Start(cfg)
	if err != nil {
		tb.Fatalf("kalamtest: start: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			tb.Errorf("kalamtest: close: %v", err)
		}
	})
	return s
}

// tbWriter sends log lines to tb.Log, and drops them once the test is over
// (a late goroutine must not call Log after the test returned).
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // Log after the test completed panics
	w.tb.Log(string(p))
	return len(p), nil
}

// seed sets root's password and creates the configured users. With a
// persistent DataDir they may exist already; their passwords are reset.
func (s *Server) seed() error {
	if !s.cfg.RequireSetup {
		if err := s.db.SetPassword(rootUser, s.cfg.RootPassword); err != nil {
			return err
		}
	}
	for _, u := range s.cfg.Users {
		var err error
		if _, ok := s.db.LookupUser(u.Name); ok {
			err = s.db.SetPassword(u.Name, u.Password)
		} else {
			err = s.db.CreateUser(u.Name, u.Password, u.Role, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

const rootUser = "root"

// RootPassword returns root's password: Config.RootPassword, or the one
// generated at start. It is empty with Config.RequireSetup.
func (s *Server) RootPassword() string { return s.cfg.RootPassword }

// Config returns the server's effective configuration, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// WSURL returns the WebSocket endpoint, "ws://host:port/v1/ws".
func (s *Server) WSURL() string { return "ws://" + s.addr + "/v1/ws" }

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// serve starts serving ln. Caller must not hold s.mu.
func (s *Server) serve(ln net.Listener) {
	tl := &trackingListener{Listener: ln, s: s}
	s.mu.Lock()
	s.ln = tl
	s.mu.Unlock()
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		_ = s.http.Serve(tl) // returns when tl is closed
	}()
}

// listen reopens the listener on the server's address.
func (s *Server) listen() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return &ListenError{Addr: s.addr, Err: err}
	}
	s.serve(ln)
	return nil
}

// closeListener closes the listener, if open, and waits for Serve to return.
func (s *Server) closeListener() {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	s.serving.Wait()
}

// Shutdown stops the server gracefully: it stops accepting, sends every
// WebSocket close 1001 "Server shutting down", lets HTTP requests in flight
// finish, and waits for the sockets to close or ctx to end (then it closes
// them abruptly and returns ctx's error). The store is closed last.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.beginStop() {
		return ErrClosed
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	conns := s.wsListLocked()
	s.mu.Unlock()

	s.closeListener()
	for _, c := range conns {
		c.closeWith(closeGoingAway, closeReasonShutdown)
	}
	err := s.http.Shutdown(ctx)
	if werr := waitConns(ctx, conns); werr != nil {
		err = werr
		s.dropTCP()
		_ = waitConns(context.Background(), conns)
	}
	s.finish()
	return err
}

// Close stops the server at once: listener and every connection are closed
// without a close handshake. It waits for the connection goroutines to end.
// Calls after the first return ErrClosed.
func (s *Server) Close() error {
	if !s.beginStop() {
		return ErrClosed
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.closeListener()
	_ = s.http.Close()
	s.dropTCP()
	s.mu.Lock()
	conns := s.wsListLocked()
	s.mu.Unlock()
	_ = waitConns(context.Background(), conns)
	s.finish()
	return nil
}

// beginStop moves a running server to shutting down and waits for the
// admin-triggered faults still running. It reports false if the server
// was stopping or stopped already.
func (s *Server) beginStop() bool {
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		return false
	}
	s.state = stateShuttingDown
	s.mu.Unlock()
	close(s.quit)
	s.async.Wait()
	return true
}

// goAsync runs f on a goroutine that Shutdown and Close wait for. It does
// nothing once the server is stopping.
func (s *Server) goAsync(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateRunning {
		s.async.Go(f)
	}
}

// finish stops the background goroutines and the store.
func (s *Server) finish() {
	s.mu.Lock()
	s.state = stateClosed
	s.mu.Unlock()
	close(s.hbStop)
	s.stopWatch()
	s.hub.stop()
	s.bg.Wait()
	if err := s.db.Close(); err != nil {
		s.log.Warn("kalamtest: closing the store", "err", err)
	}
	s.log.Info("kalamtest: stopped")
}

func (s *Server) wsListLocked() []*wsConn {
	out := make([]*wsConn, 0, len(s.ws))
	for c := range s.ws {
		out = append(out, c)
	}
	return out
}

// waitConns waits until every connection's handler has returned.
func waitConns(ctx context.Context, conns []*wsConn) error {
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// dropTCP closes every accepted TCP connection, HTTP and WebSocket alike,
// without any WebSocket close frame.
func (s *Server) dropTCP() {
	s.mu.Lock()
	conns := make([]*trackedConn, 0, len(s.tcp))
	for c := range s.tcp {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// heartbeat checks the auth and idle timeouts every HeartbeatInterval, like
// KalamDB's heartbeat checker.
func (s *Server) heartbeat() {
	defer s.bg.Done()
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-s.hbStop:
			return
		case <-t.C:
			s.mu.Lock()
			conns := s.wsListLocked()
			s.mu.Unlock()
			now := time.Now()
			for _, c := range conns {
				c.checkTimeouts(now)
			}
		}
	}
}

// trackingListener records every accepted connection so that faults can
// close them, including hijacked WebSocket connections that http.Server no
// longer tracks.
type trackingListener struct {
	net.Listener
	s *Server
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, s: l.s}
	l.s.mu.Lock()
	l.s.tcp[tc] = struct{}{}
	l.s.mu.Unlock()
	return tc, nil
}

type trackedConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.tcp, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}
