package wire

import (
	"encoding/json"
)

// Client → server message types (the "type" tag).
const (
	TypeAuthenticate = "authenticate"
	TypeSubscribe    = "subscribe"
	TypeNextBatch    = "next_batch"
	TypeUnsubscribe  = "unsubscribe"
	TypePing         = "ping"
)

// Server → client message types (the "type" tag).
const (
	TypeAuthSuccess      = "auth_success"
	TypeAuthError        = "auth_error"
	TypeSubscriptionAck  = "subscription_ack"
	TypeInitialDataBatch = "initial_data_batch"
	TypeChange           = "change"
	TypeError            = "error"
)

// Change kinds carried in [ServerMessage.ChangeType].
const (
	ChangeInsert = "insert"
	ChangeUpdate = "update"
	ChangeDelete = "delete"
)

// Batch statuses carried in [BatchControl.Status].
const (
	StatusLoading      = "loading"
	StatusLoadingBatch = "loading_batch"
	StatusReady        = "ready"
)

// WebSocket error codes (the "code" of an error message).
const (
	CodeAuthRequired              = "AUTH_REQUIRED"
	CodeInvalidSubscriptionID     = "INVALID_SUBSCRIPTION_ID"
	CodeSubscriptionLimitExceeded = "SUBSCRIPTION_LIMIT_EXCEEDED"
	CodeUnauthorized              = "UNAUTHORIZED"
	CodeNotFound                  = "NOT_FOUND"
	CodeInvalidSQL                = "INVALID_SQL"
	CodeUnsupported               = "UNSUPPORTED"
	CodeSubscriptionFailed        = "SUBSCRIPTION_FAILED"
	CodeConversionError           = "CONVERSION_ERROR"
	CodeBatchFetchFailed          = "BATCH_FETCH_FAILED"
	CodeMessageTooLarge           = "MESSAGE_TOO_LARGE"
	CodeRateLimitExceeded         = "RATE_LIMIT_EXCEEDED"
	CodeUnsupportedData           = "UNSUPPORTED_DATA"
)

// Placeholder subscription ids the server uses on errors that belong to no
// subscription.
const (
	PlaceholderSubscribe           = "subscribe"
	PlaceholderInvalidSubscription = "invalid_subscription"
	PlaceholderProtocol            = "protocol"
	PlaceholderRateLimit           = "rate_limit"
)

// Close codes KalamDB uses on the WebSocket.
const (
	CloseNormal         = 1000 // asked for, or "Heartbeat timeout"
	CloseGoingAway      = 1001 // "Server shutting down"
	CloseAbnormal       = 1006 // no close frame (transport loss); never sent on the wire
	ClosePolicy         = 1008 // "Authentication failed" / "Authentication timeout"
	CloseInternalError  = 1011 // "Invalid message: …"
	CloseReasonAuthFail = "Authentication failed"
	CloseReasonAuthTime = "Authentication timeout"
	CloseReasonIdle     = "Heartbeat timeout"
	CloseReasonShutdown = "Server shutting down"
)

// Protocol is the serialization/compression pair of authenticate and
// auth_success. Both fields are required by the server.
type Protocol struct {
	Serialization string `json:"serialization"` // "json" or "msgpack"
	Compression   string `json:"compression"`   // "gzip" or "none" (informational; see PROTOCOL.md §4.3)
}

// DefaultProtocol is what this client always negotiates.
var DefaultProtocol = Protocol{Serialization: "json", Compression: "gzip"}

// SubscriptionOptions are the options of a subscribe request. A nil
// *SubscriptionOptions means "no initial load" on the server side; a non-nil
// value, even empty, asks for one.
type SubscriptionOptions struct {
	BatchSize *int   `json:"batch_size,omitempty"`
	LastRows  *int   `json:"last_rows,omitempty"`
	From      *SeqID `json:"from,omitempty"`
	// FromSeqID is the documented alias of From; the server accepts it on
	// input. Clients should send From.
	FromSeqID *SeqID `json:"from_seq_id,omitempty"`
}

// ResumeFrom returns From, or the alias FromSeqID when From is absent.
func (o *SubscriptionOptions) ResumeFrom() (SeqID, bool) {
	if o == nil {
		return 0, false
	}
	if o.From != nil {
		return *o.From, true
	}
	if o.FromSeqID != nil {
		return *o.FromSeqID, true
	}
	return 0, false
}

// SubscriptionRequest is the "subscription" object of a subscribe message.
type SubscriptionRequest struct {
	ID      string               `json:"id"`
	SQL     string               `json:"sql"`
	Options *SubscriptionOptions `json:"options,omitempty"`
}

// ClientMessage is any client → server message. Type selects which fields
// apply; the others are left zero and are not encoded.
//
//	authenticate: Method, Token, Protocol
//	subscribe:    Subscription
//	next_batch:   SubscriptionID, LastSeqID
//	unsubscribe:  SubscriptionID
//	ping:         nothing
type ClientMessage struct {
	Type           string               `json:"type"`
	Method         string               `json:"method,omitempty"`
	Token          string               `json:"token,omitempty"`
	Protocol       *Protocol            `json:"protocol,omitempty"`
	Subscription   *SubscriptionRequest `json:"subscription,omitempty"`
	SubscriptionID string               `json:"subscription_id,omitempty"`
	LastSeqID      *SeqID               `json:"last_seq_id,omitempty"`
}

// BatchControl is the paging state of an initial load.
type BatchControl struct {
	BatchNum uint32 `json:"batch_num"`
	HasMore  bool   `json:"has_more"`
	Status   string `json:"status"`
	// LastSeqID is the _seq of the batch's last row, nil for an empty batch.
	// The key is always written (null when empty).
	LastSeqID *SeqID `json:"last_seq_id"`
}

// ServerMessage is any server → client message, decoded into one flat value
// so a frame is parsed in one pass. Type selects which fields apply:
//
//	auth_success:       User, Role, Protocol
//	auth_error:         Message
//	subscription_ack:   SubscriptionID, TotalRows, BatchControl, Schema
//	initial_data_batch: SubscriptionID, Rows, BatchControl
//	change:             SubscriptionID, ChangeType, Rows (insert, update), OldValues (update, delete)
//	error:              SubscriptionID, Code, Message
type ServerMessage struct {
	Type           string        `json:"type"`
	User           string        `json:"user,omitempty"`
	Role           string        `json:"role,omitempty"`
	Protocol       *Protocol     `json:"protocol,omitempty"`
	SubscriptionID string        `json:"subscription_id,omitempty"`
	TotalRows      *int          `json:"total_rows,omitempty"`
	BatchControl   *BatchControl `json:"batch_control,omitempty"`
	Schema         []SchemaField `json:"schema,omitempty"`
	ChangeType     string        `json:"change_type,omitempty"`
	Rows           []Row         `json:"rows,omitempty"`
	OldValues      []Row         `json:"old_values,omitempty"`
	Code           string        `json:"code,omitempty"`
	Message        string        `json:"message,omitempty"`
}

// SchemaField describes one column of a result or subscription.
type SchemaField struct {
	Name     string   `json:"name"`
	DataType DataType `json:"data_type"`
	Index    int      `json:"index"`
	Flags    []string `json:"flags,omitempty"`
}

// DataType is a KalamDataType. Unit types are bare JSON strings ("BigInt");
// parameterised ones are objects ({"Embedding":384},
// {"Decimal":{"precision":10,"scale":2}}). Name holds the type name in both
// cases; Raw keeps the object form verbatim so it round-trips.
type DataType struct {
	Name string
	Raw  json.RawMessage // non-nil only for the object form
}

// Known data type names.
const (
	TypeBoolean   = "Boolean"
	TypeInt       = "Int"
	TypeSmallInt  = "SmallInt"
	TypeBigInt    = "BigInt"
	TypeDouble    = "Double"
	TypeFloat     = "Float"
	TypeText      = "Text"
	TypeTimestamp = "Timestamp"
	TypeDate      = "Date"
	TypeDateTime  = "DateTime"
	TypeTime      = "Time"
	TypeJSON      = "Json"
	TypeBytes     = "Bytes"
	TypeEmbedding = "Embedding"
	TypeUUID      = "Uuid"
	TypeDecimal   = "Decimal"
	TypeFile      = "File"
)

// MarshalJSON writes the bare-string form, or Raw for the object form.
func (d DataType) MarshalJSON() ([]byte, error) {
	if len(d.Raw) > 0 {
		return d.Raw, nil
	}
	return json.Marshal(d.Name)
}

// UnmarshalJSON accepts "Name" or {"Name": params}.
func (d *DataType) UnmarshalJSON(b []byte) error {
	b = trimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		d.Raw = nil
		return json.Unmarshal(b, &d.Name)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return &DecodeError{Reason: "data_type is neither a string nor an object", Err: err}
	}
	if len(obj) != 1 {
		return &DecodeError{Reason: "data_type object must have exactly one key"}
	}
	for k := range obj {
		d.Name = k
	}
	d.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// AuthenticateMessage encodes the authenticate message for token with the
// default protocol. The result holds the token: send it, never log it.
func AuthenticateMessage(token string) []byte {
	b, _ := json.Marshal(ClientMessage{Type: TypeAuthenticate, Method: "jwt", Token: token, Protocol: &DefaultProtocol})
	return b
}
