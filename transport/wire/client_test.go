package wire_test

import (
	"errors"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

func TestDecodeClient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame string
		check func(t *testing.T, m *wire.ClientMessage)
	}{
		{"authenticate §4.2.2", `{"type":"authenticate","method":"jwt","token":"eyJ.A1.x","protocol":{"serialization":"json","compression":"gzip"}}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if m.Type != wire.TypeAuthenticate || m.Method != "jwt" || m.Token != "eyJ.A1.x" || *m.Protocol != wire.DefaultProtocol {
					t.Errorf("%+v", m)
				}
			}},
		{"authenticate with extra fields", `{"type":"authenticate","method":"jwt","token":"t","protocol":{"serialization":"msgpack","compression":"none"},"extra":1}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if m.Protocol.Serialization != "msgpack" || m.Protocol.Compression != "none" {
					t.Errorf("%+v", m.Protocol)
				}
			}},
		{"subscribe §4.4", `{"type":"subscribe","subscription":{"id":"orders_live","sql":"SELECT id, status FROM app.orders WHERE status = 'open'",
 "options":{"batch_size":500,"last_rows":100,"from":309840123456789504}}}`,
			func(t *testing.T, m *wire.ClientMessage) {
				s := m.Subscription
				if s.ID != "orders_live" || s.SQL != "SELECT id, status FROM app.orders WHERE status = 'open'" || s.Options == nil ||
					*s.Options.BatchSize != 500 || *s.Options.LastRows != 100 || *s.Options.From != 309840123456789504 {
					t.Errorf("%+v", s)
				}
				if from, ok := s.Options.ResumeFrom(); !ok || from != 309840123456789504 {
					t.Errorf("ResumeFrom = %v %v", from, ok)
				}
			}},
		{"subscribe without options §7", `{"type":"subscribe","subscription":{"id":"open-orders","sql":"SELECT * FROM app.orders WHERE status = 'open'"}}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if m.Subscription.Options != nil {
					t.Errorf("options %+v, want nil (no initial load)", m.Subscription.Options)
				}
				if _, ok := m.Subscription.Options.ResumeFrom(); ok {
					t.Error("ResumeFrom on nil options")
				}
			}},
		{"subscribe with empty options", `{"type":"subscribe","subscription":{"id":"s","sql":"SELECT * FROM a.b","options":{}}}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if m.Subscription.Options == nil {
					t.Error("empty options must stay non-nil: they ask for an initial load")
				}
			}},
		{"subscribe null options", `{"type":"subscribe","subscription":{"id":"s","sql":"SELECT * FROM a.b","options":null}}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if m.Subscription.Options != nil {
					t.Error("null options must read as absent")
				}
			}},
		{"resume §7 step 7", `{"type":"subscribe","subscription":{"id":"open-orders","sql":"SELECT * FROM app.orders WHERE status = 'open'",
      "options":{"batch_size":2,"from":309840000500000000}}}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if from, ok := m.Subscription.Options.ResumeFrom(); !ok || from != 309840000500000000 {
					t.Errorf("from = %v", from)
				}
			}},
		{"from_seq_id alias", `{"type":"subscribe","subscription":{"id":"s","sql":"SELECT * FROM a.b","options":{"from_seq_id":309840000500000001}}}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if from, ok := m.Subscription.Options.ResumeFrom(); !ok || from != 309840000500000001 {
					t.Errorf("from = %v", from)
				}
			}},
		{"from wins over the alias", `{"type":"subscribe","subscription":{"id":"s","sql":"q","options":{"from_seq_id":1,"from":2}}}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if from, _ := m.Subscription.Options.ResumeFrom(); from != 2 {
					t.Errorf("from = %v", from)
				}
			}},
		{"next_batch", `{"type":"next_batch","subscription_id":"orders_live","last_seq_id":309840123456790000}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if m.SubscriptionID != "orders_live" || m.LastSeqID == nil || *m.LastSeqID != 309840123456790000 {
					t.Errorf("%+v", m)
				}
			}},
		{"next_batch without last_seq_id", `{"type":"next_batch","subscription_id":"s"}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if m.LastSeqID != nil {
					t.Errorf("%+v", m)
				}
			}},
		{"unsubscribe", `{"type":"unsubscribe","subscription_id":"orders_live"}`,
			func(t *testing.T, m *wire.ClientMessage) {
				if m.Type != wire.TypeUnsubscribe || m.SubscriptionID != "orders_live" {
					t.Errorf("%+v", m)
				}
			}},
		{"blank unsubscribe is the server's to refuse", `{"type":"unsubscribe","subscription_id":""}`, func(*testing.T, *wire.ClientMessage) {}},
		{"ping", `{"type":"ping"}`, func(t *testing.T, m *wire.ClientMessage) {
			if m.Type != wire.TypePing {
				t.Errorf("%+v", m)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := wire.DecodeClient([]byte(tc.frame))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, m)
			// What we encode, we decode to the same message.
			b, err := wire.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			again, err := wire.DecodeClient(b)
			if err != nil {
				t.Fatalf("re-decode %s: %v", b, err)
			}
			b2, _ := wire.Encode(again)
			if string(b) != string(b2) {
				t.Errorf("round trip: %s != %s", b, b2)
			}
		})
	}
}

func TestDecodeClientErrors(t *testing.T) {
	for _, tc := range []struct {
		name, frame string
		unknown     bool
	}{
		{"authenticate without protocol", `{"type":"authenticate","method":"jwt","token":"t"}`, false},
		{"authenticate null protocol", `{"type":"authenticate","method":"jwt","token":"t","protocol":null}`, false},
		{"authenticate other method", `{"type":"authenticate","method":"basic","token":"t","protocol":{"serialization":"json","compression":"gzip"}}`, false},
		{"authenticate no method", `{"type":"authenticate","token":"t","protocol":{"serialization":"json","compression":"gzip"}}`, false},
		{"subscribe without subscription", `{"type":"subscribe"}`, false},
		{"subscribe with subscriptions array", `{"type":"subscribe","subscriptions":[{"id":"s","sql":"q"}]}`, false},
		{"unknown type", `{"type":"hello"}`, true},
		{"missing type", `{"subscription_id":"s"}`, false},
		{"bad json", `{"type":"ping"`, false},
		{"not an object", `"ping"`, false},
		{"empty", ``, false},
		{"from as float", `{"type":"subscribe","subscription":{"id":"s","sql":"q","options":{"from":1.5}}}`, false},
		{"last_seq_id as bool", `{"type":"next_batch","subscription_id":"s","last_seq_id":true}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := wire.DecodeClient([]byte(tc.frame))
			var de *wire.DecodeError
			if err == nil || m != nil || !errors.As(err, &de) {
				t.Fatalf("DecodeClient = %+v, %v; want a DecodeError", m, err)
			}
			if errors.Is(err, wire.ErrUnknownType) != tc.unknown {
				t.Errorf("Is(ErrUnknownType) = %v", !tc.unknown)
			}
		})
	}
}

func TestAuthenticateMessage(t *testing.T) {
	b := wire.AuthenticateMessage("eyJ.tok.sig")
	want := `{"type":"authenticate","method":"jwt","token":"eyJ.tok.sig","protocol":{"serialization":"json","compression":"gzip"}}`
	if string(b) != want {
		t.Errorf("got %s", b)
	}
	if _, err := wire.DecodeClient(b); err != nil {
		t.Error(err)
	}
}
