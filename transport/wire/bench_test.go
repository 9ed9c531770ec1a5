package wire_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

// changeFrame is a realistic live insert: ten columns, about 300 bytes (the
// same frame the fsm benchmarks use).
const changeFrame = `{"type":"change","subscription_id":"orders-live","change_type":"insert","rows":[{"id":"12345","customer":"c-42","status":"open","total":"199.90","items":3,"note":"leave it at the door","created_at":1777971600000000,"paid":false,"_seq":"309840000500000000","_deleted":false}]}`

// BenchmarkDecodeChange is what the client does per live change: decode the
// frame into a typed message and read the row's _seq.
func BenchmarkDecodeChange(b *testing.B) {
	frame := []byte(changeFrame)
	var d wire.Decoder
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := d.Decode(false, frame)
		if err != nil {
			b.Fatal(err)
		}
		if s, ok, err := wire.RowSeq(m.Rows[0]); err != nil || !ok || s != 309840000500000000 {
			b.Fatal(s, ok, err)
		}
	}
}

// BenchmarkDecodeChangeStdlib is the reference: the same frame through plain
// json.Unmarshal into map[string]any, what an untyped client does (and which
// would round _seq through float64 if it were a number).
func BenchmarkDecodeChangeStdlib(b *testing.B) {
	frame := []byte(changeFrame)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(frame, &m); err != nil {
			b.Fatal(err)
		}
		if m["rows"].([]any)[0].(map[string]any)["_seq"].(string) != "309840000500000000" {
			b.Fatal("wrong _seq")
		}
	}
}

// BenchmarkRowSeq measures the _seq scan alone on the frame's row.
func BenchmarkRowSeq(b *testing.B) {
	row := wire.Row(changeFrame[strings.Index(changeFrame, `[{`)+1 : len(changeFrame)-2])
	b.SetBytes(int64(len(row)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := wire.RowSeq(row); err != nil || !ok {
			b.Fatal(err)
		}
	}
}
