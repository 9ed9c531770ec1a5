// Package faultproxy is a loopback TCP proxy that injects network faults
// between a client and a server, for tests of code that must survive a bad
// network: your own services as well as this module's client.
//
// Put it between the client and the server, point the client at Addr, and
// switch faults on and off while the test runs:
//
//	p, err := faultproxy.New(srv.Addr())
//	…
//	defer p.Close()
//	client := dial("http://" + p.Addr())
//	p.Down() // refuse and cut
//	p.Up()
//
// The faults:
//
//   - Down / Up: refuse new connections and cut the open ones / accept again.
//     Refuse refuses new connections and leaves the open ones alone.
//   - Drop: cut every open connection (FIN), keep accepting. Reset does the
//     same with a TCP RST.
//   - Blackhole: keep the sockets open and deliver nothing (a dead link).
//   - SetLatency: delay every chunk, both directions.
//   - SetStall: every n-th chunk waits d before it is passed on (loss-like).
//   - SetBandwidth: pass at most N bytes per second per direction.
//   - SetFragment: write what arrives in pieces of n bytes.
//   - SetTerminate: cut the connection carrying a chunk with probability p.
//   - SetTap: see every chunk and decide how much of it passes and whether
//     the connection is cut right after, to place a fault at an exact point
//     of a protocol (after a given message, mid-frame, …).
//
// Every chunk goes through the tap, then the faults in the order above:
// stall, latency, terminate, blackhole, then fragmented and throttled writes.
// Waits end early when the connection is cut or the proxy closes, so Close
// never hangs on a fault.
//
// The proxy listens on 127.0.0.1 only and forwards to one target address.
// Its methods are safe for concurrent use.
package faultproxy

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Direction is the way a chunk travels.
type Direction int

const (
	// ClientToServer is what the proxy's client sends.
	ClientToServer Direction = iota
	// ServerToClient is what the target answers.
	ServerToClient
)

func (d Direction) String() string {
	if d == ClientToServer {
		return "client→server"
	}
	return "server→client"
}

// Tap inspects a chunk before it is forwarded. conn numbers the proxied
// connections from 1 in the order they were accepted. It returns how many
// leading bytes of chunk pass (the rest is discarded; values outside
// [0, len(chunk)] are clamped) and whether the connection is cut once they
// have been written. A tap is called from the connection's copying
// goroutine, one chunk at a time per direction, and must not keep chunk.
type Tap func(conn int, dir Direction, chunk []byte) (pass int, cut bool)

// Proxy forwards TCP connections to a target, with faults.
type Proxy struct {
	ln     net.Listener
	target string
	done   chan struct{} // closed by Close

	mu         sync.Mutex
	conns      map[*pair]struct{}
	down       bool
	blackhole  bool
	latency    time.Duration
	stallEvery int
	stallFor   time.Duration
	chunks     int // chunks seen while a stall pattern is set
	bandwidth  int
	fragment   int
	terminate  float64
	rng        *rand.Rand
	tap        Tap
	accepted   int
	closed     bool
	wg         sync.WaitGroup
}

type pair struct {
	id             int
	client, server net.Conn
	once           sync.Once
	gone           chan struct{}
}

func (p *pair) close(reset bool) {
	p.once.Do(func() {
		if reset {
			for _, c := range []net.Conn{p.client, p.server} {
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
			}
		}
		p.client.Close()
		p.server.Close()
		close(p.gone)
	})
}

// New starts a proxy to target on a free loopback port.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		ln:     ln,
		target: target,
		done:   make(chan struct{}),
		conns:  map[*pair]struct{}{},
		rng:    rand.New(rand.NewPCG(1, 2)),
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted counts the connections forwarded so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Active counts the connections open now.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Down cuts every connection and refuses new ones until Up.
func (p *Proxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.Drop()
}

// Refuse refuses new connections until Up and keeps the open ones. A tap
// can call it to keep a client away after the cut it asks for.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
}

// Up accepts connections again.
func (p *Proxy) Up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// Drop cuts every active connection and keeps accepting.
func (p *Proxy) Drop() { p.cut(false) }

// Reset cuts every active connection with a TCP RST instead of a FIN, and
// keeps accepting.
func (p *Proxy) Reset() { p.cut(true) }

func (p *Proxy) cut(reset bool) {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[*pair]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		c.close(reset)
	}
}

// Blackhole, when on, keeps connections open but delivers no bytes in
// either direction (a dead link).
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	p.blackhole = on
	p.mu.Unlock()
}

// SetLatency delays every chunk, in both directions, by d.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// SetStall makes every n-th chunk (counted over all connections and both
// directions) wait d before it is passed on. n ≤ 0 or d ≤ 0 clears it;
// n = 1 stalls every chunk.
func (p *Proxy) SetStall(n int, d time.Duration) {
	p.mu.Lock()
	if n <= 0 || d <= 0 {
		n, d = 0, 0
	}
	p.stallEvery, p.stallFor, p.chunks = n, d, 0
	p.mu.Unlock()
}

// SetBandwidth throttles each direction of each connection to about
// bytesPerSec. Zero or less clears it.
func (p *Proxy) SetBandwidth(bytesPerSec int) {
	p.mu.Lock()
	p.bandwidth = max(bytesPerSec, 0)
	p.mu.Unlock()
}

// SetFragment writes every chunk in pieces of at most n bytes, one write
// each (TCP_NODELAY is on, so each piece leaves as its own segment). Zero or
// less clears it.
func (p *Proxy) SetFragment(n int) {
	p.mu.Lock()
	p.fragment = max(n, 0)
	p.mu.Unlock()
}

// SetTerminate cuts the connection carrying a chunk with probability prob
// (clamped to [0, 1]); 0 clears it. The draws come from a generator seeded
// by seed, so a run can be repeated.
func (p *Proxy) SetTerminate(prob float64, seed uint64) {
	p.mu.Lock()
	p.terminate = min(max(prob, 0), 1)
	p.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p.mu.Unlock()
}

// SetTap installs t (nil removes it).
func (p *Proxy) SetTap(t Tap) {
	p.mu.Lock()
	p.tap = t
	p.mu.Unlock()
}

// Clear removes every fault set by Blackhole, SetLatency, SetStall,
// SetBandwidth, SetFragment, SetTerminate and SetTap. It does not undo Down.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.blackhole = false
	p.latency = 0
	p.stallEvery, p.stallFor, p.chunks = 0, 0, 0
	p.bandwidth = 0
	p.fragment = 0
	p.terminate = 0
	p.tap = nil
	p.mu.Unlock()
}

// Close stops the proxy and cuts every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.Drop()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down || p.closed {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		pr := &pair{client: c, server: s, gone: make(chan struct{})}
		p.mu.Lock()
		if p.down || p.closed {
			p.mu.Unlock()
			pr.close(false)
			continue
		}
		p.accepted++
		pr.id = p.accepted
		p.conns[pr] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pr, ClientToServer, s, c)
		go p.pipe(pr, ServerToClient, c, s)
	}
}

// faults is one chunk's view of the settings.
type faults struct {
	tap       Tap
	stall     time.Duration
	latency   time.Duration
	terminate bool
	hole      bool
	fragment  int
	bandwidth int
}

func (p *Proxy) faultsFor() faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := faults{
		tap:       p.tap,
		latency:   p.latency,
		hole:      p.blackhole,
		fragment:  p.fragment,
		bandwidth: p.bandwidth,
	}
	if p.stallEvery > 0 {
		p.chunks++
		if p.chunks%p.stallEvery == 0 {
			f.stall = p.stallFor
		}
	}
	if p.terminate > 0 {
		f.terminate = p.rng.Float64() < p.terminate
	}
	return f
}

// wait sleeps d unless the connection or the proxy goes first; it reports
// whether the full time passed.
func (p *Proxy) wait(pr *pair, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-pr.gone:
		return false
	case <-p.done:
		return false
	}
}

// pipe copies src to dst chunk by chunk, applying the current faults.
func (p *Proxy) pipe(pr *pair, dir Direction, dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, pr)
		p.mu.Unlock()
		pr.close(false)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(pr, dir, dst, buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward applies the faults to one chunk; false ends the connection.
func (p *Proxy) forward(pr *pair, dir Direction, dst net.Conn, chunk []byte) bool {
	f := p.faultsFor()
	cut := false
	if f.tap != nil {
		var pass int
		pass, cut = f.tap(pr.id, dir, chunk)
		chunk = chunk[:min(max(pass, 0), len(chunk))]
	}
	if !p.wait(pr, f.stall) || !p.wait(pr, f.latency) {
		return false
	}
	if f.terminate {
		return false
	}
	if !f.hole {
		piece := len(chunk)
		if f.fragment > 0 {
			piece = min(piece, f.fragment)
		}
		if f.bandwidth > 0 {
			piece = min(piece, max(f.bandwidth/20, 1))
		}
		for len(chunk) > 0 {
			k := min(piece, len(chunk))
			if _, err := dst.Write(chunk[:k]); err != nil {
				return false
			}
			chunk = chunk[k:]
			if f.bandwidth > 0 && !p.wait(pr, time.Duration(k)*time.Second/time.Duration(f.bandwidth)) {
				return false
			}
		}
	}
	return !cut
}
