package kalam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/httpapi"
	"github.com/kalamgo/kalam/transport/wire"
)

// Topic consumers read a KalamDB topic over HTTP (POST /v1/api/topics/consume
// and /ack) as a member of a consumer group. Their requests go through the
// client's engine like queries: the same credentials guard (a request waits
// for credentials, a 401 or TOKEN_EXPIRED refreshes them and retries once),
// the same drain accounting, and no socket.

// StartFrom says where a group that has no committed offset for the
// partition starts reading. A group that has one resumes after it.
type StartFrom struct {
	kind   wire.StartKind
	offset uint64
}

// Start positions.
var (
	// StartLatest reads only messages appended from now on (the default).
	StartLatest = StartFrom{kind: wire.StartLatest}
	// StartEarliest reads the topic from its first message.
	StartEarliest = StartFrom{kind: wire.StartEarliest}
)

// StartAt reads from offset.
func StartAt(offset uint64) StartFrom { return StartFrom{kind: wire.StartOffset, offset: offset} }

func (s StartFrom) String() string {
	switch s.kind {
	case wire.StartEarliest:
		return "earliest"
	case wire.StartOffset:
		return fmt.Sprintf("offset %d", s.offset)
	}
	return "latest"
}

// ConsumerOptions configures Client.Consumer. Group is required; every other
// zero value means the default.
type ConsumerOptions struct {
	// Group is the consumer group: members share one committed offset per
	// partition.
	Group string
	// Start applies while the group has no committed offset (default
	// StartLatest).
	Start StartFrom
	// Partition is the partition to read (default 0).
	Partition uint32
	// MaxRecords is the most messages one poll asks for (default 100, at
	// most 100,000).
	MaxRecords int
	// PollTimeout bounds one poll request, and is sent as timeout_seconds
	// (KalamDB answers at once; default the client's RequestTimeout).
	PollTimeout time.Duration
	// IdleWait is the pause after an empty poll before the next one
	// (default 250 ms).
	IdleWait time.Duration
	// AutoCommit commits what was marked processed every AutoCommitInterval
	// in the background, and on Close.
	AutoCommit bool
	// AutoCommitInterval defaults to 5 s.
	AutoCommitInterval time.Duration
	// RetryMin and RetryMax bound the jittered backoff between attempts of a
	// failed poll or commit (defaults 100 ms and 5 s); MaxAttempts is how
	// many consecutive attempts fail before the consumer gives up with a
	// *ConsumerError (default 8).
	RetryMin, RetryMax time.Duration
	MaxAttempts        int
}

// maxRecordsPerPoll bounds MaxRecords: a page is held in memory whole.
const maxRecordsPerPoll = 100_000

func (o ConsumerOptions) withDefaults(c *Client) (ConsumerOptions, error) {
	switch {
	case o.Group == "":
		return o, errors.New("kalam: ConsumerOptions.Group is required")
	case o.MaxRecords < 0, o.PollTimeout < 0, o.IdleWait < 0, o.AutoCommitInterval < 0,
		o.RetryMin < 0, o.RetryMax < 0, o.MaxAttempts < 0:
		return o, errors.New("kalam: ConsumerOptions: negative value")
	case o.MaxRecords > maxRecordsPerPoll:
		return o, fmt.Errorf("kalam: ConsumerOptions.MaxRecords %d is above %d", o.MaxRecords, maxRecordsPerPoll)
	}
	if o.MaxRecords == 0 {
		o.MaxRecords = 100
	}
	if o.PollTimeout == 0 {
		o.PollTimeout = c.cfg.RequestTimeout
	}
	if o.IdleWait == 0 {
		o.IdleWait = 250 * time.Millisecond
	}
	if o.AutoCommitInterval == 0 {
		o.AutoCommitInterval = 5 * time.Second
	}
	if o.RetryMin == 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 5 * time.Second
	}
	o.RetryMax = max(o.RetryMax, o.RetryMin)
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 8
	}
	return o, nil
}

// Message is one topic message.
type Message struct {
	Topic     string
	Partition uint32
	Offset    uint64
	// Key is the message key; KalamDB leaves it empty (HasKey false).
	Key    string
	HasKey bool
	// Payload is the row as JSON in the source's payload mode: the columns,
	// plus "_table" ("ns.table") for the full and diff modes.
	Payload   []byte
	Timestamp time.Time
	// User is the user whose row changed, when known.
	User string
	// Op is "Insert", "Update" or "Delete".
	Op string
}

// Row decodes the payload into a Row (the "_table" entry included).
func (m Message) Row() (Row, error) {
	var cells map[string]json.RawMessage
	if err := json.Unmarshal(m.Payload, &cells); err != nil {
		return nil, fmt.Errorf("kalam: message %d payload is not a JSON object: %w", m.Offset, err)
	}
	row := make(Row, len(cells))
	for k, v := range cells {
		row[k] = Value{raw: v}
	}
	return row, nil
}

// Errors of consumers.
var (
	// ErrConsumerClosed: the consumer was closed or drained.
	ErrConsumerClosed = errors.New("kalam: consumer closed")
	// ErrNotDelivered: MarkProcessed named an offset this consumer has not
	// delivered, or one already committed.
	ErrNotDelivered = errors.New("kalam: offset was not delivered by this consumer")
)

// ConsumerError ends a consumer, or fails a Commit: Op ("poll" or
// "commit") failed Attempts times in a row, the last time with Err. A
// refusal that retrying cannot fix (403 wrong role, 404 missing topic,
// rejected credentials) ends it at the first attempt.
type ConsumerError struct {
	Topic, Group string
	Op           string
	Attempts     int
	Err          error
}

func (e *ConsumerError) Error() string {
	return fmt.Sprintf("kalam: consumer of %s (group %s): %s failed after %d attempt(s): %v", e.Topic, e.Group, e.Op, e.Attempts, e.Err)
}

func (e *ConsumerError) Unwrap() error { return e.Err }

// Consumer reads one partition of a topic as a member of a group. Iterate
// Messages, call MarkProcessed for each message once it is handled, and
// Commit (or set AutoCommit). Delivery is at least once: a message comes
// again (to this group) only when its offset was not committed, never after.
// Methods are safe for concurrent use; one Messages iteration at a time.
type Consumer struct {
	c     *Client
	topic string
	opts  ConsumerOptions

	iterating atomic.Bool
	commitMu  sync.Mutex      // serializes acks, so committed offsets only grow
	stopped   context.Context // done once the consumer is closed or drained
	stop      context.CancelFunc
	bg        sync.WaitGroup

	mu        sync.Mutex
	buf       []Message // polled, not yet delivered
	pos       uint64    // next offset to deliver
	hasPos    bool
	delivered []uint64 // delivered, not committed, ascending
	processed map[uint64]bool
	committed uint64
	hasCommit bool
	closed    bool
}

// Consumer creates a consumer of topic ("ns.topic"). It sends nothing
// until Messages runs.
func (c *Client) Consumer(topic string, opts ConsumerOptions) (*Consumer, error) {
	if topic == "" {
		return nil, errors.New("kalam: topic name is empty")
	}
	opts, err := opts.withDefaults(c)
	if err != nil {
		return nil, err
	}
	if c.State() == StateClosed {
		return nil, ErrClosed
	}
	k := &Consumer{c: c, topic: topic, opts: opts, processed: make(map[uint64]bool)}
	k.stopped, k.stop = context.WithCancel(context.Background())
	if opts.AutoCommit {
		k.bg.Add(1)
		go k.autoCommit()
	}
	linkConsumers.Do(func() { consumerLinks.Store(&consumerHooks{drain: drainAll}) })
	c.consumers.Store(k, struct{}{})
	return k, nil
}

// consumerHooks is how Client.Drain reaches the consumer code (the run
// loop reaches it through topicRunner). The first Client.Consumer call
// installs it, so a program that never opens a consumer, such as the
// browser build, does not link the consumer code (about 13 KB brotli there).
type consumerHooks struct {
	drain func(c *Client, ctx context.Context) int
}

var (
	linkConsumers sync.Once
	consumerLinks atomic.Pointer[consumerHooks]
)

// Messages polls the topic and yields its messages in offset order until
// the consumer is closed or drained (the iteration just ends), ctx ends, or
// the consumer cannot go on (a *ConsumerError, or ErrClosed/ErrDraining
// from the client). Breaking out of the loop keeps the messages polled and
// not yet yielded for the next iteration.
func (k *Consumer) Messages(ctx context.Context) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		if !k.iterating.CompareAndSwap(false, true) {
			yield(Message{}, errors.New("kalam: Messages is already being iterated"))
			return
		}
		defer k.iterating.Store(false)
		for {
			if k.isStopped() {
				return
			}
			m, ok := k.next()
			if ok {
				if !yield(m, nil) {
					return
				}
				continue
			}
			n, err := k.poll(ctx)
			switch {
			case errors.Is(err, ErrConsumerClosed), err != nil && k.isStopped():
				return // closed or drained meanwhile: the end, not a failure
			case err != nil:
				yield(Message{}, err)
				return
			case n == 0 && !k.wait(ctx, k.opts.IdleWait):
				if ctx.Err() != nil {
					yield(Message{}, ctx.Err())
				}
				return
			}
		}
	}
}

// next takes the next buffered message and records its delivery.
func (k *Consumer) next() (Message, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for len(k.buf) > 0 {
		m := k.buf[0]
		k.buf = k.buf[1:]
		if k.hasPos && m.Offset < k.pos || k.hasCommit && m.Offset <= k.committed {
			continue // delivered already, or committed: never again
		}
		k.pos, k.hasPos = m.Offset+1, true
		if i, found := slices.BinarySearch(k.delivered, m.Offset); !found {
			k.delivered = slices.Insert(k.delivered, i, m.Offset)
		}
		return m, true
	}
	return Message{}, false
}

func (k *Consumer) isStopped() bool {
	select {
	case <-k.stopped.Done():
		return true
	default:
		return false
	}
}

// wait sleeps d; false when the consumer stopped or ctx ended first.
func (k *Consumer) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-k.stopped.Done():
		return false
	case <-ctx.Done():
		return false
	}
}

// poll fetches one page into the buffer and returns its size.
func (k *Consumer) poll(ctx context.Context) (int, error) {
	k.mu.Lock()
	req := wire.ConsumeRequest{TopicID: k.topic, GroupID: k.opts.Group, PartitionID: k.opts.Partition,
		Limit: uint32(k.opts.MaxRecords), TimeoutSeconds: uint64((k.opts.PollTimeout + time.Second - 1) / time.Second),
		Start: wire.TopicStart{Kind: k.opts.Start.kind, Offset: k.opts.Start.offset}}
	if k.hasPos {
		req.Start = wire.TopicStart{Kind: wire.StartOffset, Offset: k.pos}
	}
	k.mu.Unlock()
	// Closing the consumer abandons the poll in flight: what the server
	// handed out and this consumer never saw goes to the group again.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(k.stopped, cancel)()
	var resp *wire.ConsumeResponse
	err := k.retry(ctx, "poll", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, k.opts.PollTimeout)
		defer cancel()
		tc := &topicCall{consume: &req}
		err := k.c.topicRequest(ctx, tc)
		if err == nil {
			resp = tc.consumed
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	msgs := make([]Message, 0, len(resp.Messages))
	for _, m := range resp.Messages {
		msg := Message{Topic: m.TopicID, Partition: m.PartitionID, Offset: m.Offset, Payload: m.Payload,
			Timestamp: time.UnixMilli(m.TimestampMs), User: m.User, Op: m.Op}
		if m.Key != nil {
			msg.Key, msg.HasKey = *m.Key, true
		}
		msgs = append(msgs, msg)
	}
	k.mu.Lock()
	k.buf = append(k.buf, msgs...)
	if len(msgs) == 0 && (!k.hasPos || resp.NextOffset > k.pos) && len(k.delivered) == 0 {
		k.pos, k.hasPos = resp.NextOffset, true // the start the server chose
	}
	k.mu.Unlock()
	return len(msgs), nil
}

// retry runs f until it succeeds, fails for good, or MaxAttempts fail in a
// row, sleeping a jittered, doubling backoff in between.
func (k *Consumer) retry(ctx context.Context, op string, f func(context.Context) error) error {
	backoff := k.opts.RetryMin
	for attempt := 1; ; attempt++ {
		if k.isStopped() && op == "poll" {
			return ErrConsumerClosed
		}
		err := f(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryableTopic(err) || attempt >= k.opts.MaxAttempts {
			return &ConsumerError{Topic: k.topic, Group: k.opts.Group, Op: op, Attempts: attempt, Err: err}
		}
		d := backoff/2 + rand.N(backoff/2+1)
		backoff = min(backoff*2, k.opts.RetryMax)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-k.stopped.Done():
			t.Stop()
			if op == "poll" {
				return ErrConsumerClosed
			}
		}
	}
}

// retryableTopic: transport failures and temporary statuses (and 5xx, such
// as a failed acknowledgment) are worth another attempt; refusals and the
// client's own end are not.
func retryableTopic(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true // the attempt's own timeout (the caller's ctx is checked first)
	}
	var qe *QueryError
	if errors.As(err, &qe) {
		return qe.Temporary || qe.Status >= 500 || qe.Status == 0 && qe.Code == ""
	}
	if errors.Is(err, ErrNoCredentials) {
		// The provider failed for a reason that may pass (network, 5xx);
		// the engine asks it again on its own schedule.
		return !errors.Is(err, ErrCredentialsRejected) && retryableAuth(err)
	}
	return false
}

// MarkProcessed records that the message at offset was handled; the next
// commit may cover it. It fails with ErrNotDelivered for an offset this
// consumer did not deliver or that is committed.
func (k *Consumer) MarkProcessed(offset uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, found := slices.BinarySearch(k.delivered, offset); !found {
		return fmt.Errorf("%w: %d", ErrNotDelivered, offset)
	}
	k.processed[offset] = true
	return nil
}

// committable is the highest offset a commit may acknowledge: every
// delivered offset up to it is processed, and at least one processed
// offset is new. ok is false when there is nothing to commit.
func (k *Consumer) committable() (upto uint64, n int, ok bool) {
	for _, off := range k.delivered {
		if !k.processed[off] {
			break
		}
		upto, n, ok = off, n+1, true
	}
	return upto, n, ok
}

// Commit acknowledges, synchronously, every processed message up to the
// first delivered one that is not processed yet. It returns nil when there
// is nothing new to commit. Failures are retried with backoff; what is left
// is a *ConsumerError, and the offsets stay uncommitted (a later Commit
// covers them).
func (k *Consumer) Commit(ctx context.Context) error {
	_, err := k.commit(ctx)
	return err
}

func (k *Consumer) commit(ctx context.Context) (int, error) {
	k.commitMu.Lock()
	defer k.commitMu.Unlock()
	k.mu.Lock()
	upto, n, ok := k.committable()
	k.mu.Unlock()
	if !ok {
		return 0, nil
	}
	req := wire.AckRequest{TopicID: k.topic, GroupID: k.opts.Group, PartitionID: k.opts.Partition, UptoOffset: upto}
	err := k.retry(ctx, "commit", func(ctx context.Context) error {
		return k.c.topicRequest(ctx, &topicCall{ack: &req})
	})
	if err != nil {
		return 0, err
	}
	k.mu.Lock()
	i, _ := slices.BinarySearch(k.delivered, upto+1)
	for _, off := range k.delivered[:i] {
		delete(k.processed, off)
	}
	k.delivered = slices.Delete(k.delivered, 0, i)
	k.committed, k.hasCommit = upto, true
	k.mu.Unlock()
	return n, nil
}

// Committed returns the offset this consumer last committed.
func (k *Consumer) Committed() (offset uint64, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.committed, k.hasCommit
}

// Position returns the offset of the next message to deliver; ok is false
// before the first poll has told where the group starts.
func (k *Consumer) Position() (offset uint64, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.buf) > 0 && (!k.hasPos || k.buf[0].Offset >= k.pos) {
		return k.buf[0].Offset, true
	}
	return k.pos, k.hasPos
}

// Seek moves the position to offset. Messages below it that were polled
// and not yet delivered are skipped. The position is sent as the start
// while the group has no committed offset; once it has one, the server
// hands out what follows the group's progress, and Seek can only skip
// forward. Seek to an offset at or below the last commit fails.
func (k *Consumer) Seek(offset uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.hasCommit && offset <= k.committed {
		return fmt.Errorf("kalam: seek to %d: offset %d is committed", offset, k.committed)
	}
	k.pos, k.hasPos = offset, true
	k.buf = slices.DeleteFunc(k.buf, func(m Message) bool { return m.Offset < offset })
	return nil
}

func (k *Consumer) autoCommit() {
	defer k.bg.Done()
	t := time.NewTicker(k.opts.AutoCommitInterval)
	defer t.Stop()
	for {
		select {
		case <-k.stopped.Done():
			return
		case <-k.c.done:
			return // the client closed: nothing can be committed any more
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), k.c.cfg.RequestTimeout)
			if _, err := k.commit(ctx); err != nil {
				k.c.log.Warn("kalam: background commit failed", "topic", k.topic, "group", k.opts.Group, "err", err)
			}
			cancel()
		}
	}
}

// ConsumerDrainOutcome reports what Drain did.
type ConsumerDrainOutcome struct {
	// Committed is the number of processed messages the final commit
	// covered; Offset the group's committed offset afterwards (HasOffset
	// false when this consumer never committed).
	Committed int
	Offset    uint64
	HasOffset bool
	// Unprocessed counts messages delivered and not marked processed: they
	// are not committed and will be delivered again to the group.
	Unprocessed int
}

// Drain stops polling (a running Messages loop ends once its current
// message is handled), commits what was marked processed, and closes the
// consumer. The commit's failure is returned with the outcome.
func (k *Consumer) Drain(ctx context.Context) (ConsumerDrainOutcome, error) {
	k.halt()
	n, err := k.commit(ctx)
	k.mu.Lock()
	o := ConsumerDrainOutcome{Committed: n, Offset: k.committed, HasOffset: k.hasCommit}
	for _, off := range k.delivered {
		if !k.processed[off] {
			o.Unprocessed++
		}
	}
	k.closed = true
	k.mu.Unlock()
	return o, err
}

func (k *Consumer) halt() {
	k.stop()
	k.bg.Wait()
	k.c.consumers.Delete(k)
}

// drainConsumers drains every open consumer of the client, before the
// client's own drain refuses new requests, so that what was processed is
// committed. It returns how many consumers it drained.
func (c *Client) drainConsumers(ctx context.Context) int {
	if h := consumerLinks.Load(); h != nil {
		return h.drain(c, ctx)
	}
	return 0 // no consumer was ever opened
}

func drainAll(c *Client, ctx context.Context) int {
	var ks []*Consumer
	c.consumers.Range(func(k, _ any) bool {
		ks = append(ks, k.(*Consumer))
		return true
	})
	var wg sync.WaitGroup
	for _, k := range ks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := k.Drain(ctx); err != nil {
				c.log.Warn("kalam: consumer drain did not commit", "topic", k.topic, "group", k.opts.Group, "err", err)
			}
		}()
	}
	wg.Wait()
	return len(ks)
}

// Close stops the consumer. With AutoCommit it first commits what was
// processed (bounded by the client's RequestTimeout); without it, nothing
// is committed. Uncommitted messages go to the group again once the
// server's claim on them lapses (KalamDB's visibility timeout; 30 s in
// kalamtest, see kalamtest.Server.SetTopicVisibility).
// Calling it again returns ErrConsumerClosed.
func (k *Consumer) Close() error {
	k.mu.Lock()
	was := k.closed
	k.closed = true
	k.mu.Unlock()
	if was {
		return ErrConsumerClosed
	}
	k.halt()
	if !k.opts.AutoCommit {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.c.cfg.RequestTimeout)
	defer cancel()
	_, err := k.commit(ctx)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// --- requests through the engine ---------------------------------------------

// topicCall is one topic request riding on an engine query: the engine
// applies the credentials guard and the refresh-and-retry-once rule, the
// driver (httpQuery) sends it to the topic route instead of /v1/api/sql.
type topicCall struct {
	consume  *wire.ConsumeRequest
	consumed *wire.ConsumeResponse // set by run, read after the reply
	ack      *wire.AckRequest
}

// run performs the call; the engine sees an empty SQL success.
func (tc *topicCall) run(ctx context.Context, api *httpapi.Client, token auth.Secret) (*wire.SQLResponse, error) {
	if tc.consume != nil {
		r, err := api.Consume(ctx, token, *tc.consume)
		if err != nil {
			return nil, err
		}
		tc.consumed = r
	} else if _, err := api.Ack(ctx, token, *tc.ack); err != nil {
		return nil, err
	}
	return &wire.SQLResponse{Status: wire.StatusSuccess, Results: []wire.QueryResult{}}, nil
}

// topicRunner is what the client's run loop sees of a topic call: through
// an interface, the request types stay out of a program that opens no
// consumer.
type topicRunner interface {
	run(ctx context.Context, api *httpapi.Client, token auth.Secret) (*wire.SQLResponse, error)
}

// topicCallFor returns the topic call riding on query id, if any.
func (c *Client) topicCallFor(id uint64) topicRunner {
	if v, ok := c.topicCalls.Load(id); ok {
		return v.(topicRunner)
	}
	return nil
}

// topicRequest runs tc as an engine query and waits for its end.
func (c *Client) topicRequest(ctx context.Context, tc *topicCall) error {
	id := c.nextQID.Add(1)
	c.topicCalls.Store(id, tc)
	defer c.topicCalls.Delete(id)
	what := "consume"
	if tc.ack != nil {
		what = "ack"
	}
	q := fsm.Query{ID: id, SQL: "-- kalam topic " + what}
	pq := &pendingQuery{ctx: ctx, reply: make(chan queryReply, 1)}
	if err := c.do(ctx, q, func() { c.queries[id] = pq }); err != nil {
		if err := c.exec(func() { delete(c.queries, id) }); err != nil {
			return ErrClosed
		}
		return err
	}
	select {
	case r := <-pq.reply:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		select {
		case r := <-pq.reply:
			return r.err
		default:
			return ErrClosed
		}
	}
}
