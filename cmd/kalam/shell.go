package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/peterh/liner"

	"github.com/kalamgo/kalam"
)

// shell is the interactive session: one client, a line editor, and the
// settings meta commands change.
type shell struct {
	a      *app
	c      *kalam.Client
	cfg    kalam.Config
	line   *liner.State
	opts   queryOptions
	hist   string
	tables []string // for completion; nil until loaded
	spaces []string
}

const shellHelp = `Type SQL ending with ";" (it may span lines), or a meta command:
  \dn              list namespaces
  \dt [NS]         list tables (of NS)
  \d TABLE         describe a table's columns
  \c NS            switch the namespace for unqualified tables
  \timing          toggle printing how long each statement took
  \format FMT      print results as table, csv, json or jsonl
  \live SQL        follow a live query until Ctrl-C
  \?               this help
  \q               quit (or Ctrl-D)
Ctrl-C clears the line being typed, or stops a running statement or \live.
Tab completes keywords, table names and meta commands.`

// runShell runs the interactive shell until \q or end of input.
func (a *app) runShell(ctx context.Context) error {
	// Ctrl-C belongs to the statement running, not to the session.
	ctx = context.WithoutCancel(ctx)
	cfg, err := a.config()
	if err != nil {
		return err
	}
	c, err := kalam.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := a.checkLogin(ctx, c); err != nil {
		return err
	}
	sh := &shell{a: a, c: c, cfg: cfg, opts: queryOptions{format: "table"}}
	sh.line = liner.NewLiner()
	defer sh.line.Close()
	sh.line.SetCtrlCAborts(true)
	sh.line.SetMultiLineMode(true)
	sh.line.SetWordCompleter(sh.complete)
	sh.loadHistory()
	stopTerm := sh.exitOnTerm()
	defer stopTerm()
	fmt.Fprintf(a.io.out, "kalam shell: %s as %s. End SQL with \";\". \\? for help, \\q to quit.\n", a.conn.url, a.conn.user)
	return sh.loop(ctx)
}

// checkLogin runs a trivial query so that a wrong password or an unreachable
// server is reported at once, before the first prompt.
func (a *app) checkLogin(ctx context.Context, c *kalam.Client) error {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err := c.Query(cctx, "SELECT 1")
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (15s)", errConnectTimeout)
	}
	return err
}

// exitOnTerm ends the shell on SIGTERM or SIGHUP, with the terminal put
// back first. (SIGINT belongs to the statement running; between prompts the
// line editor reads Ctrl-C as a key.)
func (sh *shell) exitOnTerm() (stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			sh.line.Close()
			sh.c.Close()
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
	}
}

func (sh *shell) prompt(continued bool) string {
	ns := sh.c.Namespace()
	if ns == "" {
		ns = "kalam"
	}
	if continued {
		return strings.Repeat(" ", len(ns)) + "-> "
	}
	return ns + "=> "
}

func (sh *shell) loop(ctx context.Context) error {
	var buf strings.Builder
	for {
		text, err := sh.line.Prompt(sh.prompt(buf.Len() > 0))
		switch {
		case errors.Is(err, liner.ErrPromptAborted):
			buf.Reset()
			continue
		case errors.Is(err, io.EOF):
			fmt.Fprintln(sh.a.io.out)
			return nil
		case err != nil:
			return err
		}
		if buf.Len() == 0 && strings.HasPrefix(strings.TrimSpace(text), `\`) {
			cmd := strings.TrimSpace(text)
			sh.remember(cmd)
			if quit := sh.meta(ctx, cmd); quit {
				return nil
			}
			continue
		}
		buf.WriteString(text)
		buf.WriteByte('\n')
		stmts, complete := splitSQL(buf.String())
		if !complete {
			continue
		}
		sh.remember(strings.Join(strings.Fields(buf.String()), " "))
		buf.Reset()
		if len(stmts) == 0 {
			continue
		}
		sh.exec(ctx, stmts)
	}
}

// exec runs statements until Ctrl-C, printing any error as one line.
func (sh *shell) exec(ctx context.Context, stmts []statement) {
	cctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	err := sh.a.runStatements(cctx, sh.c, stmts, sh.opts, sh.a.io.out)
	for _, st := range stmts {
		if w := strings.ToUpper(firstWord(st.SQL)); w == "CREATE" || w == "DROP" {
			sh.tables, sh.spaces = nil, nil
		}
	}
	if err != nil {
		sh.printErr(err)
	}
}

func (sh *shell) printErr(err error) {
	_, msg := sh.a.classify(err)
	var se *stmtError
	if errors.As(err, &se) {
		msg = fmt.Sprintf("statement %d (line %d): %s", se.n, se.line, msg)
	}
	fmt.Fprintf(sh.a.io.err, "ERROR: %s\n", msg)
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// remember adds an entry to the history and saves the file.
func (sh *shell) remember(entry string) {
	if entry == "" {
		return
	}
	sh.line.AppendHistory(entry)
	sh.saveHistory()
}

func (sh *shell) loadHistory() {
	d, err := stateDir()
	if err != nil {
		return
	}
	sh.hist = filepath.Join(d, "history")
	if f, err := os.Open(sh.hist); err == nil {
		_, _ = sh.line.ReadHistory(f)
		f.Close()
	}
}

// saveHistory writes the history file, readable by the owner only: SQL can
// hold data worth keeping private.
func (sh *shell) saveHistory() {
	if sh.hist == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(sh.hist), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(sh.hist, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	_, _ = sh.line.WriteHistory(f)
	f.Close()
}
