package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kalamgo/kalam/internal/demo"
)

// runDemo runs the lifecycle demo against an embedded kalamtest server.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kalam demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	diagram := fs.String("diagram", "", "write the lifecycle diagram (Mermaid) to this `file` (default: a file in the temp directory)")
	ttl := fs.Duration("token-ttl", 3*time.Second, "access-token lifetime, short so a refresh happens while live")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: kalam demo [flags]\n\nRuns one client through its whole lifecycle against an embedded server\nand prints every transition with its trigger.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err := demo.Run(ctx, stdout, demo.Options{DiagramPath: *diagram, TokenTTL: *ttl})
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("did not finish within %s: %w", *timeout, err)
	}
	return err
}

// parseFlags parses args and checks the number of positional arguments
// (max < 0: any number). It returns flag.ErrHelp for -h and errUsage for
// anything else wrong, after printing why.
func parseFlags(fs *flag.FlagSet, args []string, max int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if max >= 0 && fs.NArg() > max {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(max))
		return errUsage
	}
	return nil
}
