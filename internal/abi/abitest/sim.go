// Package abitest generates the seeded conformance scripts that hosts of
// the engine module are checked against: a modelled world (sockets, timers,
// the credentials provider, the server) around a native engine, answering
// its effects in any order, late or stale, the way a driver and a server
// could. bindings/wazero replays the scripts through the guest in wazero,
// tests/nodewasi through Node's WASI; both must answer every step with the
// native engine's bytes.
package abitest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// Sim drives a native engine with seeded inputs. Input chooses the next
// input from what the engine asked for so far; Step feeds it to the native
// engine and updates the world from the effects.
type Sim struct {
	Seed   uint64
	Native *fsm.Engine
	Now    time.Duration

	r       *rand.Rand
	timers  map[fsm.Timer]fsm.SetTimer
	dials   []uint64
	resolve uint64
	queries []uint64
	seq     int64
	nextQID uint64
	nextSub int
	token   int
	then    fsm.Input // an answer that follows the last input at once
}

// New returns the world of seed around a new native engine built from
// Config(seed).
func New(seed uint64) *Sim {
	return &Sim{Seed: seed, Native: fsm.New(Config(seed)), r: rand.New(rand.NewPCG(seed, 0x6b616c616d)),
		timers: map[fsm.Timer]fsm.SetTimer{}, seq: 1000}
}

// Step feeds in to the native engine at s.Now and lets the world react to
// the effects. The effects are valid until the next Step.
func (s *Sim) Step(in fsm.Input) ([]fsm.Effect, error) {
	effs, err := s.Native.Step(s.Now, in)
	s.track(effs)
	return effs, err
}

// BatchSizes returns seed's stream of batch sizes, 1 to 100: separate from
// the inputs' stream, so that a script chooses the same inputs whether its
// replay batches them or not.
func BatchSizes(seed uint64) func() int {
	r := rand.New(rand.NewPCG(seed, 0x6261746368))
	return func() int { return 1 + r.IntN(100) }
}

func (s *Sim) pick(n int) int { return s.r.IntN(n) }

func (s *Sim) anySub() string {
	subs := s.Native.Subscriptions()
	if len(subs) == 0 || s.pick(8) == 0 {
		return fmt.Sprintf("s%d", s.pick(3))
	}
	return subs[s.pick(len(subs))].ID
}

func (s *Sim) creds() auth.Credentials {
	s.token++
	if s.pick(10) == 0 {
		return auth.Credentials{Anonymous: true}
	}
	life := []time.Duration{0, time.Second, 30 * time.Second, time.Hour}[s.pick(4)]
	return auth.Credentials{
		AccessToken:  auth.NewSecret(fmt.Sprintf("tok-%d", s.token)),
		RefreshToken: auth.NewSecret("refresh"),
		Lifetime:     life, User: "alice", Role: "user",
	}
}

func (s *Sim) nextSeq() int64 {
	if s.pick(5) == 0 && s.seq > 1000 {
		return s.seq - int64(s.pick(3))
	}
	s.seq += int64(1 + s.pick(3))
	return s.seq
}

var simErrors = []func() error{
	func() error { return auth.ErrRejected },
	func() error { return fmt.Errorf("provider: %w", auth.ErrTokenExpired) },
	func() error {
		return &auth.ProviderError{Provider: "basic", Op: "login", Err: errors.New("dial tcp: refused")}
	},
	func() error { return errors.New("network down") },
	func() error { return context.DeadlineExceeded },
	func() error { return errors.Join(io.EOF, errors.New("read")) },
	func() error { return &auth.MalformedTokenError{Reason: "not three segments"} },
	func() error { return nil },
}

func (s *Sim) err() error { return simErrors[s.pick(len(simErrors))]() }

func (s *Sim) frame(ep uint64, data string) fsm.Input {
	if s.pick(12) == 0 { // the server may gzip a message into a binary frame
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(data))
		zw.Close()
		return fsm.FrameReceived{Epoch: ep, Binary: true, Data: buf.Bytes()}
	}
	return fsm.FrameReceived{Epoch: ep, Data: []byte(data)}
}

func ack(id string, more bool, last int64) string {
	return fmt.Sprintf(`{"type":"subscription_ack","subscription_id":%q,"total_rows":0,"batch_control":{"batch_num":0,"has_more":%t,"status":"loading","last_seq_id":%d},"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"v","data_type":{"Decimal":{"precision":10,"scale":2}},"index":1}]}`, id, more, last)
}

func batch(id string, num int, more bool, seqs ...int64) string {
	rows := make([]string, len(seqs))
	for i, q := range seqs {
		rows[i] = fmt.Sprintf(`{"id":"%d","v":1.5,"_seq":"%d","_deleted":false}`, q, q)
	}
	last, status := "null", "ready"
	if len(seqs) > 0 {
		last = fmt.Sprint(seqs[len(seqs)-1])
	}
	if more {
		status = "loading"
	}
	return fmt.Sprintf(`{"type":"initial_data_batch","subscription_id":%q,"rows":[%s],"batch_control":{"batch_num":%d,"has_more":%t,"status":%q,"last_seq_id":%s}}`, id, strings.Join(rows, ","), num, more, status, last)
}

func change(id, kind string, seq int64) string {
	switch kind {
	case "delete":
		return fmt.Sprintf(`{"type":"change","subscription_id":%q,"change_type":"delete","old_values":[{"id":"%d","_seq":"%d","_deleted":true}]}`, id, seq, seq)
	case "update":
		return fmt.Sprintf(`{"type":"change","subscription_id":%q,"change_type":"update","rows":[{"id":"%d","_seq":"%d","note":"ü \u00e9"}],"old_values":[{"id":"%d","_seq":"%d"}]}`, id, seq, seq, seq, seq-1)
	}
	return fmt.Sprintf(`{"type":"change","subscription_id":%q,"change_type":"insert","rows":[{"id":"%d","_seq":"%d","_deleted":false}]}`, id, seq, seq)
}

const AuthOK = `{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`

func (s *Sim) response() *wire.SQLResponse {
	switch s.pick(3) {
	case 0:
		return &wire.SQLResponse{Status: "success", Took: 1.25, Results: []wire.QueryResult{{
			Schema:   []wire.SchemaField{{Name: "id", DataType: wire.DataType{Name: "BigInt"}, Index: 0, Flags: []string{"pk"}}},
			Rows:     [][]json.RawMessage{{json.RawMessage(`1`)}, {json.RawMessage(` "2" `)}},
			RowCount: 2, AsUser: "alice",
		}}}
	case 1:
		return &wire.SQLResponse{Status: "error", Error: &wire.ErrorBody{Code: "SQL_EXECUTION_ERROR", Message: "no such table", Details: "t"}}
	}
	return &wire.SQLResponse{Status: "success", Results: []wire.QueryResult{{Message: "Inserted 1 row(s)", RowCount: 1}}}
}

// Input chooses the next input.
func (s *Sim) Input() fsm.Input {
	if in := s.then; in != nil {
		s.then = nil
		return in
	}
	ep := s.Native.Epoch()
	switch s.pick(30) {
	case 0:
		return fsm.Start{}
	case 1:
		s.resolve = 0
		return fsm.SetCredentials{Credentials: s.creds()}
	case 2:
		return fsm.SetNamespace{Namespace: []string{"app", "shop", "bad name", ""}[s.pick(4)]}
	case 3:
		return []fsm.Input{fsm.Connect{}, fsm.Disconnect{}}[s.pick(2)]
	case 4, 5:
		s.nextSub++
		var opts *wire.SubscriptionOptions
		if s.pick(3) > 0 {
			bs := 1 + s.pick(4)
			opts = &wire.SubscriptionOptions{BatchSize: &bs}
			if s.pick(3) == 0 {
				from := wire.SeqID(s.seq)
				opts.From = &from
			}
			if s.pick(4) == 0 {
				lr := s.pick(10)
				opts.LastRows = &lr
			}
		}
		return fsm.Subscribe{ID: fmt.Sprintf("s%d", s.nextSub), SQL: "SELECT * FROM t", Options: opts, Wait: s.pick(2) == 0}
	case 6:
		switch s.pick(4) {
		case 0:
			return fsm.Pause{ID: s.anySub(), Position: wire.SeqID(s.seq - int64(s.pick(4))), HasPosition: s.pick(4) > 0}
		case 1:
			return fsm.Resume{ID: s.anySub()}
		default:
			return fsm.Unsubscribe{ID: s.anySub()}
		}
	case 7:
		s.nextQID++
		params := [][]any{nil, {1, "two", nil, true, 2.5}, {map[string]any{"a": []int{1, 2}}, int64(1) << 60}}[s.pick(3)]
		return fsm.Query{ID: s.nextQID, SQL: []string{"SELECT 1", "USE shop", " "}[s.pick(3)], Params: params, Namespace: []string{"", "app"}[s.pick(2)]}
	case 8:
		if s.pick(40) == 0 {
			return fsm.Drain{Deadline: s.Now + time.Duration(s.pick(5))*time.Second}
		}
		return fsm.FreshAuth{}
	case 9:
		switch s.pick(90) {
		case 0:
			return fsm.Close{}
		case 1, 2:
			return fsm.NetworkChanged{Online: s.pick(2) == 0}
		case 3:
			return fsm.Wake{}
		}
		return fsm.PongReceived{Epoch: ep}
	case 10:
		if s.resolve == 0 {
			return fsm.PongReceived{Epoch: ep}
		}
		req := s.resolve
		s.resolve = 0
		if s.pick(3) == 0 {
			return fsm.CredentialsFailed{Req: req, Err: s.err(), Retryable: s.pick(2) == 0}
		}
		return fsm.CredentialsResolved{Req: req, Credentials: s.creds()}
	case 11:
		if len(s.dials) == 0 {
			return fsm.Dialed{Epoch: ep + 1} // a dial the engine never asked for
		}
		d := s.dials[s.pick(len(s.dials))]
		s.dials = slices.DeleteFunc(s.dials, func(x uint64) bool { return x == d })
		if s.pick(5) == 0 {
			return fsm.DialFailed{Epoch: d, Err: s.err()}
		}
		if s.pick(4) > 0 { // a server usually answers the authenticate at once
			s.then = fsm.FrameReceived{Epoch: d, Data: []byte(AuthOK)}
		}
		return fsm.Dialed{Epoch: d}
	case 12, 13:
		return s.frame(ep, AuthOK)
	case 14:
		return s.frame(ep, ack(s.anySub(), s.pick(2) == 0, s.seq))
	case 15, 16:
		seqs := make([]int64, s.pick(3))
		for i := range seqs {
			seqs[i] = s.nextSeq()
		}
		return s.frame(ep, batch(s.anySub(), s.pick(3), s.pick(2) == 0, seqs...))
	case 17, 18, 19, 20:
		return s.frame(ep, change(s.anySub(), []string{"insert", "update", "delete"}[s.pick(3)], s.nextSeq()))
	case 21:
		return fsm.SocketClosed{Epoch: ep, Code: []int{1000, 1001, 1006, 1008, 1011, 1002}[s.pick(6)], Reason: "bye"}
	case 22, 23:
		if len(s.timers) == 0 {
			s.Now += time.Duration(s.pick(100)) * 10 * time.Millisecond
			return fsm.PongReceived{Epoch: ep}
		}
		armed := slices.Sorted(maps.Keys(s.timers)) // every timer the engine has, in order
		st := s.timers[armed[s.pick(len(armed))]]
		delete(s.timers, st.Timer)
		s.Now = max(s.Now, st.At)
		return fsm.TimerFired{Timer: st.Timer, Gen: st.Gen}
	case 24:
		s.Now += time.Duration(s.pick(200)) * 50 * time.Millisecond
		return fsm.PongReceived{Epoch: ep}
	case 25:
		if len(s.queries) == 0 {
			return fsm.QueryResult{ID: 999, Response: &wire.SQLResponse{Status: "success"}}
		}
		id := s.queries[0]
		s.queries = s.queries[1:]
		switch s.pick(4) {
		case 0:
			return fsm.QueryResult{ID: id, Err: &fsm.QueryError{Status: 401, Code: wire.CodeTokenExpired, Message: "expired"}}
		case 1:
			return fsm.QueryResult{ID: id, Err: &fsm.QueryError{Message: "connection reset", Temporary: true}}
		}
		return fsm.QueryResult{ID: id, Response: s.response()}
	case 26:
		return s.frame(ep, []string{
			"{", `{"type":"nope"}`,
			`{"type":"error","subscription_id":"` + s.anySub() + `","code":"NOT_FOUND","message":"x"}`,
			`{"type":"error","subscription_id":"protocol","code":"PROTOCOL","message":"bad"}`,
			`{"type":"auth_error","message":"TOKEN_EXPIRED"}`,
			`{"type":"pong"}`,
		}[s.pick(6)])
	case 27:
		return s.frame(ep-1, change(s.anySub(), "insert", s.nextSeq())) // stale epoch
	case 28:
		return fsm.TimerFired{Timer: fsm.Timer(s.pick(7)), Gen: uint64(s.pick(50))} // stale firing
	}
	return fsm.PongReceived{Epoch: ep + uint64(s.pick(2))}
}

// track updates the world from the native engine's effects.
func (s *Sim) track(effs []fsm.Effect) {
	for _, eff := range effs {
		switch e := eff.(type) {
		case fsm.ResolveCredentials:
			s.resolve = e.Req
		case fsm.Dial:
			s.dials = append(s.dials, e.Epoch)
		case fsm.CloseSocket:
			s.dials = slices.DeleteFunc(s.dials, func(x uint64) bool { return x == e.Epoch })
		case fsm.HTTPQuery:
			s.queries = append(s.queries, e.ID)
		case fsm.SetTimer:
			s.timers[e.Timer] = e
		case fsm.CancelTimer:
			delete(s.timers, e.Timer)
		}
	}
	if s.Native.State() == fsm.StateClosed {
		s.resolve = 0
	}
}

func Config(seed uint64) fsm.Config {
	cfg := fsm.Config{Seed: seed, HasProvider: seed%3 != 0, ResolveOnReconnect: seed%5 == 0, Eager: seed%4 == 0}
	if seed%2 == 0 {
		cfg.Namespace = "app"
	}
	if seed%7 == 0 {
		cfg.RefreshMargin = time.Second
		cfg.MaxFrame = 512
	}
	return cfg
}
