package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"
)

// meta runs one backslash command; it reports whether the shell should quit.
func (sh *shell) meta(ctx context.Context, cmd string) (quit bool) {
	name, arg, _ := strings.Cut(cmd, " ")
	arg = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(arg), ";"))
	out := sh.a.io.out
	switch name {
	case `\q`, `\quit`:
		return true
	case `\?`, `\h`, `\help`:
		fmt.Fprintln(out, shellHelp)
	case `\timing`:
		sh.opts.timing = !sh.opts.timing
		fmt.Fprintf(out, "Timing is %s.\n", map[bool]string{true: "on", false: "off"}[sh.opts.timing])
	case `\format`:
		if err := checkFormat(arg); err != nil {
			sh.printErr(err)
			return false
		}
		sh.opts.format = arg
		fmt.Fprintf(out, "Output format is %s.\n", arg)
	case `\dn`:
		sh.exec(ctx, []statement{{SQL: "SHOW NAMESPACES", Line: 1}})
	case `\dt`:
		sql := "SHOW TABLES"
		if arg != "" {
			sql += " IN " + arg
		}
		sh.exec(ctx, []statement{{SQL: sql, Line: 1}})
	case `\d`:
		if arg == "" {
			sh.printErr(usageErr(`\d needs a table: \d orders or \d shop.orders`))
			return false
		}
		sh.describe(ctx, arg)
	case `\c`, `\connect`:
		if arg == "" {
			fmt.Fprintf(out, "Namespace is %q.\n", sh.c.Namespace())
			return false
		}
		if err := sh.c.SetNamespace(arg); err != nil {
			sh.printErr(err)
			return false
		}
		sh.tables = nil
		fmt.Fprintf(out, "Namespace is now %s.\n", arg)
	case `\live`:
		if arg == "" {
			sh.printErr(usageErr(`\live needs a query: \live SELECT * FROM orders`))
			return false
		}
		sh.live(ctx, arg)
	default:
		sh.printErr(usageErr(`unknown command %s: \? lists them`, name))
	}
	return false
}

// describe prints a table's columns, read from an empty SELECT.
func (sh *shell) describe(ctx context.Context, table string) {
	cctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	res, err := sh.c.Query(cctx, "SELECT * FROM "+table+" LIMIT 0")
	if err != nil {
		sh.printErr(err)
		return
	}
	if len(res.Statements) == 0 {
		return
	}
	var cells [][]string
	for _, c := range res.Statements[0].Columns {
		cells = append(cells, []string{c.Name, c.Type, yes(c.PrimaryKey, "primary key", ""), yes(c.NotNull, "not null", "null")})
	}
	fmt.Fprintf(sh.a.io.out, "Table %s\n", table)
	_ = writeGrid(sh.a.io.out, []string{"column", "type", "key", "nullable"}, make([]bool, 4), cells)
}

func yes(b bool, y, n string) string {
	if b {
		return y
	}
	return n
}

// live follows a live query until Ctrl-C, on a client of its own so the
// shell's client keeps serving queries.
func (sh *shell) live(ctx context.Context, sql string) {
	cctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	cfg := sh.cfg
	cfg.Namespace = sh.c.Namespace()
	fmt.Fprintln(sh.a.io.err, "Following the live query; Ctrl-C stops.")
	err := sh.a.runLive(cctx, cfg, sql, liveOptions{drain: 5 * time.Second, connectTimeout: 30 * time.Second}, sh.a.io.out)
	if err != nil {
		sh.printErr(err)
		return
	}
	fmt.Fprintln(sh.a.io.err, "Live query stopped.")
}

// sqlKeywords are offered by Tab completion.
var sqlKeywords = []string{
	"SELECT", "FROM", "WHERE", "INSERT", "INTO", "VALUES", "UPDATE", "SET", "DELETE",
	"CREATE", "DROP", "TABLE", "USER", "SHARED", "STREAM", "NAMESPACE", "NAMESPACES",
	"SHOW", "TABLES", "USE", "ORDER", "BY", "GROUP", "HAVING", "LIMIT", "OFFSET",
	"AND", "OR", "NOT", "NULL", "IS", "IN", "LIKE", "AS", "JOIN", "LEFT", "ON",
	"DISTINCT", "COUNT", "PRIMARY", "KEY", "DEFAULT", "BIGINT", "INT", "TEXT",
	"BOOLEAN", "DOUBLE", "TIMESTAMP", "JSON", "IF", "EXISTS", "BEGIN", "COMMIT",
	"ROLLBACK", "ASC", "DESC", "NOW()", "CURRENT_USER()",
}

// tableContext are the words after which only a table name makes sense.
var tableContext = map[string]bool{"FROM": true, "JOIN": true, "INTO": true, "UPDATE": true, "TABLE": true}

// lastWord is the last whole word of s.
func lastWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

var metaCommands = []string{`\?`, `\q`, `\dn`, `\dt`, `\d`, `\c`, `\timing`, `\format`, `\live`}

// complete is liner's word completer: keywords (in the case being typed),
// table names (bare and qualified) and namespaces, or meta commands at the
// start of a line.
func (sh *shell) complete(line string, pos int) (head string, completions []string, tail string) {
	head, tail = line[:pos], line[pos:]
	start := strings.LastIndexAny(head, " \t(,=") + 1
	word := head[start:]
	head = head[:start]
	if word == "" {
		return head, nil, tail
	}
	var cands []string
	meta := firstWord(head)
	switch prev := strings.ToUpper(lastWord(head)); {
	case start == 0 && strings.HasPrefix(word, `\`):
		cands = metaCommands
	case meta == `\d` || tableContext[prev]:
		sh.loadNames()
		cands = sh.tables
	case meta == `\dt` || meta == `\c` || prev == "IN" || prev == "USE":
		sh.loadNames()
		cands = sh.spaces
	default:
		sh.loadNames()
		cands = append(append(append(cands, sh.tables...), sh.spaces...), sqlKeywords...)
	}
	lower := strings.ToLower(word) == word
	seen := map[string]bool{}
	for _, c := range cands {
		if !strings.HasPrefix(strings.ToLower(c), strings.ToLower(word)) {
			continue
		}
		if lower && strings.ToUpper(c) == c {
			c = strings.ToLower(c)
		}
		if !seen[c] {
			seen[c] = true
			completions = append(completions, c)
		}
	}
	sort.Strings(completions)
	return head, completions, tail
}

// loadNames reads the tables and namespaces for completion, once until a
// CREATE, DROP or \c makes them stale.
func (sh *shell) loadNames() {
	if sh.tables != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	sh.tables, sh.spaces = []string{}, []string{}
	if res, err := sh.c.Query(ctx, "SHOW TABLES"); err == nil {
		ns := sh.c.Namespace()
		for _, r := range res.Rows() {
			n, t := r.Get("namespace_id").String(), r.Get("table_name").String()
			sh.tables = append(sh.tables, n+"."+t)
			if n == ns {
				sh.tables = append(sh.tables, t)
			}
		}
	}
	if res, err := sh.c.Query(ctx, "SHOW NAMESPACES"); err == nil {
		for _, r := range res.Rows() {
			sh.spaces = append(sh.spaces, r.Get("namespace_id").String())
		}
	}
}
