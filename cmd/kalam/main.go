// Command kalam is the kalam command-line tool: an interactive SQL shell,
// scripted queries, live subscriptions, a local KalamDB-compatible server,
// lifecycle diagrams and a demo.
//
// Usage:
//
//	kalam [command] [flags]
//
// With no command on a terminal it opens the interactive shell; with SQL on
// standard input it runs it. "kalam help" lists the commands and the exit
// codes, "kalam help CMD" describes one.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// stdio is where a command reads and writes. Tests pass buffers; main passes
// the process's files.
type stdio struct {
	in          io.Reader
	out, err    io.Writer
	inTerminal  bool // stdin is a terminal: prompt, open the shell
	errTerminal bool // stderr is a terminal: progress lines may redraw
	inFd        int  // stdin's descriptor, for the password prompt
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	io := stdio{
		in:          os.Stdin,
		out:         os.Stdout,
		err:         os.Stderr,
		inTerminal:  term.IsTerminal(int(os.Stdin.Fd())),
		errTerminal: term.IsTerminal(int(os.Stderr.Fd())),
		inFd:        int(os.Stdin.Fd()),
	}
	code := run(ctx, os.Args[1:], io)
	stop()
	os.Exit(code)
}

// run parses args, runs the command and returns the process's exit code.
// Errors are printed here, once, as one line.
func run(ctx context.Context, args []string, io stdio) int {
	app := newApp(io)
	root := app.rootCommand()
	root.SetArgs(args)
	root.SetIn(io.in)
	root.SetOut(io.out)
	root.SetErr(io.err)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	return app.report(cmd, err)
}

// app holds what the commands share: the streams and the connection flags.
type app struct {
	io   stdio
	conn connFlags
}

func newApp(io stdio) *app { return &app{io: io} }

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "kalam",
		Short: "KalamDB client: SQL shell, queries, live subscriptions and a local server",
		Long: `kalam talks to a KalamDB server (or the compatible one "kalam serve" runs).

With no command it opens an interactive SQL shell on a terminal, or runs the
SQL read from standard input:  echo "SELECT 1" | kalam

Connection: --url, --user, --namespace or a --profile; credentials from
--token/$KALAM_TOKEN, a cached login ("kalam login"), $KALAM_PASSWORD, or a
password prompt on a terminal.` + exitCodesHelp,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.io.inTerminal {
				return a.runShell(cmd.Context())
			}
			return a.runScript(cmd.Context(), a.io.in, queryOptions{format: "table"})
		},
	}
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%s", err.Error()) })
	root.CompletionOptions.HiddenDefaultCmd = false
	a.conn.register(root.PersistentFlags())
	root.AddGroup(&cobra.Group{ID: "sql", Title: "SQL and live data:"}, &cobra.Group{ID: "tools", Title: "Server and tools:"})
	for _, c := range []*cobra.Command{a.queryCommand(), a.liveCommand(), a.consumeCommand(), a.healthCommand(), a.loginCommand(), a.logoutCommand(), a.profileCommand()} {
		c.GroupID = "sql"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.serveCommand(), a.diagramCommand(), a.demoCommand()} {
		c.GroupID = "tools"
		root.AddCommand(c)
	}
	return root
}

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if !cmd.HasParent() {
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				return usageErr("unknown command %q; did you mean %q?", args[0], s[0])
			}
			return usageErr("unknown command %q; run \"kalam help\" for the list", args[0])
		}
		return usageErr("unexpected argument %q", args[0])
	}
	return nil
}
