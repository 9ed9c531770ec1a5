package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalamgo/kalam"
)

// consumeOptions are the flags of "kalam consume".
type consumeOptions struct {
	group, from        string
	commit             bool
	partition          uint32
	maxRecords, limit  int
	pollTimeout, drain time.Duration
	commitInterval     time.Duration
}

func (a *app) consumeCommand() *cobra.Command {
	var o consumeOptions
	cmd := &cobra.Command{
		Use:   "consume TOPIC --group G",
		Short: "read a topic as a member of a consumer group and print its messages as JSON lines",
		Long: `Reads one partition of a topic (POST /v1/api/topics/consume, no socket) as a
member of a consumer group, and prints one JSON line per message on standard
output: topic, partition, offset (a string), op ("Insert", "Update" or
"Delete"), key (null when the server sends none), user (the row's owner, when
it has one), timestamp_ms and the payload, with its keys in the row's column order and every digit kept (in
JSON, _seq and integers beyond 2^53 are strings). Progress goes to standard
error.

--from applies while the group has no committed offset: latest (the default)
reads what is appended from now on, earliest the whole topic, N from offset N.
A group with a committed offset resumes after it.

Without --commit nothing is ever committed: the group gets the same messages
again once the server's claim on them lapses. With --commit a message counts
as processed once its line is written, and what was processed is committed
every --commit-interval and when the command ends. Ctrl-C stops polling,
commits (with --commit) and exits 0.

Topics need the service, dba or system role: another user ends with exit
code 4, a topic that does not exist with exit code 5.`,
		Example: `  kalam consume shop.new_orders --group billing --from earliest --commit
  kalam consume -n shop new_orders --group audit --limit 10 | jq .payload.id`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("give one topic (ns.topic)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := o.consumerOptions()
			if err != nil {
				return err
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			topic := args[0]
			if !strings.Contains(topic, ".") && cfg.Namespace != "" {
				topic = cfg.Namespace + "." + topic
			}
			return a.runConsume(cmd.Context(), cfg, topic, opts, o, a.io.out)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.group, "group", "g", "", "consumer group (required)")
	fs.StringVar(&o.from, "from", "latest", "where a group without a committed offset starts: earliest, latest or an offset")
	fs.BoolVar(&o.commit, "commit", false, "commit the messages printed (without it nothing is committed)")
	fs.Uint32Var(&o.partition, "partition", 0, "partition to read")
	fs.IntVar(&o.maxRecords, "max-records", 0, "most messages per poll (default 100, at most 100000)")
	fs.DurationVar(&o.pollTimeout, "poll-timeout", 0, "time limit of one poll request (default 30s)")
	fs.IntVar(&o.limit, "limit", 0, "exit after N messages; 0 means until Ctrl-C")
	fs.DurationVar(&o.commitInterval, "commit-interval", time.Second, "with --commit, how often to commit in the background")
	fs.DurationVar(&o.drain, "drain-timeout", 5*time.Second, "how long the final commit may take")
	_ = cmd.RegisterFlagCompletionFunc("from", cobra.FixedCompletions([]string{"earliest", "latest"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// consumerOptions checks the flags and turns them into the library's
// options; a bad value is a usage error, before anything is sent.
func (o consumeOptions) consumerOptions() (kalam.ConsumerOptions, error) {
	out := kalam.ConsumerOptions{Group: o.group, Partition: o.partition, MaxRecords: o.maxRecords,
		PollTimeout: o.pollTimeout, AutoCommit: o.commit, AutoCommitInterval: o.commitInterval}
	switch {
	case o.group == "":
		return out, usageErr("--group is required: members of a group share its committed offsets")
	case o.maxRecords < 0 || o.maxRecords > 100_000:
		return out, usageErr("--max-records must be between 1 and 100000 (got %d)", o.maxRecords)
	case o.limit < 0:
		return out, usageErr("--limit must not be negative (got %d)", o.limit)
	case o.pollTimeout < 0, o.drain < 0:
		return out, usageErr("--poll-timeout and --drain-timeout must not be negative")
	case o.commit && o.commitInterval <= 0:
		return out, usageErr("--commit-interval must be positive (got %s)", o.commitInterval)
	}
	switch strings.ToLower(o.from) {
	case "latest":
		out.Start = kalam.StartLatest
	case "earliest":
		out.Start = kalam.StartEarliest
	default:
		n, err := strconv.ParseUint(o.from, 10, 64)
		if err != nil {
			return out, usageErr("--from must be earliest, latest or an offset (got %q)", o.from)
		}
		out.Start = kalam.StartAt(n)
	}
	return out, nil
}

// runConsume reads topic until ctx ends, --limit is reached or the
// consumer fails, then commits (with --commit) and closes.
func (a *app) runConsume(ctx context.Context, cfg kalam.Config, topic string, opts kalam.ConsumerOptions, o consumeOptions, w io.Writer) error {
	prog := &progress{w: a.io.err, mu: &sync.Mutex{}}
	c, err := kalam.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	k, err := c.Consumer(topic, opts)
	if err != nil {
		return err
	}
	prog.say("consuming %s partition %d as group %q (a group without a committed offset starts at %s)", topic, opts.Partition, opts.Group, opts.Start)
	note := &startNote{prog: prog}
	stopWatch := note.watch(k)
	n, runErr := a.printMessages(ctx, k, o, w, note)
	stopWatch()
	if !o.commit {
		_ = k.Close()
		prog.say("stopped after %d message%s; nothing committed (no --commit)", n, plural(n))
		return consumeFailure(runErr, topic, a.conn.user)
	}
	dctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	out, err := k.Drain(dctx)
	switch {
	case err != nil:
		prog.say("stopped after %d message%s; the final commit failed", n, plural(n))
	case out.HasOffset:
		prog.say("stopped after %d message%s; committed up to offset %d", n, plural(n), out.Offset)
	default:
		prog.say("stopped after %d message%s; nothing to commit", n, plural(n))
	}
	if runErr == nil {
		runErr = err
	}
	return consumeFailure(runErr, topic, a.conn.user)
}

// printMessages writes each message as a JSON line and, with --commit,
// marks it processed once written. Ctrl-C ends it without an error.
func (a *app) printMessages(ctx context.Context, k *kalam.Consumer, o consumeOptions, w io.Writer, note *startNote) (int, error) {
	n := 0
	var line bytes.Buffer
	for m, err := range k.Messages(ctx) {
		if err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return n, nil
			}
			return n, err
		}
		note.first(m.Offset)
		line.Reset()
		messageJSON(&line, m)
		line.WriteByte('\n')
		if _, err := w.Write(line.Bytes()); err != nil {
			return n, fmt.Errorf("writing message %d: %w", m.Offset, err)
		}
		n++
		if o.commit {
			if err := k.MarkProcessed(m.Offset); err != nil {
				return n, err
			}
		}
		if o.limit > 0 && n >= o.limit {
			return n, nil
		}
	}
	return n, nil
}

// startNote says once on stderr where reading starts: the watcher when
// the first poll placed the consumer and no message came yet, else the
// loop at its first message.
type startNote struct {
	mu      sync.Mutex
	said    bool
	printed int
	prog    *progress
}

// first is called by the loop before it prints a message.
func (s *startNote) first(off uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.printed++
	if !s.said {
		s.said = true
		s.prog.say("reading from offset %d", off)
	}
}

// watch polls Position until the consumer is placed; the returned
// function stops it.
func (s *startNote) watch(k *kalam.Consumer) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			s.mu.Lock()
			if off, ok := k.Position(); !s.said && s.printed == 0 && ok {
				s.said = true
				s.prog.say("waiting for messages from offset %d", off)
			}
			said := s.said
			s.mu.Unlock()
			if said {
				return
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// messageJSON writes one message as a JSON object. The payload's keys keep
// the order the server sent them in (the row's column order); its cells go
// through jsonCell like every other JSON the command prints.
func messageJSON(b *bytes.Buffer, m kalam.Message) {
	fmt.Fprintf(b, `{"topic":%s,"partition":%d,"offset":"%d","op":%s,"key":`, mustJSON(m.Topic), m.Partition, m.Offset, mustJSON(m.Op))
	if m.HasKey {
		b.WriteString(mustJSON(m.Key))
	} else {
		b.WriteString("null")
	}
	if m.User != "" {
		fmt.Fprintf(b, `,"user":%s`, mustJSON(m.User))
	}
	fmt.Fprintf(b, `,"timestamp_ms":%d,"payload":`, m.Timestamp.UnixMilli())
	cols, err := payloadColumns(m.Payload)
	row, rerr := m.Row()
	if err != nil || rerr != nil {
		// Not an object: KalamDB's payloads always are, but a line must
		// still be valid JSON, so anything else is printed as a string.
		b.WriteString(mustJSON(string(m.Payload)))
	} else {
		presentRowJSON(b, cols, row)
	}
	b.WriteByte('}')
}
