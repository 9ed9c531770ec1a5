package store

import (
	"math"
	"strconv"
	"strings"
)

// Numeric columns are type-checked on write, as KalamDB does: its INSERT
// and UPDATE plans cast every value to the column's Arrow type, and a value
// the cast cannot take fails the statement. Without this check SQLite's
// column affinity would keep 'not_a_number' in an INT column as text.
//
// The conversions follow Arrow's casts: numeric text is parsed (no
// surrounding spaces), reals going into integer columns are truncated
// toward zero, and a value outside the column's range is refused.

// numericConvs maps the conversion names of colType.conv to the Arrow type
// names KalamDB's cast errors use.
var numericConvs = map[string]string{
	"i16": "Int16", "i32": "Int32", "i64": "Int64",
	"f32": "Float32", "f64": "Float64", "dec": "Decimal128",
}

// intRange returns the bounds of an integer conversion.
func intRange(conv string) (int64, int64) {
	switch conv {
	case "i16":
		return math.MinInt16, math.MaxInt16
	case "i32":
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// convertNumeric converts v for a numeric column. The message, when not
// empty, is the cast error. Its wording is INFERRED from Arrow's cast
// errors (PROTOCOL.md §2.5 gives only the code): KalamDB reports the
// DataFusion error of the failed cast as an SQL_EXECUTION_ERROR.
func convertNumeric(conv string, v any) (any, string) {
	typ := numericConvs[conv]
	isInt := strings.HasPrefix(conv, "i")
	switch x := v.(type) {
	case nil:
		return nil, ""
	case int64:
		if !isInt {
			return float64(x), ""
		}
		return checkIntRange(conv, typ, x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, "Cast error: Can't cast value " + describe(v) + " to type " + typ
		}
		if !isInt {
			return x, ""
		}
		t := math.Trunc(x)
		if t < -9.223372036854775808e18 || t >= 9.223372036854775808e18 {
			return nil, "Cast error: Can't cast value " + describe(v) + " to type " + typ
		}
		return checkIntRange(conv, typ, int64(t))
	case string:
		if isInt {
			n, err := strconv.ParseInt(x, 10, 64)
			if err == nil {
				return checkIntRange(conv, typ, n)
			}
		} else if f, err := strconv.ParseFloat(x, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, ""
		}
		return nil, "Cast error: Cannot cast string " + describe(v) + " to value of " + typ + " type"
	}
	return nil, "Cast error: Unsupported CAST from Binary to " + typ
}

func checkIntRange(conv, typ string, n int64) (any, string) {
	lo, hi := intRange(conv)
	if n < lo || n > hi {
		return nil, "Cast error: Can't cast value " + strconv.FormatInt(n, 10) + " to type " + typ
	}
	return n, ""
}
