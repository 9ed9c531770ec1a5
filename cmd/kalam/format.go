package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kalamgo/kalam"
)

// formats are the output formats of query results.
var formats = []string{"table", "csv", "json", "jsonl"}

func checkFormat(f string) error {
	for _, ok := range formats {
		if f == ok {
			return nil
		}
	}
	return usageErr("unknown format %q: use one of %s", f, strings.Join(formats, ", "))
}

// numericTypes are right-aligned in tables.
var numericTypes = map[string]bool{"BigInt": true, "Int": true, "SmallInt": true, "Double": true, "Float": true, "Decimal": true}

// writeTable prints one statement's result as an aligned table in column
// order, psql style: NULL as NULL, numbers right-aligned, timestamps as UTC
// date and time unless rawTime.
func writeTable(w io.Writer, st kalam.StatementResult, rawTime bool) error {
	if len(st.Columns) == 0 {
		msg := st.Message
		if msg == "" {
			msg = fmt.Sprintf("%d row%s affected", st.RowCount, plural(int(st.RowCount)))
		}
		_, err := fmt.Fprintln(w, msg)
		return err
	}
	names := make([]string, len(st.Columns))
	right := make([]bool, len(st.Columns))
	for j, c := range st.Columns {
		names[j], right[j] = c.Name, numericTypes[c.Type]
	}
	cells := make([][]string, len(st.Rows))
	for i, r := range st.Rows {
		cells[i] = make([]string, len(names))
		for j, c := range st.Columns {
			cells[i][j] = cellText(c, r.Get(c.Name), rawTime)
		}
	}
	return writeGrid(w, names, right, cells)
}

// writeGrid prints an aligned table: centred headers, a rule, the cells
// (right-aligned where right says so, except NULL) and the row count.
func writeGrid(w io.Writer, names []string, right []bool, cells [][]string) error {
	widths := make([]int, len(names))
	for j, n := range names {
		widths[j] = utf8.RuneCountInString(n)
	}
	for _, row := range cells {
		for j, s := range row {
			widths[j] = max(widths[j], utf8.RuneCountInString(s))
		}
	}
	var b bytes.Buffer
	for j, n := range names {
		if j > 0 {
			b.WriteString("|")
		}
		b.WriteString(" " + center(n, widths[j]) + " ")
	}
	b.WriteString("\n")
	for j := range names {
		if j > 0 {
			b.WriteString("+")
		}
		b.WriteString(strings.Repeat("-", widths[j]+2))
	}
	b.WriteString("\n")
	for _, row := range cells {
		for j, s := range row {
			if j > 0 {
				b.WriteString("|")
			}
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(s))
			if right[j] && s != "NULL" {
				b.WriteString(" " + pad + s + " ")
			} else {
				b.WriteString(" " + s + pad + " ")
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "(%d row%s)\n", len(cells), plural(len(cells)))
	_, err := w.Write(trimLineEnds(b.Bytes()))
	return err
}

// trimLineEnds drops the trailing spaces of each line, as psql does not.
func trimLineEnds(b []byte) []byte {
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimRight(l, " ")
	}
	return bytes.Join(lines, []byte("\n"))
}

func center(s string, w int) string {
	gap := w - utf8.RuneCountInString(s)
	left := gap / 2
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", gap-left)
}

// cellText renders one cell for a table: text without quotes, NULL as NULL,
// times readable, anything else as its JSON; tabs and newlines are escaped
// so columns stay aligned.
func cellText(c kalam.Column, v kalam.Value, rawTime bool) string {
	if v.IsNull() {
		return "NULL"
	}
	if !rawTime {
		if s, ok := readableTime(c.Type, v); ok {
			return s
		}
	}
	return strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(v.String())
}

// readableTime renders KalamDB's integer times: Timestamp and DateTime in
// µs since the epoch, Date in days, Time in µs since midnight; all UTC.
func readableTime(typ string, v kalam.Value) (string, bool) {
	switch typ {
	case "Timestamp", "DateTime", "Date", "Time":
	default:
		return "", false
	}
	n, err := v.Int64()
	if err != nil {
		return "", false
	}
	switch typ {
	case "Date":
		return time.Unix(n*86400, 0).UTC().Format(time.DateOnly), true
	case "Time":
		return time.UnixMicro(n).UTC().Format("15:04:05.999999"), true
	}
	return time.UnixMicro(n).UTC().Format("2006-01-02 15:04:05.999999Z07:00"), true
}

// writeCSV prints a header and the rows; NULL is an empty field and every
// value is as the server sent it (text unquoted, numbers exact).
func writeCSV(w io.Writer, st kalam.StatementResult) error {
	if len(st.Columns) == 0 {
		return nil
	}
	cw := csv.NewWriter(w)
	rec := make([]string, len(st.Columns))
	for j, c := range st.Columns {
		rec[j] = c.Name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for _, r := range st.Rows {
		for j, c := range st.Columns {
			v := r.Get(c.Name)
			if v.IsNull() {
				rec[j] = ""
			} else {
				rec[j] = v.String()
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// maxExact is the largest integer a float64 (a JavaScript number) holds
// exactly.
const maxExact = 1 << 53

// jsonCell is a cell's JSON for output: as the server sent it, except that
// _seq and integers beyond 2^53 become strings so that no reader loses
// digits by decoding them as float64.
func jsonCell(col string, v kalam.Value) json.RawMessage {
	raw := v.Raw()
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return raw
	}
	if bytes.ContainsAny(raw, ".eE") {
		return raw
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if col == "_seq" || err != nil || n > maxExact || n < -maxExact {
		return json.RawMessage(strconv.Quote(string(raw)))
	}
	return raw
}

// rowJSON writes a row as a JSON object with its keys in column order.
func rowJSON(b *bytes.Buffer, cols []kalam.Column, r kalam.Row) {
	b.WriteByte('{')
	for j, c := range cols {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(mustJSON(c.Name))
		b.WriteByte(':')
		b.Write(jsonCell(c.Name, r.Get(c.Name)))
	}
	b.WriteByte('}')
}

// writeJSONL prints each row as one JSON object, keys in column order.
func writeJSONL(w io.Writer, st kalam.StatementResult) error {
	var b bytes.Buffer
	for _, r := range st.Rows {
		rowJSON(&b, st.Columns, r)
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// statementJSON is one element of the json format's array.
func statementJSON(b *bytes.Buffer, n int, sql string, st kalam.StatementResult, took time.Duration, timing bool) {
	fmt.Fprintf(b, "  {\"statement\": %d, \"sql\": %s", n, mustJSON(sql))
	if len(st.Columns) > 0 {
		b.WriteString(", \"columns\": [")
		for j, c := range st.Columns {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "{\"name\": %s, \"type\": %s}", mustJSON(c.Name), mustJSON(c.Type))
		}
		b.WriteString("],\n   \"rows\": [")
		for i, r := range st.Rows {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n    ")
			rowJSON(b, st.Columns, r)
		}
		if len(st.Rows) > 0 {
			b.WriteString("\n   ")
		}
		b.WriteString("]")
	}
	fmt.Fprintf(b, ",\n   \"row_count\": %d", st.RowCount)
	if st.Message != "" {
		fmt.Fprintf(b, ", \"message\": %s", mustJSON(st.Message))
	}
	if timing {
		fmt.Fprintf(b, ", \"took_ms\": %.3f", float64(took.Microseconds())/1000)
	}
	b.WriteString("}")
}

// mustJSON encodes a string or other plain value without HTML escaping.
func mustJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
