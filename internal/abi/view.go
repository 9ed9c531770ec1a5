package abi

import (
	"encoding/json"

	"github.com/kalamgo/kalam/fsm"
)

// View is the engine's current view: what fsm.Stepper's State, Namespace
// and Subscriptions report.
type View struct {
	State         fsm.State
	Namespace     string
	Subscriptions []fsm.SubscriptionInfo
}

// AppendView encodes a view response: status 0, the state, the namespace,
// then each subscription's id, SQL, phase, position and whether it has one.
func AppendView(b []byte, v View) []byte {
	b = append(b, byte(CodeOK), byte(v.State))
	b = appendString(b, v.Namespace)
	b = appendUvarint(b, uint64(len(v.Subscriptions)))
	for _, s := range v.Subscriptions {
		b = appendString(b, s.ID)
		b = appendString(b, s.SQL)
		b = appendString(b, s.Phase)
		b = appendVarint(b, int64(s.Position))
		b = appendBool(b, s.HasPosition)
	}
	return b
}

// DecodeView decodes a view response that fills b.
func DecodeView(b []byte) (View, error) {
	d := decoder{b: b}
	if e := readStatus(&d); e != nil {
		return View{}, e
	}
	v := View{State: fsm.State(d.enum(numStates, "state")), Namespace: d.str()}
	n := d.count(5)
	if n > 0 {
		v.Subscriptions = make([]fsm.SubscriptionInfo, 0, n)
	}
	for range n {
		s := fsm.SubscriptionInfo{ID: d.str(), SQL: d.str(), Phase: d.str(), Position: seq(d.varint()), HasPosition: d.bool()}
		if d.err != nil {
			break
		}
		v.Subscriptions = append(v.Subscriptions, s)
	}
	if e := d.end(); e != nil {
		return View{}, e
	}
	return v, nil
}

// AppendConfig encodes an init request: the fsm.Config as JSON (its field
// tags; durations in nanoseconds). JSON keeps the one-off request easy to
// write from any host.
func AppendConfig(b []byte, cfg fsm.Config) []byte {
	j, _ := json.Marshal(cfg) // plain numbers, strings and bools: cannot fail
	return append(b, j...)
}

// DecodeConfig decodes an init request. Unknown fields are refused so that
// a host and a guest that disagree on the config fail loudly.
func DecodeConfig(b []byte) (fsm.Config, error) {
	var cfg fsm.Config
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return fsm.Config{}, Errorf(CodeBadConfig, "config is not a JSON fsm.Config")
	}
	if dec.More() {
		return fsm.Config{}, Errorf(CodeBadConfig, "trailing data after the config")
	}
	return cfg, nil
}
