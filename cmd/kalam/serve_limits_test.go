package main

import (
	"flag"
	"io"
	"testing"

	"github.com/kalamgo/kalam/kalamtest"
)

func TestLimitFlags(t *testing.T) {
	parse := func(args ...string) (kalamtest.Config, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var cfg kalamtest.Config
		addLimitFlags(fs, &cfg)
		err := fs.Parse(args)
		return cfg, err
	}
	cfg, err := parse()
	if err != nil || cfg.OutgoingQueue != 0 || cfg.Overflow != "" || cfg.LoadingBuffer != 0 || cfg.MaxMessagesPerSec != 0 ||
		cfg.MaxSubscriptionsPerConnection != 0 || cfg.MaxSubscriptionsPerUser != 0 {
		t.Fatalf("no flags must leave KalamDB's defaults (zero values): %+v %v", cfg, err)
	}
	cfg, err = parse("--outgoing-queue", "-1", "--overflow", "close", "--loading-buffer", "4096",
		"--max-messages-per-sec", "500", "--max-subscriptions-per-connection", "-1", "--max-subscriptions-per-user", "10")
	want := kalamtest.Config{OutgoingQueue: -1, Overflow: kalamtest.OverflowClose, LoadingBuffer: 4096,
		MaxMessagesPerSec: 500, MaxSubscriptionsPerConnection: -1, MaxSubscriptionsPerUser: 10}
	if err != nil || cfg.OutgoingQueue != want.OutgoingQueue || cfg.Overflow != want.Overflow || cfg.LoadingBuffer != want.LoadingBuffer ||
		cfg.MaxMessagesPerSec != want.MaxMessagesPerSec || cfg.MaxSubscriptionsPerConnection != want.MaxSubscriptionsPerConnection ||
		cfg.MaxSubscriptionsPerUser != want.MaxSubscriptionsPerUser {
		t.Fatalf("got %+v %v", cfg, err)
	}
	if _, err := parse("--overflow", "block"); err == nil {
		t.Fatal("--overflow block accepted")
	}
	// The server takes them: the effective config shows the loosened values.
	srv := kalamtest.NewServer(t, want)
	if got := srv.Config(); got.OutgoingQueue != -1 || got.LoadingBuffer != 4096 || got.MaxSubscriptionsPerUser != 10 {
		t.Fatalf("server config %+v", got)
	}
}
