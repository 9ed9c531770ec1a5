package wire

import (
	"encoding/json"
	"errors"
)

// Default decoder limits. The official Rust client caps binary frames at
// 16 MiB and their inflated form at 64 MiB; we keep the same ceilings.
const (
	DefaultMaxFrame    = 16 << 20
	DefaultMaxInflated = 64 << 20
)

// CompressThreshold is the payload size from which the server gzips a frame.
const CompressThreshold = 512

// IsGzip reports whether b starts with the gzip magic bytes 1f 8b.
func IsGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// Decoder turns server frames into messages. The zero value uses the default
// limits. A Decoder reuses its inflate state; it is not safe for concurrent
// use.
type Decoder struct {
	// MaxFrame caps the size of a frame as received. Zero means DefaultMaxFrame.
	MaxFrame int64
	// MaxInflated caps the decompressed size of a gzip frame. Zero means
	// DefaultMaxInflated.
	MaxInflated int64

	inflater // gzip state; none in the browser build (see inflate_js.go)
}

// Payload returns the JSON payload of a frame: text frames as they are,
// binary frames gunzipped when they carry the gzip magic. The returned slice
// may alias the decoder's buffer until the next call.
func (d *Decoder) Payload(binary bool, frame []byte) ([]byte, error) {
	maxFrame := d.MaxFrame
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	if int64(len(frame)) > maxFrame {
		return nil, &sizeError{what: "frame", limit: maxFrame}
	}
	if !binary || !IsGzip(frame) {
		return frame, nil
	}
	maxInf := d.MaxInflated
	if maxInf <= 0 {
		maxInf = DefaultMaxInflated
	}
	return d.inflate(frame, maxInf)
}

// Decode decodes one server frame. binary says whether it arrived as a binary
// WebSocket frame. The message does not alias frame.
func (d *Decoder) Decode(binary bool, frame []byte) (*ServerMessage, error) {
	p, err := d.Payload(binary, frame)
	if err != nil {
		return nil, err
	}
	m := new(ServerMessage)
	if err := DecodeServer(p, m); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeServer decodes a JSON server message into m and checks the fields its
// type requires. The rows it fills in do not alias payload.
//
// Live changes, initial batches and errors are read by a reflection-free
// scanner; any payload outside the shapes it handles goes through
// encoding/json, with the same result.
func DecodeServer(payload []byte, m *ServerMessage) error {
	*m = ServerMessage{}
	if decodeServerFast(payload, m) {
		return m.Validate()
	}
	return decodeServerStd(payload, m)
}

// decodeServerStd is DecodeServer through encoding/json alone.
func decodeServerStd(payload []byte, m *ServerMessage) error {
	*m = ServerMessage{}
	if err := json.Unmarshal(payload, m); err != nil {
		return jsonError("server message", err)
	}
	return m.Validate()
}

// Validate checks that the fields m.Type requires are present and well
// formed. Unknown types give an error wrapping ErrUnknownType.
func (m *ServerMessage) Validate() error {
	switch m.Type {
	case TypeAuthSuccess, TypeAuthError:
		return nil
	case TypeSubscriptionAck:
		if m.SubscriptionID == "" {
			return &DecodeError{Reason: "subscription_ack without subscription_id"}
		}
		if m.BatchControl == nil {
			return &DecodeError{Reason: "subscription_ack without batch_control"}
		}
	case TypeInitialDataBatch:
		if m.SubscriptionID == "" {
			return &DecodeError{Reason: "initial_data_batch without subscription_id"}
		}
		if m.BatchControl == nil {
			return &DecodeError{Reason: "initial_data_batch without batch_control"}
		}
	case TypeChange:
		if m.SubscriptionID == "" {
			return &DecodeError{Reason: "change without subscription_id"}
		}
		switch m.ChangeType {
		case ChangeInsert:
			if len(m.Rows) == 0 {
				return &DecodeError{Reason: "insert change without rows"}
			}
		case ChangeUpdate:
			if len(m.Rows) == 0 {
				return &DecodeError{Reason: "update change without rows"}
			}
		case ChangeDelete:
			if len(m.OldValues) == 0 {
				return &DecodeError{Reason: "delete change without old_values"}
			}
		default:
			return &DecodeError{Reason: "unknown change_type " + quoteShort([]byte(m.ChangeType))}
		}
	case TypeError:
		return nil
	case "":
		return &DecodeError{Reason: "message without type"}
	default:
		return &DecodeError{Reason: "message type " + quoteShort([]byte(m.Type)), Err: ErrUnknownType}
	}
	return nil
}

// DecodeClient decodes a client message (the server's side of the protocol).
func DecodeClient(payload []byte) (*ClientMessage, error) {
	m := new(ClientMessage)
	if err := json.Unmarshal(payload, m); err != nil {
		return nil, jsonError("client message", err)
	}
	switch m.Type {
	case TypeAuthenticate:
		if m.Protocol == nil {
			return nil, &DecodeError{Reason: "authenticate: missing field `protocol`"}
		}
		if m.Method != "jwt" {
			return nil, &DecodeError{Reason: "authenticate: unknown method " + quoteShort([]byte(m.Method))}
		}
	case TypeSubscribe:
		if m.Subscription == nil {
			return nil, &DecodeError{Reason: "subscribe: missing field `subscription`"}
		}
	case TypeNextBatch, TypeUnsubscribe:
		// subscription_id may be blank; the server answers with an error.
	case TypePing:
	case "":
		return nil, &DecodeError{Reason: "missing field `type`"}
	default:
		return nil, &DecodeError{Reason: "unknown variant " + quoteShort([]byte(m.Type)), Err: ErrUnknownType}
	}
	return m, nil
}

// Encode marshals a message. It exists so callers never hand-build JSON.
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &DecodeError{Reason: "encode", Err: err}
	}
	return b, nil
}

// jsonError turns an encoding/json error into a DecodeError without quoting
// the input.
func jsonError(what string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &DecodeError{Reason: what + ": invalid JSON", Err: err}
	case errors.As(err, &te):
		return &DecodeError{Reason: what + ": field " + quoteShort([]byte(te.Field)) + " has the wrong type", Err: err}
	default:
		return &DecodeError{Reason: what, Err: err}
	}
}
