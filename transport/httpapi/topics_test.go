//go:build !js

package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/httpapi"
	"github.com/kalamgo/kalam/transport/wire"
)

func TestConsumeAndAck(t *testing.T) {
	var paths, bodies []string
	c, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		paths = append(paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		bodies = append(bodies, string(b))
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == wire.PathTopicsAck {
			_, _ = io.WriteString(w, `{"success":true,"acknowledged_offset":10}`)
			return
		}
		_, _ = io.WriteString(w, `{"messages":[{"topic_id":"app.t","partition_id":0,"offset":10,"payload":"eyJpZCI6IjEifQ==",`+
			`"key":null,"timestamp_ms":1778000000000,"op":"Insert"}],"next_offset":11,"has_more":true}`)
	})
	ctx := context.Background()
	tok := auth.NewSecret(accessA1)
	r, err := c.Consume(ctx, tok, wire.ConsumeRequest{TopicID: "app.t", GroupID: "g", Start: wire.TopicStart{Kind: wire.StartEarliest}, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Messages) != 1 || string(r.Messages[0].Payload) != `{"id":"1"}` || r.NextOffset != 11 || !r.HasMore {
		t.Fatalf("consume %+v", r)
	}
	a, err := c.Ack(ctx, tok, wire.AckRequest{TopicID: "app.t", GroupID: "g", UptoOffset: 10})
	if err != nil || a.AcknowledgedOffset != 10 {
		t.Fatalf("ack %+v %v", a, err)
	}
	if paths[0] != "POST /v1/api/topics/consume Bearer "+accessA1 || !strings.HasPrefix(paths[1], "POST /v1/api/topics/ack ") {
		t.Fatalf("requests %q", paths)
	}
	var got map[string]any
	_ = json.Unmarshal([]byte(bodies[0]), &got)
	if got["start"] != "Earliest" || got["limit"] != 5.0 || got["topic_id"] != "app.t" {
		t.Fatalf("consume body %s", bodies[0])
	}
}

func TestTopicErrors(t *testing.T) {
	ctx := context.Background()
	tok := auth.NewSecret(accessA1)
	for _, tc := range []struct {
		status     int
		body, code string
		rejected   bool
	}{
		{403, `{"error":"Topic consumption requires service, dba, or system role","code":"FORBIDDEN"}`, "FORBIDDEN", false},
		{404, `{"error":"Topic 'app.x' does not exist","code":"NOT_FOUND"}`, "NOT_FOUND", false},
		{500, `{"error":"Failed to acknowledge offset: disk","code":"INTERNAL_ERROR"}`, "INTERNAL_ERROR", false},
		{401, `{"status":"error","results":[],"took":0.1,"error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"}}`, "TOKEN_EXPIRED", true},
	} {
		c, _ := server(t, reply(tc.status, "application/json", tc.body))
		_, err := c.Consume(ctx, tok, wire.ConsumeRequest{TopicID: "app.x", GroupID: "g"})
		var he *httpapi.Error
		if !errors.As(err, &he) || he.Status != tc.status || he.Code != tc.code || errors.Is(err, auth.ErrRejected) != tc.rejected {
			t.Fatalf("%d: %v", tc.status, err)
		}
		if _, err := c.Ack(ctx, tok, wire.AckRequest{TopicID: "app.x", GroupID: "g"}); !errors.As(err, &he) || he.Code != tc.code {
			t.Fatalf("ack %d: %v", tc.status, err)
		}
	}
	c, _ := server(t, reply(200, "application/json", `{"success":false,"acknowledged_offset":0}`))
	if _, err := c.Ack(ctx, tok, wire.AckRequest{TopicID: "app.x", GroupID: "g"}); !errors.Is(err, httpapi.ErrMalformedResponse) {
		t.Fatalf("success false: %v", err)
	}
	c, _ = server(t, reply(200, "application/json", `[1,2]`))
	if _, err := c.Consume(ctx, tok, wire.ConsumeRequest{TopicID: "app.x", GroupID: "g"}); !errors.Is(err, httpapi.ErrMalformedResponse) {
		t.Fatalf("not an object: %v", err)
	}
}
