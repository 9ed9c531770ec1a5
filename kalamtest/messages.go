package kalamtest

import (
	"github.com/kalamgo/kalam/transport/wire"
)

// Server messages whose keys must be written even when empty. wire.ServerMessage
// is one flat type with omitempty everywhere, which suits a decoder; these
// keep KalamDB's exact layout where presence matters.

// ackMessage is subscription_ack: total_rows (always 0), batch_control and
// schema are always present.
type ackMessage struct {
	Type           string             `json:"type"`
	SubscriptionID string             `json:"subscription_id"`
	TotalRows      int                `json:"total_rows"`
	BatchControl   wire.BatchControl  `json:"batch_control"`
	Schema         []wire.SchemaField `json:"schema"`
}

// batchMessage is initial_data_batch: rows is [] for an empty batch.
type batchMessage struct {
	Type           string            `json:"type"`
	SubscriptionID string            `json:"subscription_id"`
	Rows           []wire.Row        `json:"rows"`
	BatchControl   wire.BatchControl `json:"batch_control"`
}

// errorMessage is error: subscription_id is present even when blank.
type errorMessage struct {
	Type           string `json:"type"`
	SubscriptionID string `json:"subscription_id"`
	Code           string `json:"code"`
	Message        string `json:"message"`
}

// authSuccess and authError are the two auth replies.
type authSuccess struct {
	Type     string        `json:"type"`
	User     string        `json:"user"`
	Role     string        `json:"role"`
	Protocol wire.Protocol `json:"protocol"`
}

type authError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

func newAck(id string, bc wire.BatchControl, schema []wire.SchemaField) *ackMessage {
	if schema == nil {
		schema = []wire.SchemaField{}
	}
	return &ackMessage{Type: wire.TypeSubscriptionAck, SubscriptionID: id, BatchControl: bc, Schema: schema}
}

func newBatch(id string, rows []wire.Row, bc wire.BatchControl) *batchMessage {
	if rows == nil {
		rows = []wire.Row{}
	}
	return &batchMessage{Type: wire.TypeInitialDataBatch, SubscriptionID: id, Rows: rows, BatchControl: bc}
}

func newError(id, code, msg string) *errorMessage {
	return &errorMessage{Type: wire.TypeError, SubscriptionID: id, Code: code, Message: msg}
}

// batchControl builds the control block of batch n.
func batchControl(n uint32, hasMore bool, last *wire.SeqID) wire.BatchControl {
	status := wire.StatusReady
	switch {
	case hasMore && n == 0:
		status = wire.StatusLoading
	case hasMore:
		status = wire.StatusLoadingBatch
	}
	return wire.BatchControl{BatchNum: n, HasMore: hasMore, Status: status, LastSeqID: last}
}

// Close codes and reasons the server sends (PROTOCOL.md §4.10), plus the
// overflow close, which KalamDB does not have.
const (
	closeNormal            = 1000
	closeGoingAway         = 1001
	closePolicy            = 1008
	closeInternal          = 1011
	closeTryAgainLater     = 1013
	closeReasonShutdown    = "Server shutting down"
	closeReasonAuthFailed  = "Authentication failed"
	closeReasonAuthTimeout = "Authentication timeout"
	closeReasonIdle        = "Heartbeat timeout"
	closeReasonOverflow    = "Outgoing queue overflow"

	msgInvalidCredentials = "Invalid credentials"
	// KalamDB's text names 3 seconds whatever the configured timeout.
	msgAuthTimeout = "Authentication timeout - no auth message received within 3 seconds"
)
