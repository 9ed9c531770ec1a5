package sim

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// link is one WebSocket connection (one engine epoch) as a pair of FIFO
// message queues with a latency. The driver's side follows conn.go: it can
// write once dialed until it closes the socket, and its reader reports every
// frame and the final close, even after the engine asked for the close.
type link struct {
	epoch     uint64
	sc        *sconn // the server's end; nil before accept and after the server let go
	driverHas bool   // the driver holds the conn (no CloseSocket yet)
	dialed    bool   // Dialed was fed: the driver writes on it
	open      bool   // the TCP connection is up
	blackhole bool   // nothing gets through, and nobody is told
	latency   time.Duration
	upAt      time.Duration // FIFO: the last delivery time client → server
	downAt    time.Duration // FIFO: the last delivery time server → client
	closedFed bool          // SocketClosed was fed for this epoch
}

func (s *Sim) lat(l *link) time.Duration {
	return s.k.baseLatency + s.jitter(s.k.baseLatency) + l.latency
}

func (s *Sim) sortedLinks() []*link {
	eps := make([]uint64, 0, len(s.links))
	for ep := range s.links {
		eps = append(eps, ep)
	}
	slices.Sort(eps)
	out := make([]*link, len(eps))
	for i, ep := range eps {
		out[i] = s.links[ep]
	}
	return out
}

// dial answers a Dial effect after the handshake time, the way conn.go's
// dialing goroutine does.
func (s *Sim) dial(epoch uint64) {
	l := &link{epoch: epoch, driverHas: true}
	s.links[epoch] = l
	delay := 2*s.k.baseLatency + s.jitter(50*time.Millisecond)
	if s.faults && s.rng.IntN(8) == 0 {
		delay += s.jitter(12 * time.Second) // slower than the connect timeout, sometimes
	}
	refused := s.faults && s.chance(s.k.dialFail)
	s.after(delay, func() {
		if refused || !s.online || s.srv.down {
			s.step(fsm.DialFailed{Epoch: epoch, Err: errors.New("dial tcp: connection refused")})
			return
		}
		if !l.driverHas {
			// Cancelled while dialing: the dial fails with the context, or
			// completes and the driver closes the socket at once.
			if s.rng.IntN(2) == 0 {
				s.step(fsm.DialFailed{Epoch: epoch, Err: context.Canceled})
				return
			}
			l.open, l.closedFed = true, true
			l.sc = s.srv.accept(l)
			s.closeUp(l, wire.CloseNormal)
			s.step(fsm.Dialed{Epoch: epoch})
			return
		}
		l.open = true
		l.sc = s.srv.accept(l)
		s.step(fsm.Dialed{Epoch: epoch}) // the driver attaches the socket when it feeds this (observe)
	})
}

// sendUp writes a frame (or a WebSocket Ping) from the client.
func (s *Sim) sendUp(epoch uint64, data []byte, ping bool) {
	l := s.links[epoch]
	if l == nil || !l.driverHas || !l.dialed {
		return // the driver drops writes for a socket it does not hold
	}
	at := max(s.now+s.lat(l), l.upAt)
	l.upAt = at
	sentAt := s.now
	s.at(at, func() {
		if !l.open || l.blackhole || l.sc == nil {
			return
		}
		if ping {
			s.srv.onActivity(l.sc)
			s.srv.allow(l.sc) // pings count toward the frame rate
			s.sendDownFunc(l, func() {
				if s.now-sentAt <= pongTimeout {
					s.step(fsm.PongReceived{Epoch: epoch})
				}
			})
			return
		}
		s.srv.onFrame(l.sc, data)
	})
}

// sendDown delivers a server frame to the driver's reader.
func (s *Sim) sendDown(l *link, frame []byte, binary bool) {
	s.sendDownFunc(l, func() {
		s.step(fsm.FrameReceived{Epoch: l.epoch, Binary: binary, Data: frame})
	})
}

func (s *Sim) sendDownFunc(l *link, f func()) {
	if !l.open {
		return
	}
	at := max(s.now+s.lat(l), l.downAt)
	l.downAt = at
	s.at(at, func() {
		if !l.open || l.blackhole || l.closedFed {
			return
		}
		f()
	})
}

// serverClose sends a close frame from the server after what is queued.
func (s *Sim) serverClose(l *link, code int, reason string) {
	if l.sc != nil {
		s.srv.forget(l.sc)
		l.sc = nil
	}
	if !l.open {
		return
	}
	at := max(s.now+s.lat(l), l.downAt)
	l.downAt = at
	s.at(at, func() {
		if !l.open || l.blackhole {
			return
		}
		l.open = false
		if !l.closedFed {
			l.closedFed = true
			s.step(fsm.SocketClosed{Epoch: l.epoch, Code: code, Reason: reason})
		}
	})
}

// drop cuts the connection without a close frame: both ends see 1006.
func (s *Sim) drop(l *link) {
	if !l.open {
		return
	}
	l.open = false
	if l.sc != nil {
		s.srv.forget(l.sc)
		l.sc = nil
	}
	s.after(s.k.baseLatency, func() {
		if !l.closedFed {
			l.closedFed = true
			s.step(fsm.SocketClosed{Epoch: l.epoch, Code: wire.CloseAbnormal})
		}
	})
}

// closeUp sends the client's close frame; the server lets go when it
// arrives and echoes it.
func (s *Sim) closeUp(l *link, code int) {
	at := max(s.now+s.lat(l), l.upAt)
	l.upAt = at
	s.at(at, func() {
		if !l.open || l.blackhole {
			return
		}
		if l.sc != nil {
			s.srv.forget(l.sc)
			l.sc = nil
		}
		s.at(max(s.now+s.lat(l), l.downAt), func() {
			l.open = false
			if !l.closedFed {
				l.closedFed = true
				s.step(fsm.SocketClosed{Epoch: l.epoch, Code: code})
			}
		})
	})
}

// closeFromClient carries out CloseSocket like conn.go's closeSocket: the
// driver forgets the conn at once; its reader still reports what arrives
// until the close completes.
func (s *Sim) closeFromClient(epoch uint64, code int, reason string) {
	l := s.links[epoch]
	if l == nil || !l.driverHas {
		return
	}
	l.driverHas = false
	if !l.dialed || !l.open {
		return // still dialing: the dial's outcome settles it
	}
	if l.blackhole {
		s.after(5*time.Second, func() { // the close handshake times out
			l.open = false
			if !l.closedFed {
				l.closedFed = true
				s.step(fsm.SocketClosed{Epoch: epoch, Code: wire.CloseAbnormal})
			}
		})
		return
	}
	s.closeUp(l, code)
}

// httpQuery runs an HTTPQuery against the server model with latency and,
// in the fault phase, lost requests and lost answers.
func (s *Sim) httpQuery(q fsm.HTTPQuery) {
	token := q.Token.Reveal()
	req := q.Request
	up := s.k.baseLatency + s.jitter(100*time.Millisecond)
	down := s.k.baseLatency + s.jitter(100*time.Millisecond)
	lostBefore := s.faults && (s.chance(s.k.httpFail) || !s.online)
	lostAfter := s.faults && s.chance(s.k.httpFail/2)
	s.after(up, func() {
		if lostBefore || s.srv.down {
			s.after(down+s.jitter(2*time.Second), func() {
				s.step(fsm.QueryResult{ID: q.ID, Err: &fsm.QueryError{Message: "connection refused", Temporary: true}})
			})
			return
		}
		resp, qerr := s.srv.sql(token, req)
		s.after(down, func() {
			if lostAfter {
				s.step(fsm.QueryResult{ID: q.ID, Err: &fsm.QueryError{Message: "connection reset", Temporary: true}})
				return
			}
			s.step(fsm.QueryResult{ID: q.ID, Response: resp, Err: qerr})
		})
	})
}

// currentLink is the link of the engine's epoch when it is up.
func (s *Sim) currentLink() *link {
	l := s.links[s.eng.Epoch()]
	if l == nil || !l.open {
		return nil
	}
	return l
}

// scheduleFaults runs the fault process of the fault phase.
func (s *Sim) scheduleFaults() {
	var next func()
	next = func() {
		if !s.faults || s.isClosed {
			return
		}
		s.fault()
		s.after(s.exp(s.k.faultEvery), next)
	}
	s.after(s.exp(s.k.faultEvery), next)
}

func (s *Sim) fault() {
	l := s.currentLink()
	switch s.rng.IntN(12) {
	case 0, 1:
		if l != nil {
			s.logf("fault: drop epoch %d", l.epoch)
			s.drop(l)
		}
	case 2:
		if l != nil {
			s.logf("fault: blackhole epoch %d", l.epoch)
			l.blackhole = true
		}
	case 3, 4:
		if l != nil {
			c := []struct {
				code   int
				reason string
			}{{1000, "Heartbeat timeout"}, {1001, "Server shutting down"}, {1011, "Invalid message"}, {1008, "Authentication failed"}}[s.rng.IntN(4)]
			s.logf("fault: server closes epoch %d with %d", l.epoch, c.code)
			s.serverClose(l, c.code, c.reason)
		}
	case 5:
		if l != nil {
			l.latency = s.jitter(3 * time.Second)
			s.logf("fault: latency %v on epoch %d", l.latency, l.epoch)
			s.after(s.jitter(10*time.Second), func() { l.latency = 0 })
		}
	case 6:
		s.logf("fault: server restart")
		s.srv.down = true
		for _, x := range s.sortedLinks() {
			if x.sc != nil {
				s.serverClose(x, 1001, "Server shutting down")
			}
		}
		s.after(s.jitter(5*time.Second), func() { s.srv.down = false })
	case 7:
		s.logf("fault: server expires every token")
		s.srv.revokeAll()
	case 8:
		s.logf("fault: network offline")
		s.online = false
		if l != nil {
			l.blackhole = true
		}
		tell := s.rng.IntN(4) != 0
		if tell {
			s.step(fsm.NetworkChanged{Online: false})
		}
		s.after(s.jitter(6*time.Second), func() {
			s.online = true
			if tell || s.rng.IntN(2) == 0 {
				s.step(fsm.NetworkChanged{Online: true})
			}
		})
	case 9:
		s.step(fsm.Wake{})
	case 11:
		if !s.drainAsked && !s.suspended() {
			s.suspend(5*time.Second + s.jitter(2*time.Minute))
		}
	case 10:
		if l != nil && l.sc != nil {
			s.logf("fault: server sends garbage on epoch %d", l.epoch)
			s.sendDown(l, []byte(`{"type":"change","subscription_id":`), false)
		}
	}
}

// pongTimeout is the driver's wait for a Pong (the engine's default).
const pongTimeout = 5 * time.Second
