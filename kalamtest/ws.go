package kalamtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/kalamgo/kalam/transport/wire"
)

// maxPendingReplies is how many replies may wait for the writer before the
// reader stops taking requests from the client.
const maxPendingReplies = 8

// wsConn is one WebSocket connection. The handler goroutine reads and
// dispatches client messages; a writer goroutine drains the outbox; the
// hub goroutine queues change notifications.
type wsConn struct {
	s        *Server
	id       uint64
	c        *websocket.Conn
	compress bool

	ctx    context.Context // canceled at teardown; stops the writer
	cancel context.CancelFunc
	done   chan struct{} // closed when the handler has cleaned up
	wdone  chan struct{} // closed when the writer has returned

	t0        time.Time
	lastFrame atomic.Int64 // ns since t0 of the last client frame
	started   atomic.Bool  // authentication has started (either path)
	out       *outbox
	bucket    bucket

	mu     sync.Mutex // guards the fields below; written by the reader only
	authed bool
	user   string
	role   string
	proto  wire.Protocol
	subs   map[string]*subscription

	// overflowLogged is set at the first queue drop. It is not under mu:
	// drops happen with a subscription's lock held, and mu is taken before
	// subscription locks elsewhere.
	overflowLogged atomic.Bool
}

// handleWS upgrades GET /v1/ws and runs the connection until it ends.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	running := s.state == stateRunning
	s.mu.Unlock()
	if !running {
		http.Error(w, "Server is shutting down", http.StatusServiceUnavailable)
		return
	}
	wc := &wsConn{
		s:        s,
		id:       s.stats.connSeq.Add(1),
		compress: !queryIs(r, "compress", "false"),
		done:     make(chan struct{}),
		wdone:    make(chan struct{}),
		t0:       time.Now(),
		out:      newOutbox(),
		bucket:   newBucket(s.cfg.MaxMessagesPerSec),
		subs:     make(map[string]*subscription),
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // KalamDB checks origins only when configured to
		OnPingReceived:     func(context.Context, []byte) bool { wc.touch(); return true },
		OnPongReceived:     func(context.Context, []byte) { wc.touch() },
	})
	if err != nil {
		s.log.Debug("kalamtest: websocket upgrade failed", "err", err)
		return
	}
	wc.c = c
	c.SetReadLimit(s.cfg.MaxFrameBytes)
	wc.ctx, wc.cancel = context.WithCancel(context.Background())

	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		wc.cancel()
		_ = c.Close(closeGoingAway, closeReasonShutdown)
		return
	}
	s.ws[wc] = struct{}{}
	s.mu.Unlock()
	s.stats.wsAccepted.Add(1)
	s.log.Debug("kalamtest: websocket accepted", "conn", wc.id, "remote", r.RemoteAddr)

	go wc.writeLoop()
	wc.run(r)
	wc.teardown()
}

// teardown stops the writer, closes the socket and removes every trace of
// the connection from the server.
func (wc *wsConn) teardown() {
	wc.cancel()
	_ = wc.c.CloseNow()
	<-wc.wdone
	wc.mu.Lock()
	subs := make([]*subscription, 0, len(wc.subs))
	for _, sub := range wc.subs {
		subs = append(subs, sub)
	}
	wc.mu.Unlock()
	for _, sub := range subs {
		wc.removeSub(sub, true)
	}
	s := wc.s
	s.mu.Lock()
	delete(s.ws, wc)
	s.mu.Unlock()
	s.log.Debug("kalamtest: websocket closed", "conn", wc.id)
	close(wc.done)
}

func (wc *wsConn) touch() { wc.lastFrame.Store(int64(time.Since(wc.t0))) }

// run is the read loop.
func (wc *wsConn) run(r *http.Request) {
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		// Header path (§4.2.1): protocol from the query string.
		wc.started.Store(true)
		proto := wire.Protocol{Serialization: "json", Compression: "gzip"}
		if v, ok := queryValue(r, "serialization"); ok {
			proto.Serialization = v
		}
		if v, ok := queryValue(r, "compression"); ok {
			proto.Compression = v
		}
		if reason := checkProtocol(proto); reason != "" {
			wc.closeInvalid(reason)
		} else {
			wc.authenticate(strings.TrimSpace(token), proto)
		}
	}
	for {
		typ, data, err := wc.c.Read(wc.ctx)
		if err != nil {
			wc.logReadEnd(err)
			return
		}
		wc.touch()
		if wc.out.isClosing() {
			continue // draining until the close handshake completes
		}
		wc.s.stats.messagesIn.Add(1)
		if typ == websocket.MessageBinary {
			wc.reply(newError(wire.PlaceholderProtocol, wire.CodeUnsupportedData, "Binary not supported"))
			continue
		}
		if !wc.bucket.allow(time.Now()) {
			wc.rateLimited()
			continue
		}
		m, err := wire.DecodeClient(data)
		if err != nil {
			wc.closeInvalid(decodeReason(err))
			continue
		}
		if reason := seqNumbersOnly(data, m); reason != "" {
			wc.closeInvalid(reason)
			continue
		}
		wc.dispatch(m)
		wc.out.waitReplies(wc.ctx, maxPendingReplies)
	}
}

func (wc *wsConn) logReadEnd(err error) {
	log := wc.s.log
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		log.Info("kalamtest: dropping a websocket that sent an oversized frame", "conn", wc.id, "limit", wc.s.cfg.MaxFrameBytes)
	case websocket.CloseStatus(err) != -1:
		log.Debug("kalamtest: websocket closed by the client", "conn", wc.id, "code", int(websocket.CloseStatus(err)))
	default:
		log.Debug("kalamtest: websocket read ended", "conn", wc.id, "err", err)
	}
}

func (wc *wsConn) dispatch(m *wire.ClientMessage) {
	wc.mu.Lock()
	authed := wc.authed
	wc.mu.Unlock()
	switch m.Type {
	case wire.TypeAuthenticate:
		wc.started.Store(true)
		if authed {
			// §4.2.4: not checked again; the original identity is repeated.
			wc.mu.Lock()
			msg := &authSuccess{Type: wire.TypeAuthSuccess, User: wc.user, Role: wc.role, Protocol: wc.proto}
			wc.mu.Unlock()
			wc.out.push(outItem{msgs: []any{msg}, text: true})
			return
		}
		if reason := checkProtocol(*m.Protocol); reason != "" {
			wc.closeInvalid(reason)
			return
		}
		wc.authenticate(m.Token, *m.Protocol)
	case wire.TypeSubscribe:
		if !authed {
			wc.reply(newError(wire.PlaceholderSubscribe, wire.CodeAuthRequired, "Authentication required"))
			return
		}
		wc.subscribe(m.Subscription)
	case wire.TypeNextBatch:
		if authed {
			wc.nextBatch(m.SubscriptionID, m.LastSeqID)
		}
	case wire.TypeUnsubscribe:
		if authed {
			wc.unsubscribe(m.SubscriptionID)
		}
	case wire.TypePing:
		// Keepalive only; touch() already ran.
	}
}

// authenticate checks an access token and answers auth_success, or
// auth_error followed by close 1008.
func (wc *wsConn) authenticate(token string, proto wire.Protocol) {
	s := wc.s
	u, err := s.checkToken(token, tokenTypeAccess)
	if err != nil {
		s.stats.authFailed.Add(1)
		s.log.Info("kalamtest: websocket authentication failed", "conn", wc.id, "reason", reasonOf(err))
		wc.out.push(outItem{msgs: []any{&authError{Type: wire.TypeAuthError, Message: msgInvalidCredentials}}, text: true})
		wc.closeWith(closePolicy, closeReasonAuthFailed)
		return
	}
	wc.mu.Lock()
	wc.authed, wc.user, wc.role, wc.proto = true, u.ID, u.Role, proto
	wc.mu.Unlock()
	s.stats.authOK.Add(1)
	s.log.Debug("kalamtest: websocket authenticated", "conn", wc.id, "user", u.ID)
	wc.out.push(outItem{msgs: []any{&authSuccess{Type: wire.TypeAuthSuccess, User: u.ID, Role: u.Role, Protocol: proto}}, text: true})
}

// checkTimeouts runs on the heartbeat goroutine.
func (wc *wsConn) checkTimeouts(now time.Time) {
	cfg := &wc.s.cfg
	age := now.Sub(wc.t0)
	if !wc.started.Load() && age > cfg.AuthTimeout {
		wc.s.log.Info("kalamtest: websocket authentication timeout", "conn", wc.id)
		if wc.out.push(outItem{msgs: []any{&authError{Type: wire.TypeAuthError, Message: msgAuthTimeout}}, text: true}) {
			wc.closeWith(closePolicy, closeReasonAuthTimeout)
		}
		return
	}
	if cfg.IdleTimeout > 0 && age-time.Duration(wc.lastFrame.Load()) > cfg.IdleTimeout {
		if wc.closeWith(closeNormal, closeReasonIdle) {
			wc.s.log.Info("kalamtest: websocket idle timeout", "conn", wc.id)
		}
	}
}

// reply queues one message.
func (wc *wsConn) reply(m any) { wc.out.push(outItem{msgs: []any{m}}) }

// closeWith queues a close after what is already queued.
func (wc *wsConn) closeWith(code int, reason string) bool {
	return wc.out.pushClose(closeReq{code: code, reason: truncateReason(reason)}, false)
}

// closeInvalid closes with 1011 "Invalid message: <reason>" (§4.3).
func (wc *wsConn) closeInvalid(reason string) {
	wc.s.log.Info("kalamtest: closing a websocket after an invalid message", "conn", wc.id, "reason", reason)
	wc.closeWith(closeInternal, "Invalid message: "+reason)
}

// rateLimited answers a text frame that found the bucket empty (§4.3): the
// frame is dropped unread, the client gets the rate_limit error, and the
// refusal is counted.
func (wc *wsConn) rateLimited() {
	wc.mu.Lock()
	user := wc.user
	wc.mu.Unlock()
	wc.s.drops.rateLimited(wc.id, user)
	wc.reply(newError(wire.PlaceholderRateLimit, wire.CodeRateLimitExceeded, "Too many messages"))
}

// notify queues a live change of sub; the overflow policy decides when the
// queue is full. It runs on the hub goroutine with sub.mu held and never
// blocks.
func (wc *wsConn) notify(sub *subscription, seq wire.SeqID, m *wire.ServerMessage) {
	s := wc.s
	queued, full := wc.out.pushNotif(outItem{msgs: []any{m}}, s.cfg.OutgoingQueue)
	if queued || !full {
		return
	}
	wc.overflowed(sub, dropQueue, []wire.SeqID{seq})
}

// overflowed applies the overflow policy to changes of sub that did not
// fit the outgoing queue: with OverflowDrop they are counted and dropped,
// with OverflowClose the connection is closed.
func (wc *wsConn) overflowed(sub *subscription, why dropReason, seqs []wire.SeqID) {
	s := wc.s
	if s.cfg.Overflow == OverflowDrop {
		s.stats.notificationsDropped.Add(int64(len(seqs)))
		for _, seq := range seqs {
			s.drops.change(wc.id, sub.sess.User, sub.id, why, seq)
		}
		if !wc.overflowLogged.Swap(true) {
			s.log.Warn("kalamtest: outgoing queue full, dropping change notifications (logged once per connection)",
				"conn", wc.id, "queue", s.cfg.OutgoingQueue)
		}
		return
	}
	if wc.out.pushClose(closeReq{code: closeTryAgainLater, reason: closeReasonOverflow}, true) {
		s.stats.overflowCloses.Add(1)
		s.log.Warn("kalamtest: closing a websocket whose outgoing queue is full",
			"conn", wc.id, "queue", s.cfg.OutgoingQueue, "code", closeTryAgainLater)
	}
}

// writeLoop drains the outbox until a close is written or the connection
// is torn down.
func (wc *wsConn) writeLoop() {
	defer close(wc.wdone)
	var buf []outItem
	for {
		select {
		case <-wc.out.wake:
		case <-wc.ctx.Done():
			return
		}
		for {
			buf = wc.out.take(buf[:0])
			if len(buf) == 0 {
				break
			}
			for i := range buf {
				it := &buf[i]
				if it.close != nil {
					wc.writeClose(*it.close)
					return
				}
				for _, m := range it.msgs {
					if err := wc.write(m, it.text); err != nil {
						if wc.ctx.Err() == nil {
							wc.s.log.Info("kalamtest: dropping a websocket after a failed write", "conn", wc.id, "err", err)
						}
						_ = wc.c.CloseNow()
						return
					}
				}
				// Out of the queue first, then counted as sent: sent +
				// queued + dropped never counts a change twice, so a
				// sum equal to the changes committed means all are routed.
				wc.out.sent(it)
				if it.changes > 0 {
					wc.s.stats.notificationsSent.Add(int64(it.changes))
				}
			}
			clear(buf)
		}
	}
}

func (wc *wsConn) writeClose(c closeReq) {
	if h := wc.s.hooks.beforeWrite.Load(); h != nil {
		(*h)()
	}
	_ = wc.c.Close(websocket.StatusCode(c.code), c.reason)
}

// write encodes and sends one message: text, or gzip in a binary frame
// when it is at least 512 bytes, compression is on and gzip is smaller.
func (wc *wsConn) write(m any, text bool) error {
	if h := wc.s.hooks.beforeWrite.Load(); h != nil {
		(*h)()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	typ := websocket.MessageText
	if wc.compress && !text {
		var bin bool
		if b, bin = wire.Compress(b); bin {
			typ = websocket.MessageBinary
		}
	}
	ctx, cancel := context.WithTimeout(wc.ctx, wc.s.cfg.WriteTimeout)
	err = wc.c.Write(ctx, typ, b)
	cancel()
	if err == nil {
		wc.s.stats.messagesOut.Add(1)
	}
	return err
}

// checkProtocol validates the protocol object like serde would, and
// refuses MessagePack, which kalamtest does not speak.
func checkProtocol(p wire.Protocol) string {
	switch p.Serialization {
	case "json":
	case "msgpack":
		return "serialization `msgpack` is not supported by kalamtest"
	default:
		return "unknown variant `" + short(p.Serialization) + "`, expected `json` or `msgpack`"
	}
	switch p.Compression {
	case "gzip", "none":
	default:
		return "unknown variant `" + short(p.Compression) + "`, expected `gzip` or `none`"
	}
	return ""
}

// seqNumbersOnly enforces KalamDB's SeqId deserializer, which takes JSON
// numbers only (§1.4); wire.SeqID also accepts decimal strings, as a client
// must. It returns a reason when a protocol seq field is a string.
func seqNumbersOnly(data []byte, m *wire.ClientMessage) string {
	switch {
	case m.Type == wire.TypeNextBatch && m.LastSeqID != nil:
		var raw struct {
			LastSeqID json.RawMessage `json:"last_seq_id"`
		}
		_ = json.Unmarshal(data, &raw)
		return numberOnly("last_seq_id", raw.LastSeqID)
	case m.Type == wire.TypeSubscribe && m.Subscription.Options != nil:
		o := m.Subscription.Options
		if o.From == nil && o.FromSeqID == nil {
			return ""
		}
		var raw struct {
			Subscription struct {
				Options struct {
					From      json.RawMessage `json:"from"`
					FromSeqID json.RawMessage `json:"from_seq_id"`
				} `json:"options"`
			} `json:"subscription"`
		}
		_ = json.Unmarshal(data, &raw)
		if r := numberOnly("from", raw.Subscription.Options.From); r != "" {
			return r
		}
		return numberOnly("from_seq_id", raw.Subscription.Options.FromSeqID)
	}
	return ""
}

func numberOnly(field string, v json.RawMessage) string {
	if len(v) > 0 && v[0] == '"' {
		return "invalid type: string, expected i64 in `" + field + "`"
	}
	return ""
}

// decodeReason is the close reason text for a client frame that does not
// decode. wire.DecodeError never quotes the frame, so no token leaks.
func decodeReason(err error) string {
	var de *wire.DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return "malformed message"
}

// truncateReason keeps a close reason within the 123 bytes a close frame
// allows, on a rune boundary.
func truncateReason(s string) string {
	const max = 123
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func short(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strings.ToValidUTF8(s, "")
}

// queryValue finds a query parameter by case-insensitive name.
func queryValue(r *http.Request, name string) (string, bool) {
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

func queryIs(r *http.Request, name, want string) bool {
	v, ok := queryValue(r, name)
	return ok && strings.EqualFold(v, want)
}

// bucket is a token bucket for client text frames, used by the reader
// goroutine only.
type bucket struct {
	rate   float64 // tokens per second and capacity; ≤ 0 = unlimited
	tokens float64
	last   time.Time
}

func newBucket(perSec int) bucket {
	return bucket{rate: float64(perSec), tokens: float64(perSec)}
}

func (b *bucket) allow(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	if !b.last.IsZero() {
		b.tokens = min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}
