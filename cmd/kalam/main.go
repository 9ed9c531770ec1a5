// Command kalam is the kalam command-line tool: a local KalamDB-compatible
// server, SQL queries, live subscriptions, lifecycle diagrams and a demo.
//
// Usage:
//
//	kalam <command> [flags]
//
// Run "kalam help" for the list of commands and "kalam <command> -h" for a
// command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand. run gets the arguments after the command name
// and a context canceled on SIGINT or SIGTERM.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the dispatch table. To add a command, add its file and one
// line here.
var commands = []command{
	{"serve", "run a local KalamDB-compatible server (kalamtest)", runServe},
	{"query", "run SQL against a server over HTTP", runQuery},
	{"live", "subscribe to a live query and print its events as JSON lines", runLive},
	{"diagram", "print the client lifecycle diagram (mermaid, dot or svg)", runDiagram},
	{"demo", "run the lifecycle demo against an embedded server", runDemo},
}

// errUsage marks a usage error; the message was printed already.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "kalam %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "kalam: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: kalam <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}
