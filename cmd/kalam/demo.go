package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalamgo/kalam/internal/demo"
)

// demoCommand runs the lifecycle demo against an embedded server.
func (a *app) demoCommand() *cobra.Command {
	var opts demo.Options
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "show a client's whole life against an embedded server, step by step",
		Long: `Starts a KalamDB-compatible server in memory, then takes one client through
its life: a live query, rows changing, a token refresh while live, the
network cut and restored, and a graceful shutdown. Each step says what it
shows. Nothing is written to disk unless you ask (--diagram FILE).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			err := demo.Run(ctx, a.io.out, opts)
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("the demo did not finish within %s (--timeout)", timeout)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&opts.DiagramPath, "diagram", "", "also write the lifecycle diagram (Mermaid) to this file")
	cmd.Flags().DurationVar(&opts.TokenTTL, "token-ttl", 3*time.Second, "access-token lifetime, short so a refresh happens while live")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}
