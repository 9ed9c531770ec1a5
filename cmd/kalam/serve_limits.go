package main

import (
	"flag"
	"fmt"

	"github.com/kalamgo/kalam/kalamtest"
)

// addLimitFlags registers a `kalam serve` flag for each of KalamDB's limits
// that kalamtest models, writing into o. A flag left out keeps KalamDB's
// default; a negative value turns the limit off (for benchmarks).
func addLimitFlags(fs *flag.FlagSet, o *kalamtest.Config) {
	fs.IntVar(&o.OutgoingQueue, "outgoing-queue", 0,
		fmt.Sprintf("change notifications queued per connection before they are dropped (0 = %d, KalamDB's default; <0 = unbounded)", kalamtest.DefaultOutgoingQueue))
	fs.Func("overflow", "what a full outgoing queue does: drop (KalamDB, the default) or close (close 1013 so the client resumes)",
		func(v string) error {
			switch p := kalamtest.OverflowPolicy(v); p {
			case kalamtest.OverflowDrop, kalamtest.OverflowClose:
				o.Overflow = p
				return nil
			}
			return fmt.Errorf("want drop or close")
		})
	fs.IntVar(&o.LoadingBuffer, "loading-buffer", 0,
		fmt.Sprintf("changes kept per subscription during its initial load; the oldest beyond are dropped (0 = %d, KalamDB's default; <0 = unbounded)", kalamtest.MaxBufferedChanges))
	fs.IntVar(&o.MaxMessagesPerSec, "max-messages-per-sec", 0,
		fmt.Sprintf("client text frames per second per connection, token bucket (0 = %d, KalamDB's default; <0 = unlimited)", kalamtest.DefaultMaxMessagesPerSec))
	fs.IntVar(&o.MaxSubscriptionsPerConnection, "max-subscriptions-per-connection", 0,
		fmt.Sprintf("live subscriptions per connection (0 = %d, KalamDB's fixed cap; <0 = no cap)", kalamtest.MaxSubscriptionsPerConnection))
	fs.IntVar(&o.MaxSubscriptionsPerUser, "max-subscriptions-per-user", 0,
		fmt.Sprintf("live subscriptions per user over all connections (0 = %d as in KalamDB's sample server.toml; its code default is 10; <0 = no cap)", kalamtest.DefaultMaxSubscriptionsPerUser))
}
