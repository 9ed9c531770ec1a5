package store

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kalamgo/kalam/transport/wire"
)

// kind is a KalamDataType.
type kind uint8

const (
	kBoolean kind = iota + 1
	kSmallInt
	kInt
	kBigInt
	kFloat
	kDouble
	kText
	kTimestamp
	kDate
	kDateTime
	kTime
	kJSON
	kBytes
	kEmbedding
	kUUID
	kDecimal
	kFile
)

var kindNames = [...]string{
	kBoolean:   wire.TypeBoolean,
	kSmallInt:  wire.TypeSmallInt,
	kInt:       wire.TypeInt,
	kBigInt:    wire.TypeBigInt,
	kFloat:     wire.TypeFloat,
	kDouble:    wire.TypeDouble,
	kText:      wire.TypeText,
	kTimestamp: wire.TypeTimestamp,
	kDate:      wire.TypeDate,
	kDateTime:  wire.TypeDateTime,
	kTime:      wire.TypeTime,
	kJSON:      wire.TypeJSON,
	kBytes:     wire.TypeBytes,
	kEmbedding: wire.TypeEmbedding,
	kUUID:      wire.TypeUUID,
	kDecimal:   wire.TypeDecimal,
	kFile:      wire.TypeFile,
}

// colType is a column's type: its kind plus the parameters of Embedding
// (dimension in p) and Decimal (precision p, scale s).
type colType struct {
	kind kind
	p, s int
}

// sqlTypeNames maps the SQL spellings KalamDB accepts to kinds.
var sqlTypeNames = map[string]kind{
	"boolean": kBoolean, "bool": kBoolean,
	"smallint": kSmallInt, "int2": kSmallInt, "tinyint": kSmallInt,
	"int": kInt, "integer": kInt, "int4": kInt, "mediumint": kInt,
	"bigint": kBigInt, "int8": kBigInt,
	"float": kFloat, "float4": kFloat, "real": kFloat,
	"double": kDouble, "float8": kDouble,
	"text": kText, "varchar": kText, "string": kText, "char": kText, "nvarchar": kText, "character": kText,
	"timestamp": kTimestamp, "timestamptz": kTimestamp,
	"date":     kDate,
	"datetime": kDateTime,
	"time":     kTime,
	"json":     kJSON, "jsonb": kJSON,
	"bytes": kBytes, "bytea": kBytes, "blob": kBytes, "binary": kBytes, "varbinary": kBytes,
	"embedding": kEmbedding, "vector": kEmbedding,
	"uuid":    kUUID,
	"decimal": kDecimal, "numeric": kDecimal,
	"file": kFile,
}

// dataType returns the schema form of t.
func (t colType) dataType() wire.DataType {
	name := kindNames[t.kind]
	switch t.kind {
	case kEmbedding:
		return wire.DataType{Name: name, Raw: json.RawMessage(`{"Embedding":` + strconv.Itoa(t.p) + `}`)}
	case kDecimal:
		return wire.DataType{Name: name, Raw: json.RawMessage(`{"Decimal":{"precision":` +
			strconv.Itoa(t.p) + `,"scale":` + strconv.Itoa(t.s) + `}}`)}
	}
	return wire.DataType{Name: name}
}

// affinity is the SQLite storage type used for t.
func (t colType) affinity() string {
	switch t.kind {
	case kBoolean, kSmallInt, kInt, kBigInt, kTimestamp, kDate, kDateTime, kTime:
		return "INTEGER"
	case kFloat, kDouble, kDecimal:
		return "REAL"
	case kBytes:
		return "BLOB"
	}
	return "TEXT"
}

// conv names the input conversion kalam_in applies for t, or "" when
// SQLite's column affinity is enough.
func (t colType) conv() string {
	switch t.kind {
	case kBoolean:
		return "bool"
	case kTimestamp, kDateTime:
		return "ts"
	case kDate:
		return "date"
	case kTime:
		return "time"
	case kJSON:
		return "json"
	case kBytes:
		return "bytes"
	case kUUID:
		return "uuid"
	case kEmbedding:
		return "emb" + strconv.Itoa(t.p)
	case kSmallInt:
		return "i16"
	case kInt:
		return "i32"
	case kBigInt:
		return "i64"
	case kFloat:
		return "f32"
	case kDouble:
		return "f64"
	case kDecimal:
		return "dec"
	}
	return ""
}

// appendCell appends v, a value read from SQLite (nil, int64, float64,
// string or []byte), as the JSON cell KalamDB sends for a column of type t.
func appendCell(b []byte, t colType, v any) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch t.kind {
	case kBoolean:
		switch x := v.(type) {
		case int64:
			return strconv.AppendBool(b, x != 0)
		case float64:
			return strconv.AppendBool(b, x != 0)
		case string:
			return strconv.AppendBool(b, strings.EqualFold(x, "true") || x == "1")
		}
	case kSmallInt, kInt, kTimestamp, kDate, kDateTime, kTime:
		switch x := v.(type) {
		case int64:
			return strconv.AppendInt(b, x, 10)
		case float64:
			return appendFloat(b, x, 64)
		}
	case kBigInt:
		switch x := v.(type) {
		case int64:
			b = append(b, '"')
			b = strconv.AppendInt(b, x, 10)
			return append(b, '"')
		case float64:
			b = append(b, '"')
			b = strconv.AppendFloat(b, x, 'f', -1, 64)
			return append(b, '"')
		}
	case kFloat, kDouble:
		bits := 64
		if t.kind == kFloat {
			bits = 32
		}
		switch x := v.(type) {
		case float64:
			return appendFloat(b, x, bits)
		case int64:
			return strconv.AppendInt(b, x, 10)
		}
	case kDecimal:
		switch x := v.(type) {
		case float64:
			b = append(b, '"')
			b = strconv.AppendFloat(b, x, 'f', t.s, 64)
			return append(b, '"')
		case int64:
			b = append(b, '"')
			b = strconv.AppendFloat(b, float64(x), 'f', t.s, 64)
			return append(b, '"')
		}
	case kBytes:
		switch x := v.(type) {
		case []byte:
			return appendByteArray(b, x)
		case string:
			return appendByteArray(b, []byte(x))
		}
	case kEmbedding:
		if s, ok := v.(string); ok && json.Valid([]byte(s)) {
			return append(b, s...)
		}
	}
	return appendAny(b, v)
}

// appendAny encodes a value whose column type is unknown (an expression):
// integers become BigInt strings, like KalamDB's Int64 aggregates.
func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case int64:
		b = append(b, '"')
		b = strconv.AppendInt(b, x, 10)
		return append(b, '"')
	case float64:
		return appendFloat(b, x, 64)
	case string:
		return appendJSONString(b, x)
	case []byte:
		return appendByteArray(b, x)
	}
	return append(b, "null"...)
}

func appendByteArray(b, raw []byte) []byte {
	b = append(b, '[')
	for i, c := range raw {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	return append(b, ']')
}

// appendFloat writes a JSON number; NaN and infinities have no JSON form
// (KalamDB refuses to convert them) and become null.
func appendFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// convertIn normalizes a value written into a column whose conversion is
// conv (see colType.conv). It returns the value to store, or an error text.
func convertIn(conv string, v any) (any, string) {
	if v == nil {
		return nil, ""
	}
	if _, ok := numericConvs[conv]; ok {
		return convertNumeric(conv, v)
	}
	switch conv {
	case "bool":
		switch x := v.(type) {
		case int64:
			return b2i(x != 0), ""
		case float64:
			return b2i(x != 0), ""
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "t", "1", "yes", "on":
				return int64(1), ""
			case "false", "f", "0", "no", "off":
				return int64(0), ""
			}
		}
		return nil, "invalid BOOLEAN value " + describe(v)
	case "ts":
		switch x := v.(type) {
		case int64:
			return x, ""
		case float64:
			return int64(x), ""
		case string:
			if us, ok := parseTimestamp(x); ok {
				return us, ""
			}
		}
		return nil, "invalid TIMESTAMP value " + describe(v)
	case "date":
		switch x := v.(type) {
		case int64:
			return x, ""
		case string:
			if t, err := time.Parse("2006-01-02", strings.TrimSpace(x)); err == nil {
				return t.Unix() / 86400, ""
			}
			if us, ok := parseTimestamp(x); ok {
				return floorDiv(us, 86400e6), ""
			}
		}
		return nil, "invalid DATE value " + describe(v)
	case "time":
		switch x := v.(type) {
		case int64:
			return x, ""
		case string:
			for _, layout := range []string{"15:04:05.999999999", "15:04"} {
				if t, err := time.Parse(layout, strings.TrimSpace(x)); err == nil {
					return int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond()/1000), ""
				}
			}
		}
		return nil, "invalid TIME value " + describe(v)
	case "json":
		switch x := v.(type) {
		case string:
			if json.Valid([]byte(x)) {
				return x, ""
			}
		case int64:
			return strconv.FormatInt(x, 10), ""
		case float64:
			return string(appendFloat(nil, x, 64)), ""
		}
		return nil, "invalid JSON value " + describe(v)
	case "bytes":
		if s, ok := v.(string); ok {
			return []byte(s), ""
		}
		return v, ""
	case "uuid":
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			if len(x) == 16 {
				s = formatUUID(x)
			}
		}
		if u, ok := canonicalUUID(s); ok {
			return u, ""
		}
		return nil, "invalid UUID value " + describe(v)
	}
	if dim, ok := strings.CutPrefix(conv, "emb"); ok {
		n, _ := strconv.Atoi(dim)
		s, isText := v.(string)
		var fs []float64
		if !isText || json.Unmarshal([]byte(s), &fs) != nil {
			return nil, "invalid EMBEDDING value " + describe(v) + ": expected a JSON array of numbers"
		}
		if len(fs) != n {
			return nil, "embedding dimension mismatch: expected " + strconv.Itoa(n) + ", got " + strconv.Itoa(len(fs))
		}
		b := make([]byte, 0, len(fs)*8+2)
		b = append(b, '[')
		for i, f := range fs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, float32Round(f), 32)
		}
		return string(append(b, ']')), ""
	}
	return v, ""
}

func float32Round(f float64) float64 { return float64(float32(f)) }

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// parseTimestamp reads a timestamp text as microseconds since the epoch
// (UTC unless the text carries an offset). Numeric text is taken as µs.
func parseTimestamp(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02 15:04",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), true
		}
	}
	return 0, false
}

func canonicalUUID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimSuffix(s, "}"), "{")
	hex := strings.ReplaceAll(s, "-", "")
	if len(hex) != 32 {
		return "", false
	}
	if len(s) != 32 && (len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') {
		return "", false
	}
	var raw [16]byte
	for i := 0; i < 16; i++ {
		hi, lo := unhex(hex[2*i]), unhex(hex[2*i+1])
		if hi < 0 || lo < 0 {
			return "", false
		}
		raw[i] = byte(hi<<4 | lo)
	}
	return formatUUID(raw[:]), true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func formatUUID(b []byte) string {
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return string(out)
}

// describe renders a rejected input value for an error message, shortened.
func describe(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []byte:
		return "<" + strconv.Itoa(len(x)) + " bytes>"
	default:
		return "?"
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return "'" + s + "'"
}
