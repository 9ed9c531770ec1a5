package bench

import (
	"io"
	"net"
	"sync"
	"testing"
)

// gate is a loopback TCP proxy that can hold back what the server sends:
// while held, server→client bytes are kept in memory (and the WebSocket
// data frames among them counted); Release hands them to the client as
// fast as it reads. The stream a consumer reads after Release is thus
// produced in advance, so a throughput figure measures the consumer, not
// the server's pace. Client→server bytes always pass.
type gate struct {
	target string
	ln     net.Listener
	mu     sync.Mutex
	conns  map[*gateConn]struct{}
	wg     sync.WaitGroup
}

type gateConn struct {
	client, server net.Conn

	mu      sync.Mutex // guards the fields below
	held    bool
	pending []byte
	frames  int // data frames counted while held
	count   frameCounter

	wmu sync.Mutex // serialises writes to client
}

func newGate(tb testing.TB, target string) *gate {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	g := &gate{target: target, ln: ln, conns: map[*gateConn]struct{}{}}
	g.wg.Add(1)
	go g.accept()
	tb.Cleanup(g.Close)
	return g
}

// URL is the gate's base URL for clients.
func (g *gate) URL() string { return "http://" + g.ln.Addr().String() }

func (g *gate) accept() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			continue
		}
		gc := &gateConn{client: c, server: s}
		g.mu.Lock()
		g.conns[gc] = struct{}{}
		g.mu.Unlock()
		g.wg.Add(2)
		go func() {
			defer g.wg.Done()
			_, _ = io.Copy(s, c)
			gc.close()
		}()
		go func() {
			defer g.wg.Done()
			gc.pump()
			gc.close()
			g.mu.Lock()
			delete(g.conns, gc)
			g.mu.Unlock()
		}()
	}
}

func (gc *gateConn) close() {
	gc.client.Close()
	gc.server.Close()
}

// pump copies server→client, holding back while held.
func (gc *gateConn) pump() {
	buf := make([]byte, 64<<10)
	for {
		n, err := gc.server.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			gc.mu.Lock()
			frames := gc.count.feed(chunk)
			if gc.held {
				gc.pending = append(gc.pending, chunk...)
				gc.frames += frames
				gc.mu.Unlock()
				continue
			}
			gc.wmu.Lock()
			gc.mu.Unlock()
			_, werr := gc.client.Write(chunk)
			gc.wmu.Unlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (g *gate) each(f func(*gateConn)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for gc := range g.conns {
		f(gc)
	}
}

// Hold starts holding back server→client bytes on every open connection.
func (g *gate) Hold() {
	g.each(func(gc *gateConn) {
		gc.mu.Lock()
		gc.held, gc.frames = true, 0
		gc.mu.Unlock()
	})
}

// Frames returns the data frames held back since Hold.
func (g *gate) Frames() int {
	n := 0
	g.each(func(gc *gateConn) {
		gc.mu.Lock()
		n += gc.frames
		gc.mu.Unlock()
	})
	return n
}

// Release hands every connection's held bytes to its client, all
// connections at once, and stops holding.
func (g *gate) Release() {
	g.each(func(gc *gateConn) {
		gc.mu.Lock()
		p := gc.pending
		gc.held, gc.pending = false, nil
		gc.wmu.Lock()
		gc.mu.Unlock()
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer gc.wmu.Unlock()
			_, _ = gc.client.Write(p)
		}()
	})
}

// Close stops the gate and cuts its connections.
func (g *gate) Close() {
	g.ln.Close()
	g.each(func(gc *gateConn) { gc.close() })
	g.wg.Wait()
}

// frameCounter follows a server→client WebSocket byte stream (the HTTP
// upgrade answer, then RFC 6455 framing) and counts complete data
// messages: final frames of opcode text, binary or continuation. Control
// frames are skipped.
type frameCounter struct {
	upgraded bool // the HTTP answer's blank line was passed
	tail     uint32
	hdr      [14]byte
	hn       int    // header bytes collected
	need     int    // header length, known once two bytes are in
	skip     uint64 // payload bytes still to pass over
}

func (f *frameCounter) feed(p []byte) (messages int) {
	for !f.upgraded && len(p) > 0 {
		f.tail = f.tail<<8 | uint32(p[0])
		p = p[1:]
		f.upgraded = f.tail == 0x0d0a0d0a // CR LF CR LF
	}
	for len(p) > 0 {
		if f.skip > 0 {
			n := uint64(len(p))
			if n > f.skip {
				n = f.skip
			}
			f.skip -= n
			p = p[n:]
			continue
		}
		f.hdr[f.hn] = p[0]
		f.hn++
		p = p[1:]
		if f.hn == 2 {
			f.need = 2
			switch f.hdr[1] & 0x7f {
			case 126:
				f.need += 2
			case 127:
				f.need += 8
			}
			if f.hdr[1]&0x80 != 0 {
				f.need += 4
			}
		}
		if f.hn < 2 || f.hn < f.need {
			continue
		}
		var size uint64
		switch l := f.hdr[1] & 0x7f; l {
		case 126:
			size = uint64(f.hdr[2])<<8 | uint64(f.hdr[3])
		case 127:
			for i := 2; i < 10; i++ {
				size = size<<8 | uint64(f.hdr[i])
			}
		default:
			size = uint64(l)
		}
		if fin, op := f.hdr[0]&0x80 != 0, f.hdr[0]&0x0f; fin && op <= 2 {
			messages++
		}
		f.skip, f.hn, f.need = size, 0, 0
	}
	return messages
}
