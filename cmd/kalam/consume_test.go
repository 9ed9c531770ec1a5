package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// topicFixture is the CLI fixture with the topic shop.changes fed by every
// insert, update and delete of shop.orders (its three seed rows came
// before the topic, so they are not messages). Unacknowledged claims lapse
// after 200 ms, so a group that committed nothing gets its messages again
// within a run.
func topicFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	for _, sql := range []string{
		"CREATE TOPIC shop.changes",
		"ALTER TOPIC shop.changes ADD SOURCE shop.orders ON INSERT",
		"ALTER TOPIC shop.changes ADD SOURCE shop.orders ON UPDATE",
		"ALTER TOPIC shop.changes ADD SOURCE shop.orders ON DELETE",
		"CREATE USER 'carol' WITH PASSWORD 'Carol-CLI-Pass-1' ROLE user",
	} {
		if _, err := f.srv.Exec(context.Background(), "root", sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	f.srv.SetTopicVisibility(200 * time.Millisecond)
	return f
}

func (f *fixture) write(t *testing.T, sqls ...string) {
	t.Helper()
	for _, sql := range sqls {
		if _, err := f.srv.Exec(context.Background(), "alice", sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// message is one line of kalam consume, decoded.
type message struct {
	Topic     string          `json:"topic"`
	Partition *uint32         `json:"partition"`
	Offset    string          `json:"offset"`
	Op        string          `json:"op"`
	Key       *string         `json:"key"`
	User      string          `json:"user"`
	Timestamp int64           `json:"timestamp_ms"`
	Payload   json.RawMessage `json:"payload"`
}

func parseMessages(t *testing.T, out string) []message {
	t.Helper()
	var ms []message
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m message
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		ms = append(ms, m)
	}
	return ms
}

func offsets(ms []message) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Offset)
	}
	return strings.Join(s, ",")
}

// consume runs kalam consume to its end and returns its messages.
func (f *fixture) consume(t *testing.T, args ...string) ([]message, result) {
	t.Helper()
	r := f.kalam(t, "", nil, append([]string{"consume", "shop.changes"}, args...)...)
	if r.code != 0 {
		t.Fatalf("consume %v: exit %d, stderr:\n%s", args, r.code, r.err)
	}
	return parseMessages(t, r.stdout), r
}

// TestConsumeJSONLines: one line per insert, update and delete, the
// payload's keys in column order, 64-bit integers exact, offsets as
// strings, no user for a shared table's rows; progress on stderr.
func TestConsumeJSONLines(t *testing.T) {
	f := topicFixture(t)
	f.write(t,
		"INSERT INTO shop.orders (id, item, qty, price) VALUES (4, 'bun', 9007199254740993, 1.5)",
		"UPDATE shop.orders SET qty = -9223372036854775808 WHERE id = 4",
		"DELETE FROM shop.orders WHERE id = 4")
	ms, r := f.consume(t, "--group", "g", "--from", "earliest", "--limit", "3")
	if len(ms) != 3 || offsets(ms) != "0,1,2" {
		t.Fatalf("messages %s, want offsets 0,1,2:\n%s", offsets(ms), r.stdout)
	}
	wantPayload := []string{
		`{"id":"4","item":"bun","qty":"9007199254740993","placed":null,"price":1.5,"_table":"shop.orders"}`,
		`{"id":"4","item":"bun","qty":"-9223372036854775808","placed":null,"price":1.5,"_table":"shop.orders"}`,
		`{"id":"4","item":"bun","qty":"-9223372036854775808","placed":null,"price":1.5,"_table":"shop.orders"}`,
	}
	for i, op := range []string{"Insert", "Update", "Delete"} {
		m := ms[i]
		if m.Topic != "shop.changes" || m.Partition == nil || *m.Partition != 0 || m.Op != op || m.Key != nil || m.User != "" || m.Timestamp <= 0 {
			t.Errorf("message %d: %+v", i, m)
		}
		if string(m.Payload) != wantPayload[i] {
			t.Errorf("%s payload\n got %s\nwant %s", op, m.Payload, wantPayload[i])
		}
	}
	if !strings.HasPrefix(strings.Split(r.stdout, "\n")[0], `{"topic":"shop.changes","partition":0,"offset":"0","op":"Insert","key":null,`) {
		t.Errorf("line keys out of order: %s", r.stdout)
	}
	for _, want := range []string{`consuming shop.changes partition 0 as group "g"`, "stopped after 3 messages; nothing committed (no --commit)"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	// With -n the topic may be unqualified.
	if ms, _ := f.consume(t, "--group", "h", "--from", "2", "--limit", "1", "-n", "shop"); offsets(ms) != "2" {
		t.Fatalf("--from 2: offsets %s", offsets(ms))
	}
}

// TestConsumeFrom: earliest, an offset, and latest (only what is written
// after the first poll); --from applies to a group without a commit.
func TestConsumeFrom(t *testing.T) {
	f := topicFixture(t)
	f.write(t, "INSERT INTO shop.orders (id, item) VALUES (10, 'a'), (11, 'b'), (12, 'c')")
	if ms, _ := f.consume(t, "--group", "e", "--from", "earliest", "--limit", "1"); offsets(ms) != "0" {
		t.Fatalf("earliest: %s", offsets(ms))
	}
	if ms, _ := f.consume(t, "--group", "o", "--from", "1", "--limit", "2", "--max-records", "1"); offsets(ms) != "1,2" {
		t.Fatalf("--from 1: %s", offsets(ms))
	}
	cmd, lines, stderr := f.start(t, nil, "consume", "shop.changes", "--group", "l", "--from", "latest", "--limit", "1")
	if err := waitUntil(20*time.Second, func() bool { return strings.Contains(stderr.String(), "waiting for messages from offset 3") }); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, stderr.String())
	}
	f.write(t, "INSERT INTO shop.orders (id, item) VALUES (13, 'd')")
	l := next(t, lines, stderr)
	if ms := parseMessages(t, l); offsets(ms) != "3" || !strings.Contains(l, `"id":"13"`) {
		t.Fatalf("latest: %s", l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v; stderr:\n%s", err, stderr.String())
	}
	// --partition reads that partition only: the two partitions together
	// hold every row, each from offset 0.
	if _, err := f.srv.Exec(context.Background(), "root", "CREATE TOPIC shop.parts PARTITIONS 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Exec(context.Background(), "root", "ALTER TOPIC shop.parts ADD SOURCE shop.orders ON INSERT"); err != nil {
		t.Fatal(err)
	}
	f.write(t, "INSERT INTO shop.orders (id, item) VALUES (20, 'a'), (21, 'b'), (22, 'c'), (23, 'd'), (24, 'e'), (25, 'f')")
	total := 0
	for p := range 2 {
		res, err := f.srv.Exec(context.Background(), "root", fmt.Sprintf("CONSUME FROM shop.parts GROUP 'count' PARTITION %d FROM EARLIEST", p))
		if err != nil {
			t.Fatal(err)
		}
		n := len(res.Results[0].Rows)
		if n == 0 {
			t.Fatalf("partition %d holds no row; pick other ids", p)
		}
		r := f.kalam(t, "", nil, "consume", "shop.parts", "-g", "p", "--partition", fmt.Sprint(p), "--from", "earliest", "--limit", fmt.Sprint(n))
		ms := parseMessages(t, r.stdout)
		if r.code != 0 || len(ms) != n || ms[0].Offset != "0" {
			t.Fatalf("partition %d: exit %d, %d messages (want %d):\n%s%s", p, r.code, len(ms), n, r.stdout, r.err)
		}
		for _, m := range ms {
			if *m.Partition != uint32(p) {
				t.Fatalf("--partition %d printed %+v", p, m)
			}
		}
		total += n
	}
	if total != 6 {
		t.Fatalf("partitions hold %d messages, want 6", total)
	}
	for _, bad := range []string{"soon", "-1", "1.5"} {
		r := f.kalam(t, "", nil, "consume", "shop.changes", "--group", "x", "--from", bad)
		if r.code != exitUsage || !strings.Contains(r.err, "--from must be earliest, latest or an offset") {
			t.Errorf("--from %s: exit %d %q", bad, r.code, r.err)
		}
	}
}

// TestConsumeCommit: with --commit a second run of the group gets nothing
// it had; without it, a second run gets the same messages again.
func TestConsumeCommit(t *testing.T) {
	f := topicFixture(t)
	f.write(t, "INSERT INTO shop.orders (id, item) VALUES (10, 'a'), (11, 'b'), (12, 'c')")

	ms, r := f.consume(t, "--group", "c", "--from", "earliest", "--commit", "--limit", "2")
	if offsets(ms) != "0,1" || !strings.Contains(r.err, "committed up to offset 1") {
		t.Fatalf("first run: %s\n%s", offsets(ms), r.err)
	}
	ms, r = f.consume(t, "--group", "c", "--from", "earliest", "--commit", "--limit", "1")
	if offsets(ms) != "2" || !strings.Contains(r.err, "committed up to offset 2") {
		t.Fatalf("second run after a commit: %s (want 2 only)\n%s", offsets(ms), r.err)
	}
	f.write(t, "INSERT INTO shop.orders (id, item) VALUES (13, 'd')")
	if ms, _ = f.consume(t, "--group", "c", "--from", "earliest", "--limit", "1"); offsets(ms) != "3" {
		t.Fatalf("third run: %s (want 3: 0..2 are committed)", offsets(ms))
	}

	for run := 1; run <= 2; run++ {
		ms, r = f.consume(t, "--group", "n", "--from", "earliest", "--limit", "2")
		if offsets(ms) != "0,1" || !strings.Contains(r.err, "nothing committed (no --commit)") {
			t.Fatalf("run %d without --commit: %s\n%s", run, offsets(ms), r.err)
		}
	}
	// The group n has no committed offset: the server starts it at --from.
	if ms, _ = f.consume(t, "--group", "n", "--from", "3", "--limit", "1"); offsets(ms) != "3" {
		t.Fatalf("group without a commit, --from 3: %s", offsets(ms))
	}
}

// TestConsumeInterrupt: SIGINT stops polling, commits what was printed
// and exits 0; the group then resumes after it.
func TestConsumeInterrupt(t *testing.T) {
	f := topicFixture(t)
	f.write(t, "INSERT INTO shop.orders (id, item) VALUES (10, 'a'), (11, 'b'), (12, 'c')")
	cmd, lines, stderr := f.start(t, nil, "consume", "shop.changes", "--group", "s", "--from", "earliest", "--commit", "--commit-interval", "1h")
	for i := 0; i < 3; i++ {
		next(t, lines, stderr)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped after 3 messages; committed up to offset 2") {
		t.Fatalf("no commit on SIGINT:\n%s", stderr.String())
	}
	f.write(t, "INSERT INTO shop.orders (id, item) VALUES (13, 'd')")
	if ms, _ := f.consume(t, "--group", "s", "--from", "earliest", "--limit", "1"); offsets(ms) != "3" {
		t.Fatalf("after the interrupt: %s (want 3)", offsets(ms))
	}
}

// TestConsumeErrors: the role rule is a permission failure (exit 4), a
// missing topic a one-line refusal (exit 5), bad flags usage errors.
func TestConsumeErrors(t *testing.T) {
	f := topicFixture(t)
	for _, tc := range []struct {
		name string
		code int
		env  []string
		args []string
	}{
		{"consume-wrong-role", exitAuth, []string{"KALAM_USER=carol", "KALAM_PASSWORD=Carol-CLI-Pass-1"}, []string{"consume", "shop.changes", "--group", "g"}},
		{"consume-missing-topic", exitSQL, nil, []string{"consume", "shop.nope", "--group", "g", "--from", "earliest"}},
		{"consume-no-group", exitUsage, nil, []string{"consume", "shop.changes"}},
		{"consume-bad-max-records", exitUsage, nil, []string{"consume", "shop.changes", "-g", "g", "--max-records", "100001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.kalam(t, "", tc.env, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tc.code, r.err)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
			f.golden(t, "error-"+tc.name, r)
		})
	}
	r := f.kalam(t, "", nil, "help", "consume")
	for _, want := range []string{"kalam consume TOPIC --group G [flags]", "--from", "--commit", "--partition", "--max-records", "--poll-timeout", "--limit", "service, dba or system"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("help consume lacks %q:\n%s", want, r.stdout)
		}
	}
}

// waitUntil checks cond every 5 ms until it holds or d passes.
func waitUntil(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("condition not met within " + d.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// TestConsumeInProcess runs the command in this process, so that the race
// detector sees its goroutines: messages are printed while the start note
// is watched, and canceling the context (what Ctrl-C does in main) drains
// and commits.
func TestConsumeInProcess(t *testing.T) {
	f := topicFixture(t)
	f.write(t, "INSERT INTO shop.orders (id, item) VALUES (10, 'a'), (11, 'b'), (12, 'c')")
	for k, v := range f.env {
		t.Setenv(k, v)
	}
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"consume", "shop.changes", "-g", "p", "--from", "earliest", "--commit", "--max-records", "1"}, stdio{in: strings.NewReader(""), out: &out, err: &errOut})
	}()
	if err := waitUntil(20*time.Second, func() bool { return strings.Count(out.String(), "\n") == 3 }); err != nil {
		t.Fatalf("%v; stdout %q stderr:\n%s", err, out.String(), errOut.String())
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 || !strings.Contains(errOut.String(), "stopped after 3 messages; committed up to offset 2") {
			t.Fatalf("exit %d; stderr:\n%s", c, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after cancel")
	}
	if ms := parseMessages(t, out.String()); offsets(ms) != "0,1,2" {
		t.Fatalf("offsets %s", offsets(ms))
	}
}
