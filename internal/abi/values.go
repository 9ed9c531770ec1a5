package abi

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/kalamgo/kalam/auth/credential"
	"github.com/kalamgo/kalam/transport/wire"
)

// Composite values shared by inputs and effects.

// appendCredentials writes what the engine needs of credentials. The
// refresh token is left out on purpose: the engine never uses it (the
// driver keeps it for the provider), so it never enters the guest.
func appendCredentials(b []byte, c credential.Credentials) []byte {
	b = appendString(b, c.AccessToken.Reveal())
	b = appendVarint(b, int64(c.Lifetime))
	b = appendString(b, c.User)
	b = appendString(b, c.Role)
	return appendBool(b, c.Anonymous)
}

func (d *decoder) credentials() credential.Credentials {
	return credential.Credentials{
		AccessToken: credential.NewSecret(d.str()),
		Lifetime:    time.Duration(d.varint()),
		User:        d.str(),
		Role:        d.str(),
		Anonymous:   d.bool(),
	}
}

// Subscription options: a flags byte saying which fields follow, then each
// present one as a varint, in field order.
const (
	optBatchSize = 1 << iota
	optLastRows
	optFrom
	optFromSeqID
	optAll = optBatchSize | optLastRows | optFrom | optFromSeqID
)

func appendOptions(b []byte, o *wire.SubscriptionOptions) []byte {
	if o == nil {
		return append(b, 0)
	}
	var flags byte
	if o.BatchSize != nil {
		flags |= optBatchSize
	}
	if o.LastRows != nil {
		flags |= optLastRows
	}
	if o.From != nil {
		flags |= optFrom
	}
	if o.FromSeqID != nil {
		flags |= optFromSeqID
	}
	b = append(b, 1, flags)
	if o.BatchSize != nil {
		b = appendVarint(b, int64(*o.BatchSize))
	}
	if o.LastRows != nil {
		b = appendVarint(b, int64(*o.LastRows))
	}
	if o.From != nil {
		b = appendVarint(b, int64(*o.From))
	}
	if o.FromSeqID != nil {
		b = appendVarint(b, int64(*o.FromSeqID))
	}
	return b
}

func (d *decoder) options() *wire.SubscriptionOptions {
	if !d.bool() {
		return nil
	}
	flags := d.u8()
	if flags&^optAll != 0 {
		d.fail(CodeBadValue, "subscription option flags")
		return nil
	}
	o := &wire.SubscriptionOptions{}
	if flags&optBatchSize != 0 {
		v := d.int()
		o.BatchSize = &v
	}
	if flags&optLastRows != 0 {
		v := d.int()
		o.LastRows = &v
	}
	if flags&optFrom != 0 {
		v := wire.SeqID(d.varint())
		o.From = &v
	}
	if flags&optFromSeqID != 0 {
		v := wire.SeqID(d.varint())
		o.FromSeqID = &v
	}
	return o
}

// appendParams writes query parameters as a list of JSON texts, each as
// encoding/json writes it. They come back as json.RawMessage values, which
// encode to the same JSON, so the request the driver finally sends is
// unchanged.
func appendParams(b []byte, params []any) ([]byte, error) {
	b = appendUvarint(b, uint64(len(params)))
	for i, p := range params {
		if raw, ok := p.(json.RawMessage); ok && json.Valid(raw) {
			b = appendBytes(b, raw)
			continue
		}
		j, err := json.Marshal(p)
		if err != nil {
			return b, Errorf(CodeUnencodable, "query parameter "+strconv.Itoa(i)+" is not JSON-encodable")
		}
		b = appendBytes(b, j)
	}
	return b, nil
}

func (d *decoder) params() []any {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]any, 0, n)
	for range n {
		raw := d.bytes()
		if d.err != nil {
			return nil
		}
		if !json.Valid(raw) {
			d.fail(CodeBadValue, "query parameter is not JSON")
			return nil
		}
		out = append(out, json.RawMessage(raw))
	}
	return out
}

func appendRequest(b []byte, r wire.SQLRequest) ([]byte, error) {
	b = appendString(b, r.SQL)
	b, err := appendParams(b, r.Params)
	return appendString(b, r.NamespaceID), err
}

func (d *decoder) request() wire.SQLRequest {
	return wire.SQLRequest{SQL: d.str(), Params: d.params(), NamespaceID: d.str()}
}

func appendRows(b []byte, rows []wire.Row) []byte {
	b = appendUvarint(b, uint64(len(rows)))
	for _, r := range rows {
		b = appendBytes(b, r)
	}
	return b
}

func (d *decoder) rows() []wire.Row {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]wire.Row, n)
	for i := range out {
		out[i] = d.bytes()
	}
	return out
}

func appendSchema(b []byte, fields []wire.SchemaField) []byte {
	b = appendUvarint(b, uint64(len(fields)))
	for _, f := range fields {
		b = appendString(b, f.Name)
		b = appendString(b, f.DataType.Name)
		if f.DataType.Raw != nil {
			b = append(b, 1)
			b = appendBytes(b, f.DataType.Raw)
		} else {
			b = append(b, 0)
		}
		b = appendVarint(b, int64(f.Index))
		b = appendUvarint(b, uint64(len(f.Flags)))
		for _, fl := range f.Flags {
			b = appendString(b, fl)
		}
	}
	return b
}

func (d *decoder) schema() []wire.SchemaField {
	n := d.count(5)
	if n == 0 {
		return nil
	}
	out := make([]wire.SchemaField, n)
	for i := range out {
		f := &out[i]
		f.Name = d.str()
		f.DataType.Name = d.str()
		if d.bool() {
			f.DataType.Raw = d.bytes()
			if f.DataType.Raw == nil {
				f.DataType.Raw = json.RawMessage{}
			}
		}
		f.Index = d.int()
		if k := d.count(1); k > 0 {
			f.Flags = make([]string, k)
			for j := range f.Flags {
				f.Flags[j] = d.str()
			}
		}
		if d.err != nil {
			return nil
		}
	}
	return out
}

func appendResponse(b []byte, r *wire.SQLResponse) []byte {
	if r == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendString(b, r.Status)
	b = appendF64(b, r.Took)
	if r.Error != nil {
		b = append(b, 1)
		b = appendString(b, r.Error.Code)
		b = appendString(b, r.Error.Message)
		b = appendString(b, r.Error.Details)
	} else {
		b = append(b, 0)
	}
	b = appendUvarint(b, uint64(len(r.Results)))
	for _, q := range r.Results {
		b = appendSchema(b, q.Schema)
		b = appendUvarint(b, uint64(len(q.Rows)))
		for _, row := range q.Rows {
			b = appendUvarint(b, uint64(len(row)))
			for _, cell := range row {
				b = appendBytes(b, cell)
			}
		}
		b = appendVarint(b, q.RowCount)
		b = appendString(b, q.Message)
		b = appendString(b, q.AsUser)
	}
	return b
}

func (d *decoder) response() *wire.SQLResponse {
	if !d.bool() {
		return nil
	}
	r := &wire.SQLResponse{Status: d.str(), Took: d.f64()}
	if d.bool() {
		r.Error = &wire.ErrorBody{Code: d.str(), Message: d.str(), Details: d.str()}
	}
	n := d.count(5)
	if n > 0 {
		r.Results = make([]wire.QueryResult, n)
	}
	for i := range r.Results {
		q := &r.Results[i]
		q.Schema = d.schema()
		if rows := d.count(1); rows > 0 {
			q.Rows = make([][]json.RawMessage, rows)
			for j := range q.Rows {
				if cells := d.count(1); cells > 0 {
					q.Rows[j] = make([]json.RawMessage, cells)
					for k := range q.Rows[j] {
						q.Rows[j][k] = d.bytes()
					}
				}
				if d.err != nil {
					return nil
				}
			}
		}
		q.RowCount = d.varint()
		q.Message = d.str()
		q.AsUser = d.str()
		if d.err != nil {
			return nil
		}
	}
	return r
}
