package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/coder/websocket"
)

// rawConn is the reference consumer: a plain coder/websocket connection
// with encoding/json, doing what an application without the client would
// do to follow the same live queries.
type rawConn struct {
	ws *websocket.Conn
	zr *gzip.Reader
	zb bytes.Buffer
}

// rawMessage is what the reference decodes every frame into: the fields a
// consumer needs and each row's cells, left as JSON like the client's Row.
type rawMessage struct {
	Type           string                       `json:"type"`
	SubscriptionID string                       `json:"subscription_id"`
	ChangeType     string                       `json:"change_type"`
	Rows           []map[string]json.RawMessage `json:"rows"`
}

// dialRaw opens, authenticates and subscribes to sql under ids sub-0 …
// sub-(n-1), with opts as the subscription options (nil: none, so no
// snapshot, as the client's NoSnapshot).
func dialRaw(ctx context.Context, wsURL, token, sql string, n int, opts map[string]any) (*rawConn, error) {
	ws, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(64 << 20)
	r := &rawConn{ws: ws}
	if err := r.send(ctx, map[string]any{"type": "authenticate", "method": "jwt", "token": token,
		"protocol": map[string]string{"serialization": "json", "compression": "gzip"}}); err != nil {
		ws.CloseNow()
		return nil, err
	}
	if _, err := r.expect(ctx, "auth_success"); err != nil {
		ws.CloseNow()
		return nil, err
	}
	for i := range n {
		if err := r.subscribe(ctx, fmt.Sprint("sub-", i), sql, opts); err != nil {
			ws.CloseNow()
			return nil, err
		}
	}
	return r, nil
}

func (r *rawConn) subscribe(ctx context.Context, id, sql string, opts map[string]any) error {
	sub := map[string]any{"id": id, "sql": sql}
	if opts != nil {
		sub["options"] = opts
	}
	if err := r.send(ctx, map[string]any{"type": "subscribe", "subscription": sub}); err != nil {
		return err
	}
	_, err := r.expect(ctx, "subscription_ack")
	return err
}

func (r *rawConn) send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return r.ws.Write(ctx, websocket.MessageText, b)
}

// read returns the next message, gunzipping binary frames.
func (r *rawConn) read(ctx context.Context) (rawMessage, error) {
	var m rawMessage
	typ, data, err := r.ws.Read(ctx)
	if err != nil {
		return m, err
	}
	if typ == websocket.MessageBinary {
		if r.zr == nil {
			r.zr, err = gzip.NewReader(bytes.NewReader(data))
		} else {
			err = r.zr.Reset(bytes.NewReader(data))
		}
		if err != nil {
			return m, err
		}
		r.zb.Reset()
		if _, err := io.Copy(&r.zb, r.zr); err != nil {
			return m, err
		}
		data = r.zb.Bytes()
	}
	err = json.Unmarshal(data, &m)
	return m, err
}

func (r *rawConn) expect(ctx context.Context, typ string) (rawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := r.read(ctx)
	if err == nil && m.Type != typ {
		err = fmt.Errorf("got a %q message, want %q", m.Type, typ)
	}
	return m, err
}

func (r *rawConn) Close() { r.ws.CloseNow() }
