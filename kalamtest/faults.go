package kalamtest

import (
	"context"
	"fmt"
	"time"
)

// SetTokenTTL changes the lifetimes of tokens minted from now on. Zero
// access means 24 h; zero refresh means seven times access. Tokens already
// issued keep their exp.
func (s *Server) SetTokenTTL(access, refresh time.Duration) {
	s.tok.setTTL(access, refresh)
	s.log.Info("kalamtest: fault: token lifetimes changed", "access", access, "refresh", refresh)
}

// ExpireAllTokens makes every token issued so far, access and refresh,
// count as expired: HTTP SQL calls get 401 TOKEN_EXPIRED, /auth/refresh
// and /auth/me get 401 "Invalid credentials", WebSocket authentication gets
// auth_error and close 1008. Logging in again works, and tokens minted
// afterwards are valid (their iat is set past the cut, at most one second
// ahead of the clock). Open WebSockets are not touched: KalamDB never
// rechecks a token after authentication.
func (s *Server) ExpireAllTokens() {
	s.tok.expireAll()
	s.log.Info("kalamtest: fault: all tokens expired")
}

// ExpireAccessTokens is ExpireAllTokens for access tokens only: refresh
// tokens keep working, so a client can exercise its refresh path.
func (s *Server) ExpireAccessTokens() {
	s.tok.expireAccess()
	s.log.Info("kalamtest: fault: access tokens expired")
}

// RevokeUser rejects every token of user issued so far, access and
// refresh, as invalid (HTTP 401 INVALID_CREDENTIALS, WebSocket auth_error
// and close 1008), as if the credentials had been revoked. The user can log
// in again with the password; tokens minted afterwards are valid. Open
// WebSockets are not touched (combine with CloseConnections or
// DropConnections to cut them).
func (s *Server) RevokeUser(user string) error {
	if _, ok := s.db.LookupUser(user); !ok {
		return fmt.Errorf("%w: %q", ErrUnknownUser, user)
	}
	s.tok.revoke(user)
	s.log.Info("kalamtest: fault: tokens revoked", "user", user)
	return nil
}

// DropConnections cuts every open TCP connection, WebSocket and HTTP
// keep-alive alike, with no close frame: clients see an abnormal closure
// (1006). The server keeps accepting. It returns once the WebSocket
// connections' goroutines have cleaned up.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := s.wsListLocked()
	s.mu.Unlock()
	s.dropTCP()
	_ = waitConns(context.Background(), conns)
	s.log.Info("kalamtest: fault: connections dropped", "websockets", len(conns))
}

// CloseConnections sends every open WebSocket a close frame with code and
// reason (after the messages already queued for it) and ends it once the
// client answers, or after five seconds. It returns without waiting. code
// must be one a close frame may carry: 1000–1003, 1007–1014 or 3000–4999.
// reason is cut to 123 bytes.
func (s *Server) CloseConnections(code int, reason string) error {
	if !validCloseCode(code) {
		return fmt.Errorf("kalamtest: close code %d cannot be sent in a close frame", code)
	}
	s.mu.Lock()
	conns := s.wsListLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(code, reason)
	}
	s.log.Info("kalamtest: fault: connections closed", "code", code, "websockets", len(conns))
	return nil
}

func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// PauseAccepting closes the listening socket, so new connections are
// refused (ECONNREFUSED) rather than left hanging; open connections keep
// working. ResumeAccepting listens again on the same address. Calling it
// while paused does nothing.
func (s *Server) PauseAccepting() error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		return ErrClosed
	}
	already := s.paused
	s.paused = true
	s.mu.Unlock()
	if !already {
		s.closeListener()
		s.log.Info("kalamtest: fault: accepting paused")
	}
	return nil
}

// ResumeAccepting undoes PauseAccepting. It fails with a *ListenError if the
// address was taken in the meantime. Calling it while accepting does
// nothing.
func (s *Server) ResumeAccepting() error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		return ErrClosed
	}
	paused := s.paused
	s.mu.Unlock()
	if !paused {
		return nil
	}
	if err := s.listen(); err != nil {
		return err
	}
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
	s.log.Info("kalamtest: fault: accepting resumed")
	return nil
}

// Restart simulates a server restart: the listener closes, every
// connection drops without a close frame (all subscriptions end), and the
// listener opens again on the same address. Data, users, the JWT secret
// and token cut-offs are kept, so issued tokens stay valid. A paused server
// stays paused. Restart returns when the server accepts again.
func (s *Server) Restart() error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		return ErrClosed
	}
	paused := s.paused
	conns := s.wsListLocked()
	s.mu.Unlock()
	s.closeListener()
	s.dropTCP()
	_ = waitConns(context.Background(), conns)
	// Handlers that were between accept and registration.
	s.mu.Lock()
	late := s.wsListLocked()
	s.mu.Unlock()
	s.dropTCP()
	_ = waitConns(context.Background(), late)
	s.log.Info("kalamtest: fault: restart", "websockets", len(conns)+len(late))
	if paused {
		return nil
	}
	return s.listen()
}
