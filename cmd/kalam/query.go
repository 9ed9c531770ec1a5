package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalamgo/kalam"
)

// queryOptions shape how results are printed.
type queryOptions struct {
	format  string
	rawTime bool
	timing  bool
}

func (o *queryOptions) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&o.format, "format", "F", "table", "output format: table, csv, json or jsonl")
	fs.BoolVar(&o.rawTime, "raw-time", false, "print timestamps as the server sends them (µs since the epoch) instead of UTC date and time")
	fs.BoolVar(&o.timing, "timing", false, "print how long each statement took (\"Took: x ms\")")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
}

// queryCommand runs SQL from an argument, a file or standard input.
func (a *app) queryCommand() *cobra.Command {
	var o queryOptions
	var file string
	cmd := &cobra.Command{
		Use:   "query [SQL]",
		Short: "run SQL from the argument, a file (-f) or standard input, and print the results",
		Long: `Runs SQL over HTTP (no socket is opened) and prints each statement's result.
Statements are separated by semicolons and run one after another; the first
that fails stops the script. With several statements each result is labelled.

The table format keeps the column order, shows NULL as NULL and timestamps as
UTC date and time (--raw-time for the server's microseconds). csv, json and
jsonl keep the column order and every digit: in JSON, _seq and integers
beyond 2^53 are strings.`,
		Example: `  kalam query "SELECT * FROM shop.orders"
  kalam query -f schema.sql
  kalam query --format jsonl "SELECT * FROM shop.orders" | jq .item
  seq 1 5000 | sed 's/.*/INSERT INTO shop.t (id) VALUES (&);/' | kalam query`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErr("give the SQL as one argument (quote it), or use -f FILE or standard input")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(o.format); err != nil {
				return err
			}
			var src io.Reader
			switch {
			case len(args) == 1 && file != "":
				return usageErr("give the SQL either as an argument or with -f, not both")
			case len(args) == 1:
				src = strings.NewReader(args[0])
			case file == "-":
				src = a.io.in
			case file != "":
				f, err := os.Open(file)
				if err != nil {
					return fmt.Errorf("cannot read the SQL file: %w", err)
				}
				defer f.Close()
				src = f
			case !a.io.inTerminal:
				src = a.io.in
			default:
				return usageErr("no SQL given: pass it as an argument, with -f FILE, or on standard input")
			}
			return a.runScript(cmd.Context(), src, o)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the SQL from this file (- for standard input)")
	o.register(cmd)
	return cmd
}

// runScript reads a whole script and runs its statements in order.
func (a *app) runScript(ctx context.Context, src io.Reader, o queryOptions) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return fmt.Errorf("reading the SQL: %w", err)
	}
	stmts, _ := splitSQL(string(data))
	if len(stmts) == 0 {
		return usageErr("no SQL given: the input holds no statement")
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	defer c.Close()
	return a.runStatements(ctx, c, stmts, o, a.io.out)
}

// stmtError ties a failure to the statement of a script that caused it.
type stmtError struct {
	n, line int
	err     error
}

func (e *stmtError) Error() string { return e.err.Error() }
func (e *stmtError) Unwrap() error { return e.err }

// runStatements runs stmts one by one and prints each result as it comes.
func (a *app) runStatements(ctx context.Context, c *kalam.Client, stmts []statement, o queryOptions, w io.Writer) error {
	multi := len(stmts) > 1
	var jsonBuf bytes.Buffer
	if o.format == "json" {
		jsonBuf.WriteString("[\n")
		defer func() {
			jsonBuf.WriteString("\n]\n")
			_, _ = w.Write(jsonBuf.Bytes())
		}()
	}
	for i, st := range stmts {
		start := time.Now()
		res, err := c.Query(ctx, st.SQL)
		took := time.Since(start)
		if err != nil {
			if multi {
				return &stmtError{n: i + 1, line: st.Line, err: err}
			}
			return err
		}
		for k, sr := range res.Statements {
			label := ""
			if multi {
				label = fmt.Sprintf("-- statement %d (line %d): %s", i+1, st.Line, abbreviate(st.SQL, 60))
			}
			if err := a.printResult(w, &jsonBuf, i+1, st.SQL, label, sr, o, took, i > 0 || k > 0); err != nil {
				return err
			}
		}
		if o.timing && o.format != "json" {
			tw := w
			if o.format != "table" {
				tw = a.io.err
			}
			fmt.Fprintf(tw, "Took: %.3f ms\n", float64(took.Microseconds())/1000)
		}
	}
	return nil
}

func (a *app) printResult(w io.Writer, jsonBuf *bytes.Buffer, n int, sql, label string, sr kalam.StatementResult, o queryOptions, took time.Duration, notFirst bool) error {
	switch o.format {
	case "table":
		if notFirst {
			fmt.Fprintln(w)
		}
		if label != "" {
			fmt.Fprintln(w, label)
		}
		return writeTable(w, sr, o.rawTime)
	case "json":
		if notFirst {
			jsonBuf.WriteString(",\n")
		}
		statementJSON(jsonBuf, n, sql, sr, took, o.timing)
		return nil
	}
	// csv and jsonl: stdout stays pure data; labels and messages go to stderr.
	if label != "" {
		fmt.Fprintln(a.io.err, label)
	}
	if len(sr.Columns) == 0 {
		msg := sr.Message
		if msg == "" {
			msg = fmt.Sprintf("%d row%s affected", sr.RowCount, plural(int(sr.RowCount)))
		}
		fmt.Fprintln(a.io.err, msg)
		return nil
	}
	if o.format == "csv" {
		if notFirst {
			fmt.Fprintln(w)
		}
		return writeCSV(w, sr)
	}
	return writeJSONL(w, sr)
}

// abbreviate shortens SQL to one line of at most n characters for labels.
func abbreviate(sql string, n int) string {
	s := strings.Join(strings.Fields(sql), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
