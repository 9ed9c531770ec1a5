package abi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

var writeCorpus = flag.Bool("write-corpus", false, "rewrite testdata/fuzz seed files from the samples")

func ptr[T any](v T) *T { return &v }

func sampleResponse() *wire.SQLResponse {
	return &wire.SQLResponse{Status: "success", Took: 0.5, Results: []wire.QueryResult{{
		Schema: []wire.SchemaField{
			{Name: "id", DataType: wire.DataType{Name: "BigInt"}, Index: 0, Flags: []string{"pk", "nn"}},
			{Name: "v", DataType: wire.DataType{Name: "Decimal", Raw: json.RawMessage(`{"Decimal":{"precision":10,"scale":2}}`)}, Index: 1},
		},
		Rows:     [][]json.RawMessage{{json.RawMessage(`1`), json.RawMessage(`"1.50"`)}, {json.RawMessage(`2`), nil}},
		RowCount: 2, Message: "", AsUser: "alice",
	}}, Error: &wire.ErrorBody{Code: "X", Message: "m", Details: "d"}}
}

// sampleInputs has every input type with every field set.
func sampleInputs() []fsm.Input {
	creds := auth.Credentials{AccessToken: auth.NewSecret("access-token-value"), RefreshToken: auth.NewSecret("refresh-token-value"), Lifetime: time.Hour, User: "alice", Role: "user"}
	return []fsm.Input{
		fsm.Start{}, fsm.SetCredentials{Credentials: creds}, fsm.FreshAuth{}, fsm.SetNamespace{Namespace: "app"},
		fsm.Connect{}, fsm.Disconnect{},
		fsm.Subscribe{ID: "s1", SQL: "SELECT * FROM t", Options: &wire.SubscriptionOptions{BatchSize: ptr(10), LastRows: ptr(5), From: ptr(wire.SeqID(42)), FromSeqID: ptr(wire.SeqID(-1))}, Wait: true},
		fsm.Subscribe{ID: "s2", SQL: "SELECT 1"},
		fsm.Unsubscribe{ID: "s1"}, fsm.Pause{ID: "s1", Position: 99, HasPosition: true}, fsm.Resume{ID: "s1"},
		fsm.Query{ID: 7, SQL: "SELECT $1", Params: []any{1, "two", nil, true, 2.5, map[string]any{"k": []int{1}}, json.RawMessage(` {"a": 1} `)}, Namespace: "app"},
		fsm.Drain{Deadline: 5 * time.Second}, fsm.Close{}, fsm.NetworkChanged{Online: true}, fsm.Wake{},
		fsm.CredentialsResolved{Req: 3, Credentials: creds},
		fsm.CredentialsResolved{Req: 4, Credentials: auth.Credentials{Anonymous: true}},
		fsm.CredentialsFailed{Req: 3, Err: &auth.ProviderError{Provider: "basic", Op: "login", Err: auth.ErrRejected}, Retryable: true},
		fsm.Dialed{Epoch: 1}, fsm.DialFailed{Epoch: 2, Err: fmt.Errorf("dial: %w", io.EOF)},
		fsm.FrameReceived{Epoch: 1, Binary: true, Data: []byte{0x1f, 0x8b, 0, 1, 2}},
		fsm.FrameReceived{Epoch: 1, Data: []byte(`{"type":"auth_success"}`)},
		fsm.PongReceived{Epoch: 1}, fsm.SocketClosed{Epoch: 1, Code: 1006, Reason: "gone"},
		fsm.QueryResult{ID: 7, Response: sampleResponse()},
		fsm.QueryResult{ID: 8, Err: &fsm.QueryError{Status: 401, Code: wire.CodeTokenExpired, Message: "expired", Temporary: false}},
		fsm.TimerFired{Timer: fsm.TimerDrain, Gen: 12},
		indexedFrame(),
	}
}

// indexedFrame is a live change with the index a host scanned for it.
func indexedFrame() fsm.FrameReceived {
	data := []byte(`{"type":"change","subscription_id":"s1","change_type":"update","rows":[{"id":"2","_seq":"7"}],"old_values":[{"id":"2"}],"batch_control":{"batch_num":1}}`)
	x := new(wire.FrameIndex)
	if !wire.IndexServer(data, x) {
		panic("sample frame not indexed")
	}
	return fsm.FrameReceived{Epoch: 1, Data: data, Index: x}
}

// TestFrameIndexChecked: an index that does not fit its frame is refused
// with a code before the engine sees it.
func TestFrameIndexChecked(t *testing.T) {
	good := indexedFrame()
	b := encodeInput(t, 0, good)
	_, in, err := DecodeInput(b)
	if err != nil || in.(fsm.FrameReceived).Index == nil {
		t.Fatalf("good index: %v", err)
	}
	// The same index on a shorter frame puts spans past its end.
	short := good
	short.Data = good.Data[:40]
	if err := decIn(encodeInput(t, 0, short)); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("index past the frame: %v", err)
	}
	// Shifted by one byte, no span sits on its delimiters.
	shifted := good
	shifted.Data = append([]byte(" "), good.Data...)
	if err := decIn(encodeInput(t, 0, shifted)); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("shifted index: %v", err)
	}
	bad := []struct {
		name string
		edit func(x *wire.FrameIndex)
		want error
	}{
		{"empty span", func(x *wire.FrameIndex) { x.Fields[wire.FieldType].End = x.Fields[wire.FieldType].Start }, ErrOutOfRange},
		{"row out of order", func(x *wire.FrameIndex) { x.Rows[0], x.Rows[1] = x.Rows[1], x.Rows[0] }, ErrOutOfRange},
		{"seq outside its row", func(x *wire.FrameIndex) { x.Rows[1].Seq = x.Rows[0].Seq }, ErrOutOfRange},
		{"old row without old_values", func(x *wire.FrameIndex) { x.HasOldValues = false }, ErrOutOfRange},
	}
	for _, c := range bad {
		in := indexedFrame()
		c.edit(in.Index)
		if err := decIn(encodeInput(t, 0, in)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	raw := encodeInput(t, 0, fsm.FrameReceived{Epoch: 1, Data: []byte(`{}`), Index: &wire.FrameIndex{}})
	for _, c := range []struct {
		name string
		at   int // offset from the end of the encoding
		v    byte
	}{{"field bits", 4, 0x80}, {"flags", 2, 4}} {
		b := append([]byte(nil), raw...)
		b[len(b)-c.at] = c.v
		if err := decIn(b); !errors.Is(err, ErrBadValue) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// sampleErrors has every error kind.
func sampleErrors() []error {
	return []error{
		nil, fsm.ErrClosed, auth.ErrTokenExpired, wire.ErrUnknownType, context.Canceled,
		&fsm.TransitionError{From: fsm.StateLive, Trigger: fsm.TriggerSubscribe, Guard: fsm.GuardHasNamespace.String()},
		&fsm.ServerError{Subscription: "s1", Code: "NOT_FOUND", Message: "no"},
		&fsm.QueryError{Status: 503, Code: "BUSY", Message: "later", Temporary: true},
		&wire.DecodeError{Reason: "bad json", Err: io.ErrUnexpectedEOF},
		&auth.MalformedTokenError{Reason: "not three segments"},
		errors.Join(fsm.ErrProtocol, &wire.DecodeError{Reason: "x"}),
		fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", fsm.ErrDeadLink)),
		errors.New("plain"),
		&fsm.GiveUpError{Attempts: 3, Elapsed: 1500 * time.Millisecond, Last: fsm.ErrConnectTimeout},
		&fsm.GiveUpError{Attempts: 0, Elapsed: time.Second},
		&fsm.CloseError{Code: 1011, Reason: "server error"},
	}
}

func sampleEffects() []fsm.Effect {
	effs := []fsm.Effect{
		fsm.ResolveCredentials{Req: 1, Reason: auth.ReasonRejected}, fsm.Dial{Epoch: 3},
		fsm.Authenticate{Epoch: 3, Token: auth.NewSecret("access-token-value")},
		fsm.Send{Epoch: 3, Data: []byte(`{"type":"subscribe"}`)}, fsm.Ping{Epoch: 3},
		fsm.CloseSocket{Epoch: 3, Code: 1000, Reason: "bye"},
		fsm.HTTPQuery{ID: 9, Token: auth.NewSecret("access-token-value"), Request: wire.SQLRequest{SQL: "SELECT 1", Params: []any{1, "x"}, NamespaceID: "app"}},
		fsm.SetTimer{Timer: fsm.TimerPing, At: 5 * time.Second, Gen: 8}, fsm.CancelTimer{Timer: fsm.TimerBackoff},
		fsm.Deliver{Sub: "s1", Event: fsm.Event{Kind: fsm.EventResumed, Rows: []wire.Row{wire.Row(`{"id":1,"_seq":5}`)}, OldValues: []wire.Row{wire.Row(`{"id":1}`)},
			Schema: sampleResponse().Results[0].Schema, Seq: 5, Batch: 2, Last: true, From: 4, Continuity: fsm.ContinuityNoDeletes}},
		fsm.QueryDone{ID: 9, Response: sampleResponse()},
		fsm.StateChanged{From: fsm.StateConnected, To: fsm.StateLive, Trigger: fsm.TriggerSubscribe},
		fsm.StateChanged{From: fsm.StateConnecting, To: fsm.StateBackoff, Trigger: fsm.TriggerSocketLost,
			Reason: &fsm.CloseError{Code: 1006}, Code: 1006, Attempt: 2, RetryIn: 750 * time.Millisecond},
		fsm.ConnectionEvent{Epoch: 3, Connected: false, Code: 1006, Reason: "lost", Err: fsm.ErrDeadLink, Recoverable: true},
		fsm.DrainDone{Outcome: fsm.DrainOutcome{TimedOut: true, QueriesCompleted: 1, QueriesAbandoned: 2, LoadsCompleted: 3, LoadsAbandoned: 4, Subscriptions: 5}},
	}
	for _, err := range sampleErrors() {
		effs = append(effs, fsm.Problem{Err: err, Recoverable: true}, fsm.QueryDone{ID: 1, Err: err},
			fsm.Deliver{Sub: "s", Event: fsm.Event{Kind: fsm.EventError, Err: err}})
	}
	return effs
}

func encodeInput(t testing.TB, now time.Duration, in fsm.Input) []byte {
	t.Helper()
	b, err := AppendInput(nil, now, in)
	if err != nil {
		t.Fatalf("%T: %v", in, err)
	}
	return b
}

func encodeStep(t testing.TB, err error, effs []fsm.Effect) []byte {
	t.Helper()
	b, e := AppendStep(nil, err, fsm.StateLive, effs)
	if e != nil {
		t.Fatal(e)
	}
	return b
}

func TestInputsRoundTrip(t *testing.T) {
	for i, in := range sampleInputs() {
		b := encodeInput(t, time.Duration(i)*time.Second, in)
		now, got, err := DecodeInput(b)
		if err != nil {
			t.Fatalf("%T: %v", in, err)
		}
		if now != time.Duration(i)*time.Second || fmt.Sprintf("%T", got) != fmt.Sprintf("%T", in) {
			t.Fatalf("%T: got %T at %v", in, got, now)
		}
		if again := encodeInput(t, now, got); !bytes.Equal(again, b) {
			t.Fatalf("%T: re-encoding differs", in)
		}
	}
}

func TestCredentialsCrossWithoutTheRefreshToken(t *testing.T) {
	in := sampleInputs()[1].(fsm.SetCredentials)
	b := encodeInput(t, 0, in)
	if bytes.Contains(b, []byte("refresh-token-value")) {
		t.Fatal("the refresh token crossed the ABI")
	}
	_, got, _ := DecodeInput(b)
	c := got.(fsm.SetCredentials).Credentials
	if !c.AccessToken.Equal(in.Credentials.AccessToken) || c.Lifetime != time.Hour || c.User != "alice" || c.Role != "user" || !c.RefreshToken.IsZero() {
		t.Fatalf("credentials: %v", c)
	}
}

func TestQueryParamsKeepTheirJSON(t *testing.T) {
	var in fsm.Query
	for _, x := range sampleInputs() {
		if q, ok := x.(fsm.Query); ok {
			in = q
		}
	}
	_, got, err := DecodeInput(encodeInput(t, 0, in))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(wire.SQLRequest{SQL: in.SQL, Params: in.Params})
	have, _ := json.Marshal(wire.SQLRequest{SQL: in.SQL, Params: got.(fsm.Query).Params})
	if !bytes.Equal(want, have) {
		t.Fatalf("request JSON changed:\n%s\n%s", want, have)
	}
	if _, err := AppendInput(nil, 0, fsm.Query{ID: 1, SQL: "x", Params: []any{make(chan int)}}); !errors.Is(err, ErrUnencodable) {
		t.Fatalf("channel parameter: %v", err)
	}
}

func TestEffectsRoundTrip(t *testing.T) {
	effs := sampleEffects()
	b := encodeStep(t, &fsm.TransitionError{From: fsm.StateClosed, Trigger: fsm.TriggerConnect}, effs)
	st, err := DecodeStep(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != fsm.StateLive || len(st.Effects) != len(effs) || !errors.Is(st.Err, fsm.ErrClosed) {
		t.Fatalf("step: %v %d %v", st.State, len(st.Effects), st.Err)
	}
	for i := range effs {
		if fmt.Sprintf("%T", effs[i]) != fmt.Sprintf("%T", st.Effects[i]) {
			t.Fatalf("effect %d: %T became %T", i, effs[i], st.Effects[i])
		}
	}
	if again := encodeStep(t, st.Err, st.Effects); !bytes.Equal(again, b) {
		t.Fatal("re-encoding differs")
	}
	if tok := st.Effects[2].(fsm.Authenticate).Token; tok.Reveal() != "access-token-value" || fmt.Sprint(st.Effects[2]) == "" || strings.Contains(fmt.Sprint(st.Effects[2]), "access-token-value") {
		t.Fatal("the token did not cross as a Secret")
	}
	off, err := EffectsOffset(b)
	if err != nil || off <= 2 || off >= len(b) {
		t.Fatalf("effects offset %d, %v", off, err)
	}
}

func TestErrorsKeepTypesAndSentinels(t *testing.T) {
	targets := []error{fsm.ErrClosed, fsm.ErrNoNamespace, fsm.ErrNoCredentials, fsm.ErrProtocol, fsm.ErrDeadLink,
		auth.ErrTokenExpired, auth.ErrRejected, auth.ErrMalformedToken, wire.ErrUnknownType, io.ErrUnexpectedEOF, context.Canceled}
	for _, want := range sampleErrors() {
		got, err := DecodeError(AppendError(nil, want))
		if err != nil {
			t.Fatalf("%v: %v", want, err)
		}
		if (want == nil) != (got == nil) {
			t.Fatalf("%v became %v", want, got)
		}
		if want == nil {
			continue
		}
		if got.Error() != want.Error() {
			t.Fatalf("text %q became %q", want, got)
		}
		for _, target := range targets {
			if errors.Is(want, target) != errors.Is(got, target) {
				t.Fatalf("%v: errors.Is(%v) differs", want, target)
			}
		}
		var wt, gt *fsm.TransitionError
		var wq, gq *fsm.QueryError
		var wd, gd *wire.DecodeError
		if errors.As(want, &wt) != errors.As(got, &gt) || errors.As(want, &wq) != errors.As(got, &gq) || errors.As(want, &wd) != errors.As(got, &gd) {
			t.Fatalf("%v: errors.As differs", want)
		}
	}
	// A QueryError keeps its Is method: TOKEN_EXPIRED matches auth.ErrTokenExpired.
	got, _ := DecodeError(AppendError(nil, &fsm.QueryError{Status: 401, Code: wire.CodeTokenExpired}))
	if !errors.Is(got, auth.ErrTokenExpired) {
		t.Fatal("QueryError lost its Is")
	}
}

func TestDeepErrorChainsAreCut(t *testing.T) {
	err := fsm.ErrDeadLink
	for i := range 100 {
		err = fmt.Errorf("level %d: %w", i, err)
	}
	b := AppendError(nil, err)
	got, derr := DecodeError(b)
	if derr != nil || got.Error() != err.Error() {
		t.Fatalf("deep chain: %v", derr)
	}
	// A hand-made chain deeper than the limit is refused, not followed.
	var deep []byte
	for range 1000 {
		deep = append(deep, errOther, 0, 1)
	}
	deep = append(deep, errNil)
	if _, derr := DecodeError(deep); !errors.Is(derr, ErrBadValue) {
		t.Fatalf("deep input: %v", derr)
	}
}

// TestBadEncodingsGetCodes feeds truncated, unknown and out-of-range
// encodings: each gives an *Error with the right code, never a panic.
func TestBadEncodingsGetCodes(t *testing.T) {
	step := encodeStep(t, nil, sampleEffects())
	for n := range len(step) {
		if _, err := DecodeStep(step[:n], nil); err == nil {
			t.Fatalf("step truncated to %d bytes decoded", n)
		} else if n > 0 && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrBadValue) && !errors.Is(err, ErrUnknownTag) {
			t.Fatalf("step truncated to %d: %v", n, err)
		}
	}
	for _, in := range sampleInputs() {
		b := encodeInput(t, time.Second, in)
		for n := range len(b) {
			if _, _, err := DecodeInput(b[:n]); err == nil {
				t.Fatalf("%T truncated to %d bytes decoded", in, n)
			}
		}
	}
	cases := []struct {
		name string
		b    []byte
		dec  func([]byte) error
		want error
	}{
		{"unknown input tag", []byte{0, 99}, decIn, ErrUnknownTag},
		{"input timer out of range", []byte{0, inTimerFired, 11, 0}, decIn, ErrBadValue},
		{"bool not 0 or 1", []byte{0, inNetworkChanged, 2}, decIn, ErrBadValue},
		{"trailing bytes", []byte{0, inStart, 0}, decIn, ErrBadValue},
		{"huge list count", append([]byte{0, inQuery, 1, 0}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), decIn, ErrTruncated},
		{"huge byte length", []byte{0, inFrameReceived, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, decIn, ErrTruncated},
		{"varint overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, decIn, ErrBadValue},
		{"query parameter not JSON", []byte{0, inQuery, 1, 1, 'x', 1, 1, '{', 0}, decIn, ErrBadValue},
		{"option flags", []byte{0, inSubscribe, 1, 's', 1, 'q', 1, 0x10, 0}, decIn, ErrBadValue},
		{"unknown effect tag", []byte{0, 0, 0, 1, 99, 0}, decStep, ErrUnknownTag},
		{"state out of range", []byte{0, 0, 8, 0}, decStep, ErrBadValue},
		{"unknown error kind", []byte{0, 10, 0, 0}, decStep, ErrUnknownTag},
		{"unknown sentinel", []byte{0, errSentinel, 200, 1, 0, 0}, decStep, ErrUnknownTag},
		{"nil wrapped error", []byte{0, errOther, 0, 1, errNil, 0, 0}, decStep, ErrBadValue},
		{"event kind out of range", []byte{0, 0, 0, 1, effDeliver, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0}, decStep, ErrBadValue},
		{"guest status", AppendStatus(nil, Errorf(CodeNotInitialized, "x")), decStep, ErrNotInitialized},
		{"unknown status", []byte{200, 0}, decStep, ErrUnknownTag},
		{"empty response", nil, decStep, ErrTruncated},
		{"config not JSON", []byte("{"), decCfg, ErrBadConfig},
		{"config unknown field", []byte(`{"nope":1}`), decCfg, ErrBadConfig},
		{"view state", []byte{0, 9, 0, 0}, decView, ErrBadValue},
	}
	for _, c := range cases {
		err := c.dec(c.b)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Code == CodeOK {
			t.Errorf("%s: %v is not an *Error with a code", c.name, err)
		}
	}
}

func decIn(b []byte) error   { _, _, err := DecodeInput(b); return err }
func decStep(b []byte) error { _, err := DecodeStep(b, nil); return err }
func decCfg(b []byte) error  { _, err := DecodeConfig(b); return err }
func decView(b []byte) error { _, err := DecodeView(b); return err }

func TestViewAndConfigRoundTrip(t *testing.T) {
	v := View{State: fsm.StateLive, Namespace: "app", Subscriptions: []fsm.SubscriptionInfo{{ID: "s", SQL: "q", Phase: "live", Position: 5, HasPosition: true}}}
	got, err := DecodeView(AppendView(nil, v))
	if err != nil || got.State != v.State || got.Namespace != v.Namespace || len(got.Subscriptions) != 1 || got.Subscriptions[0] != v.Subscriptions[0] {
		t.Fatalf("view: %+v %v", got, err)
	}
	cfg := fsm.Config{Namespace: "app", HasProvider: true, Eager: true, BackoffMin: time.Second, Seed: 1<<63 + 5, MaxFrame: 9}
	back, err := DecodeConfig(AppendConfig(nil, cfg))
	if err != nil || back != cfg {
		t.Fatalf("config: %+v %v", back, err)
	}
}

func TestPack(t *testing.T) {
	p, n := Unpack(Pack(0xfffffff0, 17))
	if p != 0xfffffff0 || n != 17 {
		t.Fatal(p, n)
	}
}

// FuzzDecodeInput: any bytes decode to an input or an *Error, never a
// panic; what decodes re-encodes to bytes that decode to the same.
func FuzzDecodeInput(f *testing.F) {
	for i, in := range sampleInputs() {
		f.Add(encodeInput(f, time.Duration(i), in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		now, in, err := DecodeInput(b)
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("not an *Error: %v", err)
			}
			return
		}
		again, err := AppendInput(nil, now, in)
		if err != nil {
			t.Fatalf("decoded input does not encode: %v", err)
		}
		now2, in2, err := DecodeInput(again)
		if err != nil || now2 != now {
			t.Fatalf("re-encoded input does not decode: %v", err)
		}
		third, _ := AppendInput(nil, now2, in2)
		if !bytes.Equal(third, again) {
			t.Fatal("encoding is not stable")
		}
	})
}

// FuzzDecodeEffects: the same for step responses.
func FuzzDecodeEffects(f *testing.F) {
	f.Add(encodeStep(f, nil, sampleEffects()))
	f.Add(encodeStep(f, fsm.ErrDraining, nil))
	for _, eff := range sampleEffects() {
		f.Add(encodeStep(f, nil, []fsm.Effect{eff}))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeStep(b, nil)
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("not an *Error: %v", err)
			}
			return
		}
		again, err := AppendStep(nil, st.Err, st.State, st.Effects)
		if err != nil {
			t.Fatalf("decoded effects do not encode: %v", err)
		}
		st2, err := DecodeStep(again, nil)
		if err != nil {
			t.Fatalf("re-encoded effects do not decode: %v", err)
		}
		third, _ := AppendStep(nil, st2.Err, st2.State, st2.Effects)
		if !bytes.Equal(third, again) {
			t.Fatal("encoding is not stable")
		}
	})
}

// TestWriteSeedCorpus rewrites testdata/fuzz from the samples when run
// with -write-corpus.
func TestWriteSeedCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to rewrite testdata/fuzz")
	}
	write := func(target, name string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, in := range sampleInputs() {
		write("FuzzDecodeInput", fmt.Sprintf("seed-%02d-%s", i, strings.TrimPrefix(fmt.Sprintf("%T", in), "fsm.")), encodeInput(t, time.Duration(i)*time.Millisecond, in))
	}
	for i, eff := range sampleEffects() {
		write("FuzzDecodeEffects", fmt.Sprintf("seed-%02d-%s", i, strings.TrimPrefix(fmt.Sprintf("%T", eff), "fsm.")), encodeStep(t, nil, []fsm.Effect{eff}))
	}
	write("FuzzDecodeEffects", "seed-all", encodeStep(t, &fsm.TransitionError{From: fsm.StateAuthed, Trigger: fsm.TriggerConnect, Guard: "hasValidToken"}, sampleEffects()))
}

// matcher matches a sentinel through its Is method only.
type matcher struct{}

func (matcher) Error() string        { return "401 unauthorized" }
func (matcher) Is(target error) bool { return target == auth.ErrRejected }

func TestErrorMatchedByIsMethodKeepsItsMatch(t *testing.T) {
	err := fmt.Errorf("basic login: %w", matcher{})
	got, derr := DecodeError(AppendError(nil, err))
	if derr != nil {
		t.Fatal(derr)
	}
	if !errors.Is(got, auth.ErrRejected) || got.Error() != err.Error() {
		t.Fatalf("decoded %v (matches ErrRejected: %t)", got, errors.Is(got, auth.ErrRejected))
	}
	again := AppendError(nil, got)
	if !bytes.Equal(again, AppendError(nil, err)) {
		t.Fatal("re-encoding the decoded error gives other bytes")
	}
}
