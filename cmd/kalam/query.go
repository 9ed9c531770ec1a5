package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kalamgo/kalam"
)

// runQuery runs SQL over HTTP and prints the result.
func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kalam query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addConnFlags(fs)
	format := fs.String("format", "table", "output format: table or json")
	fs.Usage = usageFunc(fs, stderr, "Usage: kalam query [flags] SQL\n\nRuns SQL over HTTP (no socket is opened) and prints the result.\nSeveral statements may be separated by semicolons.")
	if err := parseFlags(fs, args, -1); err != nil {
		return err
	}
	sql := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if sql == "" {
		fmt.Fprintln(stderr, "kalam query: no SQL given")
		fs.Usage()
		return errUsage
	}
	if *format != "table" && *format != "json" {
		fmt.Fprintf(stderr, "kalam query: unknown format %q (want table or json)\n", *format)
		return errUsage
	}
	cfg, err := cf.config(stderr)
	if err != nil {
		return err
	}
	c, err := kalam.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Query(ctx, sql)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeJSONResult(stdout, res)
	}
	return writeTable(stdout, res)
}

// jsonStatement is one statement of `kalam query -format json`.
type jsonStatement struct {
	Columns  []string                     `json:"columns,omitempty"`
	Rows     []map[string]json.RawMessage `json:"rows,omitempty"`
	RowCount int64                        `json:"row_count"`
	Message  string                       `json:"message,omitempty"`
}

func writeJSONResult(w io.Writer, res *kalam.Result) error {
	out := make([]jsonStatement, 0, len(res.Statements))
	for _, st := range res.Statements {
		js := jsonStatement{RowCount: st.RowCount, Message: st.Message}
		for _, c := range st.Columns {
			js.Columns = append(js.Columns, c.Name)
		}
		for _, r := range st.Rows {
			js.Rows = append(js.Rows, rawRow(r))
		}
		out = append(out, js)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func rawRow(r kalam.Row) map[string]json.RawMessage {
	m := make(map[string]json.RawMessage, len(r))
	for k, v := range r {
		m[k] = v.Raw()
	}
	return m
}

func writeTable(w io.Writer, res *kalam.Result) error {
	for i, st := range res.Statements {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if len(st.Columns) == 0 {
			msg := st.Message
			if msg == "" {
				msg = fmt.Sprintf("%d row(s) affected", st.RowCount)
			}
			fmt.Fprintln(w, msg)
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		names := make([]string, len(st.Columns))
		for j, c := range st.Columns {
			names[j] = c.Name
		}
		fmt.Fprintln(tw, strings.Join(names, "\t"))
		for _, r := range st.Rows {
			cells := make([]string, len(names))
			for j, n := range names {
				cells[j] = cellText(r.Get(n))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "(%d row%s)\n", len(st.Rows), plural(len(st.Rows)))
	}
	return nil
}

// cellText renders a cell for a table: text without quotes, NULL as NULL,
// anything else as its JSON; tabs and newlines are escaped so columns stay
// aligned.
func cellText(v kalam.Value) string {
	if v.IsNull() {
		return "NULL"
	}
	s := v.String()
	return strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(s)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
