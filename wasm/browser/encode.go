//go:build js && wasm

package main

import (
	"strconv"
	"unicode/utf8"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/transport/wire"
)

// The encoders below write the JSON that crosses into JavaScript, one string
// per batch. Cells are copied as the server sent them (KalamDB sends 64-bit
// integers, _seq included, as decimal strings); positions (seq, from) are
// written as decimal strings too, since they do not fit a JavaScript number.

func appendEvents(b []byte, evs []kalam.Event) []byte {
	b = append(b, '[')
	for i := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEvent(b, &evs[i])
	}
	return append(b, ']')
}

func appendEvent(b []byte, ev *kalam.Event) []byte {
	b = append(b, `{"kind":`...)
	b = appendString(b, ev.Kind.String())
	b = append(b, `,"seq":`...)
	b = appendSeq(b, ev.Seq)
	if len(ev.Rows) > 0 {
		b = append(b, `,"rows":`...)
		b = appendRows(b, ev.Rows)
	}
	if len(ev.Old) > 0 {
		b = append(b, `,"old":`...)
		b = appendRows(b, ev.Old)
	}
	if len(ev.Columns) > 0 {
		b = append(b, `,"columns":`...)
		b = appendColumns(b, ev.Columns)
	}
	if ev.Kind == kalam.EventSnapshot {
		b = append(b, `,"batch":`...)
		b = strconv.AppendUint(b, uint64(ev.Batch), 10)
		b = append(b, `,"last":`...)
		b = strconv.AppendBool(b, ev.Last)
	}
	if ev.Kind == kalam.EventResumed {
		b = append(b, `,"from":`...)
		b = appendSeq(b, ev.From)
		b = append(b, `,"continuity":`...)
		b = appendString(b, ev.Continuity.String())
		if ev.Err != nil {
			b = append(b, `,"gap":`...)
			b = appendString(b, ev.Err.Error())
		}
	}
	return append(b, '}')
}

func appendSeq(b []byte, s wire.SeqID) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, int64(s), 10)
	return append(b, '"')
}

func appendRows(b []byte, rows []kalam.Row) []byte {
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRow(b, r)
	}
	return append(b, ']')
}

func appendRow(b []byte, r kalam.Row) []byte {
	b = append(b, '{')
	first := true
	for name, v := range r {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, name)
		b = append(b, ':')
		if raw := v.Raw(); len(raw) > 0 {
			b = append(b, raw...)
		} else {
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

func appendColumns(b []byte, cols []kalam.Column) []byte {
	b = append(b, '[')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, c.Name)
		b = append(b, `,"type":`...)
		b = appendString(b, c.Type)
		b = append(b, `,"primaryKey":`...)
		b = strconv.AppendBool(b, c.PrimaryKey)
		b = append(b, `,"notNull":`...)
		b = strconv.AppendBool(b, c.NotNull)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendResult(b []byte, r *kalam.Result) []byte {
	b = append(b, `{"took":`...)
	b = strconv.AppendFloat(b, r.Took, 'g', -1, 64)
	b = append(b, `,"statements":[`...)
	for i, st := range r.Statements {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"columns":`...)
		b = appendColumns(b, st.Columns)
		b = append(b, `,"rows":`...)
		b = appendRows(b, st.Rows)
		b = append(b, `,"rowCount":`...)
		b = strconv.AppendInt(b, st.RowCount, 10)
		if st.Message != "" {
			b = append(b, `,"message":`...)
			b = appendString(b, st.Message)
		}
		if st.AsUser != "" {
			b = append(b, `,"asUser":`...)
			b = appendString(b, st.AsUser)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func appendDrain(b []byte, o kalam.DrainOutcome) []byte {
	b = append(b, `{"timedOut":`...)
	b = strconv.AppendBool(b, o.TimedOut)
	b = append(b, `,"aborted":`...)
	b = strconv.AppendBool(b, o.Aborted)
	for _, f := range []struct {
		name string
		n    int
	}{
		{"queriesCompleted", o.QueriesCompleted},
		{"queriesAbandoned", o.QueriesAbandoned},
		{"loadsCompleted", o.LoadsCompleted},
		{"loadsAbandoned", o.LoadsAbandoned},
		{"subscriptions", o.Subscriptions},
	} {
		b = append(b, `,"`...)
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, int64(f.n), 10)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// JSON.parse would read it anyway.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
