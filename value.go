package kalam

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/kalamgo/kalam/transport/wire"
)

// ErrType reports a cell read as a type it does not hold.
var ErrType = errors.New("kalam: cell has another type")

// Value is one cell as KalamDB sent it. Accessors convert on demand;
// BigInt cells (JSON strings on the wire) read as int64 without passing
// through float64.
type Value struct{ raw json.RawMessage }

// Raw returns the cell's JSON.
func (v Value) Raw() json.RawMessage { return v.raw }

// IsNull reports a NULL (or absent) cell.
func (v Value) IsNull() bool { return len(v.raw) == 0 || bytes.Equal(v.raw, []byte("null")) }

// Int64 reads an integer cell, given as a JSON number or a decimal string.
func (v Value) Int64() (int64, error) {
	b := v.raw
	if len(b) >= 2 && b[0] == '"' {
		b = b[1 : len(b)-1]
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, ErrType
	}
	return n, nil
}

// Float64 reads a numeric cell (numbers, or decimal strings such as
// Decimal columns).
func (v Value) Float64() (float64, error) {
	b := v.raw
	if len(b) >= 2 && b[0] == '"' {
		b = b[1 : len(b)-1]
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, ErrType
	}
	return f, nil
}

// String reads a text cell; for any other cell it returns its JSON.
func (v Value) String() string {
	var s string
	if len(v.raw) > 0 && v.raw[0] == '"' && json.Unmarshal(v.raw, &s) == nil {
		return s
	}
	if v.IsNull() {
		return ""
	}
	return string(v.raw)
}

// Bool reads a boolean cell.
func (v Value) Bool() (bool, error) {
	switch string(v.raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, ErrType
}

// Decode unmarshals the cell's JSON into dst.
func (v Value) Decode(dst any) error { return json.Unmarshal(v.raw, dst) }

// Equal reports whether two cells hold the same JSON text.
func (v Value) Equal(o Value) bool { return bytes.Equal(v.raw, o.raw) }

// Row is one row, by column name.
type Row map[string]Value

// Get returns the named cell (a NULL Value when absent).
func (r Row) Get(col string) Value { return r[col] }

// Seq returns the row's _seq, when present.
func (r Row) Seq() (wire.SeqID, bool) {
	v, ok := r[wire.SeqColumn]
	if !ok || v.IsNull() {
		return 0, false
	}
	n, err := v.Int64()
	return wire.SeqID(n), err == nil
}

// rowFromWire decodes a live row (a JSON object).
func rowFromWire(raw wire.Row) (Row, error) {
	cells, err := wire.Cells(raw)
	if err != nil {
		return nil, err
	}
	r := make(Row, len(cells))
	for k, c := range cells {
		r[k] = Value{raw: c}
	}
	return r, nil
}

// Column describes one column of a result.
type Column struct {
	Name string
	// Type is the KalamDB type name ("BigInt", "Text", …).
	Type       string
	PrimaryKey bool
	NotNull    bool
}

func columns(schema []wire.SchemaField) []Column {
	out := make([]Column, len(schema))
	for i, f := range schema {
		c := Column{Name: f.Name, Type: f.DataType.Name}
		for _, fl := range f.Flags {
			switch fl {
			case "pk":
				c.PrimaryKey = true
			case "nn":
				c.NotNull = true
			}
		}
		out[i] = c
	}
	return out
}

// Result is the answer to Query: one StatementResult per result the server
// returned (KalamDB appends the counts of DML statements in a batch at the
// end).
type Result struct {
	Statements []StatementResult
	// Took is the server's execution time in milliseconds.
	Took float64
}

// StatementResult is one statement's outcome.
type StatementResult struct {
	Columns []Column
	Rows    []Row
	// RowCount is the number of rows returned or affected.
	RowCount int64
	Message  string
	AsUser   string
}

// Rows returns the rows of the first statement that returned any columns.
func (r *Result) Rows() []Row {
	for _, s := range r.Statements {
		if len(s.Columns) > 0 {
			return s.Rows
		}
	}
	return nil
}

func resultFromWire(resp *wire.SQLResponse) (*Result, error) {
	res := &Result{Took: resp.Took, Statements: make([]StatementResult, len(resp.Results))}
	for i, qr := range resp.Results {
		st := StatementResult{Columns: columns(qr.Schema), RowCount: qr.RowCount, Message: qr.Message, AsUser: qr.AsUser}
		st.Rows = make([]Row, len(qr.Rows))
		for j, cells := range qr.Rows {
			if len(cells) > len(qr.Schema) {
				return nil, errors.Join(ErrProtocol, errors.New("kalam: result row has more cells than the schema has columns"))
			}
			row := make(Row, len(cells))
			for k, c := range cells {
				row[qr.Schema[k].Name] = Value{raw: c}
			}
			st.Rows[j] = row
		}
		res.Statements[i] = st
	}
	return res, nil
}
