package httpapi

import (
	"encoding/json"

	"context"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/wire"
)

// Consume calls POST /v1/api/topics/consume with token. The server refuses
// callers whose role is not service, dba or system with an *Error of status
// 403 and code FORBIDDEN, an unknown topic with 404 NOT_FOUND; the 401s are
// those of SQL (TOKEN_EXPIRED matches auth.ErrTokenExpired).
func (c *Client) Consume(ctx context.Context, token auth.Secret, req wire.ConsumeRequest) (*wire.ConsumeResponse, error) {
	out := new(wire.ConsumeResponse)
	if err := c.topicCall(ctx, wire.PathTopicsConsume, token, req, out); err != nil {
		return nil, err
	}
	if out.Messages == nil {
		out.Messages = []wire.TopicMessage{}
	}
	return out, nil
}

// Ack calls POST /v1/api/topics/ack: the group processed every offset of
// the partition up to and including req.UptoOffset. Errors as for Consume.
func (c *Client) Ack(ctx context.Context, token auth.Secret, req wire.AckRequest) (*wire.AckResponse, error) {
	out := new(wire.AckResponse)
	if err := c.topicCall(ctx, wire.PathTopicsAck, token, req, out); err != nil {
		return nil, err
	}
	if !out.Success {
		return nil, &ResponseError{Path: wire.PathTopicsAck, Status: 200, Reason: "acknowledgment answered success false"}
	}
	return out, nil
}

func (c *Client) topicCall(ctx context.Context, path string, token auth.Secret, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return &encodeError{err}
	}
	resp, err := c.do(ctx, call{method: "POST", path: path, token: token, body: body, secrets: []auth.Secret{token}})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return &ResponseError{Path: path, Status: resp.status, Reason: "body is not a topic response", Err: err}
	}
	return nil
}
