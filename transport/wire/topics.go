package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Topic routes (PROTOCOL.md §6). Both take a Bearer token of a service,
// dba or system user.
const (
	PathTopicsConsume = "/v1/api/topics/consume"
	PathTopicsAck     = "/v1/api/topics/ack"
)

// Topic error codes (the "code" of the topic envelope {"error","code"}).
const (
	TopicCodeForbidden = "FORBIDDEN"
	TopicCodeNotFound  = "NOT_FOUND"
	TopicCodeInternal  = "INTERNAL_ERROR"
)

// Topic operations as a message's "op" names them.
const (
	TopicOpInsert = "Insert"
	TopicOpUpdate = "Update"
	TopicOpDelete = "Delete"
)

// StartKind says where a group without a committed offset starts reading.
type StartKind uint8

// Start kinds. The zero value is StartLatest, KalamDB's default.
const (
	StartLatest StartKind = iota
	StartEarliest
	StartOffset
)

// TopicStart is the "start" of a consume request: "Latest", "Earliest" or
// {"Offset": n}. It applies only while the group has no committed offset
// for the partition.
type TopicStart struct {
	Kind   StartKind
	Offset uint64 // StartOffset only
}

// MarshalJSON writes "Latest", "Earliest" or {"Offset":n}.
func (s TopicStart) MarshalJSON() ([]byte, error) {
	switch s.Kind {
	case StartLatest:
		return []byte(`"Latest"`), nil
	case StartEarliest:
		return []byte(`"Earliest"`), nil
	case StartOffset:
		return []byte(`{"Offset":` + strconv.FormatUint(s.Offset, 10) + `}`), nil
	}
	return nil, errors.New("wire: unknown topic start kind")
}

// UnmarshalJSON accepts the strings case-insensitively and the object with
// "Offset" or "offset" holding a non-negative integer.
func (s *TopicStart) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		switch strings.ToLower(str) {
		case "latest":
			*s = TopicStart{Kind: StartLatest}
		case "earliest":
			*s = TopicStart{Kind: StartEarliest}
		default:
			return errors.New("unknown variant, expected `Latest`, `Earliest` or `Offset`")
		}
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || len(obj) != 1 {
		return errors.New("invalid start, expected a string or {\"Offset\": n}")
	}
	raw, ok := obj["Offset"]
	if !ok {
		raw, ok = obj["offset"]
	}
	if !ok {
		return errors.New("unknown variant, expected `Latest`, `Earliest` or `Offset`")
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil {
		return errors.New("invalid offset, expected a non-negative integer")
	}
	*s = TopicStart{Kind: StartOffset, Offset: n}
	return nil
}

// ConsumeRequest is the body of POST /v1/api/topics/consume. Limit 0 means
// the default, 100. TimeoutSeconds is accepted and ignored by KalamDB.
type ConsumeRequest struct {
	TopicID        string     `json:"topic_id"`
	GroupID        string     `json:"group_id"`
	Start          TopicStart `json:"start"`
	Limit          uint32     `json:"limit,omitempty"`
	PartitionID    uint32     `json:"partition_id"`
	TimeoutSeconds uint64     `json:"timeout_seconds,omitempty"`
}

// TopicMessage is one message of a consume response. Payload travels as
// standard base64 (encoding/json's []byte form); it holds the row as JSON
// in the source's payload mode.
type TopicMessage struct {
	TopicID     string  `json:"topic_id"`
	PartitionID uint32  `json:"partition_id"`
	Offset      uint64  `json:"offset"`
	Payload     []byte  `json:"payload"`
	Key         *string `json:"key"`
	TimestampMs int64   `json:"timestamp_ms"`
	User        string  `json:"user,omitempty"`
	Op          string  `json:"op"`
}

// ConsumeResponse is the 200 answer of /topics/consume. NextOffset is the
// last message's offset + 1, or the start offset when there are none;
// HasMore means the page came back full.
type ConsumeResponse struct {
	Messages   []TopicMessage `json:"messages"`
	NextOffset uint64         `json:"next_offset"`
	HasMore    bool           `json:"has_more"`
}

// AckRequest is the body of POST /v1/api/topics/ack: the group has
// processed every offset up to and including UptoOffset.
type AckRequest struct {
	TopicID     string `json:"topic_id"`
	GroupID     string `json:"group_id"`
	PartitionID uint32 `json:"partition_id"`
	UptoOffset  uint64 `json:"upto_offset"`
}

// AckResponse is the 200 answer of /topics/ack.
type AckResponse struct {
	Success            bool   `json:"success"`
	AcknowledgedOffset uint64 `json:"acknowledged_offset"`
}

// TopicErrorBody is the error envelope of the topic routes.
type TopicErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}
