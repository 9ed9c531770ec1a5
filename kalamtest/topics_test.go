package kalamtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const svcPW = "svc-Secret-1!"

// startTopicServer is startServer with a service user "svc" and the topic
// app.orders_feed fed by inserts into app.orders (full payload).
func startTopicServer(t *testing.T, mut func(*Config)) *Server {
	t.Helper()
	srv := startServer(t, func(c *Config) {
		c.Users = append(c.Users, User{Name: "svc", Password: svcPW, Role: "service"})
		if mut != nil {
			mut(c)
		}
	})
	mustExec(t, srv, "root", "CREATE TOPIC app.orders_feed")
	mustExec(t, srv, "root", "ALTER TOPIC app.orders_feed ADD SOURCE app.orders ON INSERT")
	return srv
}

type consumed struct {
	Messages []struct {
		TopicID     string  `json:"topic_id"`
		PartitionID uint32  `json:"partition_id"`
		Offset      uint64  `json:"offset"`
		Payload     string  `json:"payload"`
		Key         *string `json:"key"`
		TimestampMs int64   `json:"timestamp_ms"`
		User        string  `json:"user"`
		Op          string  `json:"op"`
	} `json:"messages"`
	NextOffset uint64 `json:"next_offset"`
	HasMore    bool   `json:"has_more"`
}

func (c *client) consume(token string, body map[string]any) (response, consumed) {
	c.t.Helper()
	r := c.postJSON("/v1/api/topics/consume", body, "Authorization", "Bearer "+token)
	var out consumed
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &out); err != nil {
			c.t.Fatalf("consume answer %s: %v", r.Body, err)
		}
	}
	return r, out
}

func (c *client) ack(token, group string, upto uint64) response {
	c.t.Helper()
	return c.postJSON("/v1/api/topics/ack", map[string]any{"topic_id": "app.orders_feed", "group_id": group,
		"partition_id": 0, "upto_offset": upto}, "Authorization", "Bearer "+token)
}

func offsets(c consumed) []uint64 {
	var out []uint64
	for _, m := range c.Messages {
		out = append(out, m.Offset)
	}
	return out
}

func wantOffsets(t *testing.T, c consumed, from, n int) {
	t.Helper()
	got := offsets(c)
	if len(got) != n {
		t.Fatalf("offsets %v, want %d from %d", got, n, from)
	}
	for i, o := range got {
		if o != uint64(from+i) {
			t.Fatalf("offsets %v, want %d from %d", got, n, from)
		}
	}
}

func topicErr(t *testing.T, r response, status int, code string) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.JSON(t)
	if keys(m) != "code,error" || m["code"] != code {
		t.Fatalf("topic envelope %s, want code %s", r.Body, code)
	}
	return m["error"].(string)
}

func TestTopicConsumeAckRoundTrip(t *testing.T) {
	srv := startTopicServer(t, nil)
	c := newClient(t, srv)
	tok, _ := c.login("svc", svcPW)
	insertOrders(t, srv, 1, 3)

	r, page := c.consume(tok, map[string]any{"topic_id": "app.orders_feed", "group_id": "g", "start": "Earliest", "limit": 2})
	if r.Status != http.StatusOK {
		t.Fatalf("consume: %d %s", r.Status, r.Body)
	}
	wantOffsets(t, page, 0, 2)
	if !page.HasMore || page.NextOffset != 2 {
		t.Fatalf("has_more %v next_offset %d, want true 2", page.HasMore, page.NextOffset)
	}
	m := page.Messages[0]
	if m.TopicID != "app.orders_feed" || m.Op != "Insert" || m.User != "alice" || m.Key != nil || m.TimestampMs == 0 {
		t.Fatalf("message %+v", m)
	}
	raw, err := base64.StdEncoding.DecodeString(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, raw, `{"id":"1","status":"open","_table":"app.orders"}`)

	// The claim keeps the next poll from handing out offsets 0-1 again.
	_, page = c.consume(tok, map[string]any{"topic_id": "app.orders_feed", "group_id": "g", "start": "earliest"})
	wantOffsets(t, page, 2, 1)
	if page.HasMore {
		t.Fatal("has_more on a short page")
	}
	r = c.ack(tok, "g", 2)
	if r.Status != http.StatusOK {
		t.Fatalf("ack: %d %s", r.Status, r.Body)
	}
	wantJSON(t, r.Body, `{"success":true,"acknowledged_offset":2}`)

	// Nothing left; next_offset is the start offset (acked + 1).
	_, page = c.consume(tok, map[string]any{"topic_id": "app.orders_feed", "group_id": "g"})
	if len(page.Messages) != 0 || page.NextOffset != 3 || page.HasMore {
		t.Fatalf("empty page %+v", page)
	}
	// Another group starts where it is told.
	_, page = c.consume(tok, map[string]any{"topic_id": "app.orders_feed", "group_id": "h", "start": map[string]any{"Offset": 1}})
	wantOffsets(t, page, 1, 2)
	_, page = c.consume(tok, map[string]any{"topic_id": "app.orders_feed", "group_id": "l", "start": "Latest"})
	if len(page.Messages) != 0 || page.NextOffset != 3 {
		t.Fatalf("latest page %+v", page)
	}
	insertOrders(t, srv, 10, 1)
	_, page = c.consume(tok, map[string]any{"topic_id": "app.orders_feed", "group_id": "l", "start": "Latest"})
	wantOffsets(t, page, 3, 1)
}

func TestTopicClaimExpiresWithoutAck(t *testing.T) {
	srv := startTopicServer(t, nil)
	srv.SetTopicVisibility(50 * time.Millisecond)
	c := newClient(t, srv)
	tok, _ := c.login("svc", svcPW)
	insertOrders(t, srv, 1, 4)
	_, page := c.consume(tok, map[string]any{"topic_id": "app.orders_feed", "group_id": "g", "start": "Earliest"})
	wantOffsets(t, page, 0, 4)
	if r := c.ack(tok, "g", 1); r.Status != http.StatusOK {
		t.Fatalf("ack %d %s", r.Status, r.Body)
	}
	// Offsets 2-3 were handed out and not acknowledged: once the claim
	// expires they come again, and 0-1 never do.
	eventually(t, "redelivery after the visibility timeout", func() bool {
		_, page = c.consume(tok, map[string]any{"topic_id": "app.orders_feed", "group_id": "g"})
		return len(page.Messages) > 0
	})
	wantOffsets(t, page, 2, 2)
}

func TestTopicRoutesErrors(t *testing.T) {
	srv := startTopicServer(t, nil)
	c := newClient(t, srv)
	svc, _ := c.login("svc", svcPW)
	alice, _ := c.login("alice", alicePW)
	dana, _ := c.login("dana", danaPW)
	body := map[string]any{"topic_id": "app.orders_feed", "group_id": "g"}

	r, _ := c.consume(alice, body)
	if msg := topicErr(t, r, http.StatusForbidden, "FORBIDDEN"); msg != "Topic consumption requires service, dba, or system role" {
		t.Fatalf("message %q", msg)
	}
	if msg := topicErr(t, c.ack(alice, "g", 0), http.StatusForbidden, "FORBIDDEN"); msg != "Topic acknowledgment requires service, dba, or system role" {
		t.Fatalf("message %q", msg)
	}
	if r, _ := c.consume(dana, body); r.Status != http.StatusOK {
		t.Fatalf("dba consume: %d %s", r.Status, r.Body)
	}
	r, _ = c.consume(svc, map[string]any{"topic_id": "app.nope", "group_id": "g"})
	if msg := topicErr(t, r, http.StatusNotFound, "NOT_FOUND"); msg != "Topic 'app.nope' does not exist" {
		t.Fatalf("message %q", msg)
	}
	r = c.postJSON("/v1/api/topics/ack", map[string]any{"topic_id": "app.nope", "group_id": "g", "upto_offset": 1}, "Authorization", "Bearer "+svc)
	topicErr(t, r, http.StatusNotFound, "NOT_FOUND")

	// Bad offsets and bodies: the JSON extractor's plain-text 400.
	for _, b := range []map[string]any{
		{"topic_id": "app.orders_feed", "group_id": "g", "start": map[string]any{"Offset": -1}},
		{"topic_id": "app.orders_feed", "group_id": "g", "start": map[string]any{"Offset": "x"}},
		{"topic_id": "app.orders_feed", "group_id": "g", "start": "Middle"},
		{"topic_id": "app.orders_feed"},
		{"group_id": "g"},
	} {
		r, _ := c.consume(svc, b)
		if r.Status != http.StatusBadRequest || !strings.HasPrefix(string(r.Body), "Json deserialize error") {
			t.Fatalf("consume %v: %d %s", b, r.Status, r.Body)
		}
	}
	r = c.postJSON("/v1/api/topics/ack", map[string]any{"topic_id": "app.orders_feed", "group_id": "g", "upto_offset": -3}, "Authorization", "Bearer "+svc)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("negative ack offset: %d %s", r.Status, r.Body)
	}
	r = c.postJSON("/v1/api/topics/ack", map[string]any{"topic_id": "app.orders_feed", "group_id": "g"}, "Authorization", "Bearer "+svc)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "upto_offset") {
		t.Fatalf("missing upto_offset: %d %s", r.Status, r.Body)
	}
	r = c.request(http.MethodPost, "/v1/api/topics/consume", `{"topic_id":"app.orders_feed","group_id":"g"}`, "Authorization", "Bearer "+svc)
	if r.Status != http.StatusBadRequest || string(r.Body) != "Content type error" {
		t.Fatalf("no content type: %d %s", r.Status, r.Body)
	}

	// Authentication fails as on /v1/api/sql.
	r, _ = c.consume("", body)
	if code := sqlError(t, r, http.StatusUnauthorized); code != "INVALID_CREDENTIALS" {
		t.Fatalf("empty bearer: %s", code)
	}
	srv.ExpireAccessTokens()
	r, _ = c.consume(svc, body)
	if code := sqlError(t, r, http.StatusUnauthorized); code != "TOKEN_EXPIRED" {
		t.Fatalf("expired token: %s", code)
	}
	if code := sqlError(t, c.ack(svc, "g", 0), http.StatusUnauthorized); code != "TOKEN_EXPIRED" {
		t.Fatalf("expired token on ack: %s", code)
	}
}

func TestTopicFaultHooks(t *testing.T) {
	srv := startTopicServer(t, nil)
	c := newClient(t, srv)
	svc, _ := c.login("svc", svcPW)
	insertOrders(t, srv, 1, 2)
	body := map[string]any{"topic_id": "app.orders_feed", "group_id": "g", "start": "Earliest"}

	srv.ExpireTopicTokens(1)
	r, _ := c.consume(svc, body)
	if code := sqlError(t, r, http.StatusUnauthorized); code != "TOKEN_EXPIRED" {
		t.Fatalf("expired: %s", code)
	}
	r, _ = c.consume(svc, body) // it stays expired
	if code := sqlError(t, r, http.StatusUnauthorized); code != "TOKEN_EXPIRED" {
		t.Fatalf("expired token reused: %s", code)
	}
	svc, _ = c.login("svc", svcPW)
	_, page := c.consume(svc, body) // the fault fired once: a new token works
	wantOffsets(t, page, 0, 2)

	// A failed commit records nothing: the claim stays, the offset does not move.
	srv.FailTopicCommits(1, false)
	topicErr(t, c.ack(svc, "g", 0), http.StatusInternalServerError, "INTERNAL_ERROR")
	mustNoAck(t, srv, "g")
	// An applied failure records the offset but loses the answer.
	srv.FailTopicCommits(1, true)
	topicErr(t, c.ack(svc, "g", 1), http.StatusInternalServerError, "INTERNAL_ERROR")
	res := mustExec(t, srv, "root", "CONSUME FROM app.orders_feed GROUP 'g'")
	if res.Results[0].RowCount != 0 {
		t.Fatalf("after an applied ack: %d rows", res.Results[0].RowCount)
	}

	srv.SlowTopicPolls(150 * time.Millisecond)
	start := time.Now()
	if r, _ := c.consume(svc, body); r.Status != http.StatusOK {
		t.Fatalf("slow poll: %d", r.Status)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("slow poll answered after %v", el)
	}
	srv.SlowTopicPolls(0)
}

// mustNoAck checks that group has no acknowledged offset: with claims
// expiring at once, a consume from EARLIEST starts at offset 0 only when
// nothing was acknowledged.
func mustNoAck(t *testing.T, srv *Server, group string) {
	t.Helper()
	srv.SetTopicVisibility(time.Nanosecond)
	defer srv.SetTopicVisibility(0)
	res := mustExec(t, srv, "root", "CONSUME FROM app.orders_feed GROUP '"+group+"' FROM EARLIEST")
	if res.Results[0].RowCount == 0 || string(res.Results[0].Rows[0][2]) != "0" {
		t.Fatalf("group %s has an acknowledged offset: %+v", group, res.Results[0].Rows)
	}
}

func TestTopicSQL(t *testing.T) {
	srv := startTopicServer(t, nil)
	mustExec(t, srv, "root", "CREATE SHARED TABLE app.items (id BIGINT PRIMARY KEY, name TEXT, qty INT)")
	mustExec(t, srv, "root", "CREATE TOPIC items PARTITIONS 2")
	mustExec(t, srv, "root", "ALTER TOPIC items ADD SOURCE app.items ON INSERT WHERE qty > 5 WITH (payload = 'key')")
	mustExec(t, srv, "root", "ALTER TOPIC items ADD SOURCE app.items ON UPDATE WITH (payload = 'diff')")
	mustExec(t, srv, "root", "ALTER TOPIC items ADD SOURCE app.items ON DELETE")
	mustExec(t, srv, "root", "INSERT INTO app.items (id, name, qty) VALUES (1, 'a', 1), (2, 'b', 9), (3, 'c', 7), (4, 'd', 8)")
	mustExec(t, srv, "root", "UPDATE app.items SET qty = 2 WHERE id = 1")
	mustExec(t, srv, "root", "DELETE FROM app.items WHERE id = 2")

	var all []string
	for _, p := range []string{"0", "1"} {
		res := mustExec(t, srv, "svc", "CONSUME FROM items GROUP 'w' PARTITION "+p+" FROM EARLIEST LIMIT 50")
		qr := res.Results[0]
		if len(qr.Schema) != 8 || qr.Schema[4].Name != "payload" {
			t.Fatalf("schema %+v", qr.Schema)
		}
		for _, row := range qr.Rows {
			var op, b64 string
			_ = json.Unmarshal(row[7], &op)
			_ = json.Unmarshal(row[4], &b64)
			raw, _ := base64.StdEncoding.DecodeString(b64)
			all = append(all, op+" "+string(raw))
		}
	}
	want := []string{
		`Insert {"id":"2","name":"b","qty":9}`, `Insert {"id":"3","name":"c","qty":7}`, `Insert {"id":"4","name":"d","qty":8}`,
		`Update {"id":"1","name":"a","qty":2,"_table":"app.items"}`,
		`Delete {"id":"2","name":"b","qty":9,"_table":"app.items"}`,
	}
	if len(all) != len(want) {
		t.Fatalf("messages %q, want %q", all, want)
	}
	for _, w := range want {
		found := false
		for _, a := range all {
			found = found || a == w
		}
		if !found {
			t.Fatalf("messages %q lack %q", all, w)
		}
	}

	res := mustExec(t, srv, "svc", "ACK items GROUP 'w' PARTITION 1 UPTO OFFSET 0")
	if !strings.Contains(res.Results[0].Message, "Acknowledged offset 0") {
		t.Fatalf("ack message %q", res.Results[0].Message)
	}
	mustExec(t, srv, "root", "DROP TOPIC items")
	for _, tc := range []struct{ user, sql, code string }{
		{"svc", "CONSUME FROM items", "NOT_FOUND"},
		{"root", "DROP TOPIC items", "NOT_FOUND"},
		{"alice", "CONSUME FROM app.orders_feed", "PERMISSION_DENIED"},
		{"alice", "ACK app.orders_feed GROUP 'g' UPTO OFFSET 1", "PERMISSION_DENIED"},
		{"svc", "CREATE TOPIC x", "PERMISSION_DENIED"},
		{"root", "CREATE TOPIC app.orders_feed", "SQL_EXECUTION_ERROR"},
		{"root", "CREATE TOPIC x PARTITIONS 0", "SQL_EXECUTION_ERROR"},
		{"root", "ALTER TOPIC app.orders_feed ADD SOURCE app.nope ON INSERT", "SQL_EXECUTION_ERROR"},
		{"root", "ALTER TOPIC app.orders_feed ADD SOURCE app.orders ON UPSERT", "INVALID_SQL"},
		{"root", "ALTER TOPIC app.orders_feed ADD SOURCE app.orders ON DELETE WITH (payload = 'huge')", "INVALID_SQL"},
		{"root", "ALTER TOPIC app.orders_feed ADD SOURCE app.orders ON INSERT", "SQL_EXECUTION_ERROR"},
		{"svc", "CONSUME FROM app.orders_feed FROM -1", "INVALID_SQL"},
		{"svc", "ACK app.orders_feed GROUP 'g' UPTO OFFSET x", "INVALID_SQL"},
		{"root", "CREATE TOPIC y; SELECT 1", "INVALID_SQL"},
	} {
		_, err := srv.Exec(context.Background(), tc.user, tc.sql)
		if err == nil || !strings.Contains(err.Error(), tc.code) {
			t.Errorf("%s as %s: %v, want %s", tc.sql, tc.user, err, tc.code)
		}
	}
}

func TestTopicOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	mut := func(c *Config) { c.DataDir = dir }
	srv := startTopicServer(t, mut)
	c := newClient(t, srv)
	svc, _ := c.login("svc", svcPW)
	insertOrders(t, srv, 1, 5)
	_, page := c.consume(svc, map[string]any{"topic_id": "app.orders_feed", "group_id": "g", "start": "Earliest", "limit": 3})
	wantOffsets(t, page, 0, 3)
	if r := c.ack(svc, "g", 2); r.Status != http.StatusOK {
		t.Fatalf("ack: %d", r.Status)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := Config{RootPassword: rootPW, JWTSecret: testSecret, DataDir: dir}
	srv2 := NewServer(t, cfg)
	c2 := newClient(t, srv2)
	svc2, _ := c2.login("svc", svcPW)
	_, page = c2.consume(svc2, map[string]any{"topic_id": "app.orders_feed", "group_id": "g", "start": "Earliest"})
	wantOffsets(t, page, 3, 2)
	// The source is still wired: new rows get the next offsets.
	insertOrders(t, srv2, 100, 1)
	_, page = c2.consume(svc2, map[string]any{"topic_id": "app.orders_feed", "group_id": "g"})
	wantOffsets(t, page, 5, 1)
	if got := srv2.Topics(); len(got) != 1 || got[0].ID != "app.orders_feed" || len(got[0].Sources) != 1 {
		t.Fatalf("topics after restart %+v", got)
	}
}

func TestTopicAdminRoutes(t *testing.T) {
	srv := startTopicServer(t, nil)
	c := newClient(t, srv)
	svc, _ := c.login("svc", svcPW)
	insertOrders(t, srv, 1, 1)

	admin := func(method, path, body string) response {
		t.Helper()
		return c.request(method, path, body, "Content-Type", "application/json", AdminTokenHeader, srv.AdminToken())
	}
	r := admin(http.MethodGet, "/_kalamtest/topics", "")
	wantJSON(t, r.Body, `[{"id":"app.orders_feed","partitions":1,"sources":["app.orders ON INSERT full"]}]`)
	for path, body := range map[string]string{
		"/_kalamtest/faults/topic-commit-failures": `{"count":-1}`,
		"/_kalamtest/faults/topic-slow-polls":      `{"delay":"soon"}`,
		"/_kalamtest/faults/topic-token-expiry":    `{"count":1,"extra":true}`,
		"/_kalamtest/topics/visibility":            `{"timeout":"-1s"}`,
	} {
		if r := admin(http.MethodPost, path, body); r.Status != http.StatusBadRequest {
			t.Fatalf("%s %s: %d %s", path, body, r.Status, r.Body)
		}
	}
	if r := admin(http.MethodPost, "/_kalamtest/faults/topic-commit-failures", `{"count":1}`); r.Status != http.StatusOK {
		t.Fatalf("commit failures: %d %s", r.Status, r.Body)
	}
	c.consume(svc, map[string]any{"topic_id": "app.orders_feed", "group_id": "g", "start": "Earliest"})
	topicErr(t, c.ack(svc, "g", 0), http.StatusInternalServerError, "INTERNAL_ERROR")
	if r := c.ack(svc, "g", 0); r.Status != http.StatusOK {
		t.Fatalf("ack after the fault: %d %s", r.Status, r.Body)
	}
	if r := admin(http.MethodPost, "/_kalamtest/faults/topic-token-expiry", `{"count":1}`); r.Status != http.StatusOK {
		t.Fatalf("token expiry: %d %s", r.Status, r.Body)
	}
	if code := sqlError(t, c.ack(svc, "g", 0), http.StatusUnauthorized); code != "TOKEN_EXPIRED" {
		t.Fatalf("after the token fault: %s", code)
	}
	if r := admin(http.MethodPost, "/_kalamtest/faults/topic-slow-polls", `{"delay":"0s"}`); r.Status != http.StatusOK {
		t.Fatalf("slow polls: %d %s", r.Status, r.Body)
	}
	if r := admin(http.MethodPost, "/_kalamtest/topics/visibility", `{"timeout":"2s"}`); r.Status != http.StatusOK {
		t.Fatalf("visibility: %d %s", r.Status, r.Body)
	}
}
