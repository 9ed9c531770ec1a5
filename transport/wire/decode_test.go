package wire_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

// gz compresses p unconditionally (wire.Compress skips small payloads).
func gz(t testing.TB, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = zw.Write(p)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// asReceived is a payload as the decoder receives it: gzipped in a binary
// frame where the decoder inflates, as text in the browser build (whose
// socket adapter inflates before the decoder).
func asReceived(t testing.TB, p []byte) (binary bool, frame []byte) {
	if decoderInflates {
		return true, gz(t, p)
	}
	return false, p
}

// orderSchema is the schema of PROTOCOL.md §7 (SELECT * from app.orders).
const orderSchema = `[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
                {"name":"status","data_type":"Text","index":1},
                {"name":"_seq","data_type":"BigInt","index":2,"flags":["nn"]},
                {"name":"_deleted","data_type":"Boolean","index":3,"flags":["nn"]}]`

// serverExamples are the server → client messages of PROTOCOL.md §4 and §7,
// verbatim except where the document elides a value ("…").
var serverExamples = []struct {
	name  string
	frame string
	check func(t *testing.T, m *wire.ServerMessage)
}{
	{"auth_success §4.2.2", `{"type":"auth_success","user":"alice","role":"dba","protocol":{"serialization":"json","compression":"gzip"}}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if m.Type != wire.TypeAuthSuccess || m.User != "alice" || m.Role != "dba" || m.Protocol == nil || *m.Protocol != wire.DefaultProtocol {
				t.Errorf("%+v", m)
			}
		}},
	{"auth_success §7", `{"type":"auth_success","user":"alice","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if m.User != "alice" || m.Role != "user" {
				t.Errorf("%+v", m)
			}
		}},
	{"auth_error", `{"type":"auth_error","message":"Invalid credentials"}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if m.Type != wire.TypeAuthError || m.Message != "Invalid credentials" {
				t.Errorf("%+v", m)
			}
		}},
	{"auth_error timeout", `{"type":"auth_error","message":"Authentication timeout - no auth message received within 3 seconds"}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if !strings.HasPrefix(m.Message, "Authentication timeout") {
				t.Errorf("%+v", m)
			}
		}},
	{"subscription_ack §4.5", `{"type":"subscription_ack","subscription_id":"orders_live","total_rows":0,
 "batch_control":{"batch_num":0,"has_more":true,"status":"loading","last_seq_id":309840123456789999},
 "schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
           {"name":"status","data_type":"Text","index":1}]}`,
		func(t *testing.T, m *wire.ServerMessage) {
			bc := m.BatchControl
			if m.SubscriptionID != "orders_live" || m.TotalRows == nil || *m.TotalRows != 0 {
				t.Errorf("%+v", m)
			}
			if bc.BatchNum != 0 || !bc.HasMore || bc.Status != wire.StatusLoading || bc.LastSeqID == nil || *bc.LastSeqID != 309840123456789999 {
				t.Errorf("batch_control %+v", bc)
			}
			if len(m.Schema) != 2 || m.Schema[0].Name != "id" || m.Schema[0].DataType.Name != wire.TypeBigInt ||
				strings.Join(m.Schema[0].Flags, ",") != "pk,nn,uq" || m.Schema[1].Index != 1 || m.Schema[1].Flags != nil {
				t.Errorf("schema %+v", m.Schema)
			}
		}},
	{"initial_data_batch §4.5", `{"type":"initial_data_batch","subscription_id":"orders_live",
 "rows":[{"id":"1","status":"open","_seq":"309840123456789504","_deleted":false}],
 "batch_control":{"batch_num":0,"has_more":true,"status":"loading","last_seq_id":309840123456789504}}`,
		func(t *testing.T, m *wire.ServerMessage) {
			checkRows(t, m.Rows, 309840123456789504)
			if *m.BatchControl.LastSeqID != 309840123456789504 {
				t.Errorf("last_seq_id %v", *m.BatchControl.LastSeqID)
			}
		}},
	{"change insert §4.5", `{"type":"change","subscription_id":"orders_live","change_type":"insert",
 "rows":[{"id":"2","status":"open","_seq":"309840123999999999","_deleted":false}]}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if m.ChangeType != wire.ChangeInsert || m.OldValues != nil {
				t.Errorf("%+v", m)
			}
			checkRows(t, m.Rows, 309840123999999999)
		}},
	{"change update §4.5", `{"type":"change","subscription_id":"orders_live","change_type":"update",
 "rows":[{"id":"2","status":"paid","_seq":"309840124000000123"}],
 "old_values":[{"id":"2","status":"open","_seq":"309840123999999999"}]}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if m.ChangeType != wire.ChangeUpdate {
				t.Errorf("%+v", m)
			}
			checkRows(t, m.Rows, 309840124000000123)
			checkRows(t, m.OldValues, 309840123999999999)
		}},
	{"change delete §4.5", `{"type":"change","subscription_id":"orders_live","change_type":"delete",
 "old_values":[{"id":"2","status":"paid","_seq":"309840124000000456","_deleted":true}]}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if m.ChangeType != wire.ChangeDelete || m.Rows != nil {
				t.Errorf("%+v", m)
			}
			checkRows(t, m.OldValues, 309840124000000456)
		}},
	{"change delete, stream table", `{"type":"change","subscription_id":"events","change_type":"delete","old_values":[{"row_id":"r-17"}]}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if _, ok, err := wire.RowSeq(m.OldValues[0]); ok || err != nil {
				t.Errorf("row_id-only delete: ok=%v err=%v", ok, err)
			}
		}},
	{"error §4.5", `{"type":"error","subscription_id":"orders_live","code":"NOT_FOUND","message":"Not found: Table not found: app.orderz"}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if m.Type != wire.TypeError || m.SubscriptionID != "orders_live" || m.Code != wire.CodeNotFound || m.Message != "Not found: Table not found: app.orderz" {
				t.Errorf("%+v", m)
			}
		}},
	{"error binary refused §4.3", `{"type":"error","subscription_id":"protocol","code":"UNSUPPORTED_DATA","message":"Binary not supported"}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if m.SubscriptionID != wire.PlaceholderProtocol || m.Code != wire.CodeUnsupportedData {
				t.Errorf("%+v", m)
			}
		}},
	{"error rate limit §4.3", `{"type":"error","subscription_id":"rate_limit","code":"RATE_LIMIT_EXCEEDED","message":"Too many messages"}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if m.SubscriptionID != wire.PlaceholderRateLimit || m.Code != wire.CodeRateLimitExceeded {
				t.Errorf("%+v", m)
			}
		}},
	{"ack without options §4.4", `{"type":"subscription_ack","subscription_id":"s","total_rows":0,"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},"schema":[]}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if bc := m.BatchControl; bc.HasMore || bc.Status != wire.StatusReady || bc.LastSeqID != nil {
				t.Errorf("batch_control %+v", bc)
			}
		}},
	{"empty initial batch §4.5", `{"type":"initial_data_batch","subscription_id":"s","rows":[],"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null}}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if len(m.Rows) != 0 || m.BatchControl.LastSeqID != nil {
				t.Errorf("%+v", m)
			}
		}},
	{"ack §7 step 4", `{"type":"subscription_ack","subscription_id":"open-orders","total_rows":0,
      "batch_control":{"batch_num":0,"has_more":true,"status":"loading","last_seq_id":309840000000000200},
      "schema":` + orderSchema + `}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if len(m.Schema) != 4 || m.Schema[2].Name != wire.SeqColumn || m.Schema[3].DataType.Name != wire.TypeBoolean ||
				*m.BatchControl.LastSeqID != 309840000000000200 {
				t.Errorf("%+v", m)
			}
		}},
	{"batch 0 §7 step 4", `{"type":"initial_data_batch","subscription_id":"open-orders",
      "rows":[{"id":"1","status":"open","_seq":"309840000000000100","_deleted":false},
              {"id":"3","status":"open","_seq":"309840000000000200","_deleted":false}],
      "batch_control":{"batch_num":0,"has_more":true,"status":"loading","last_seq_id":309840000000000200}}`,
		func(t *testing.T, m *wire.ServerMessage) {
			checkRows(t, m.Rows, 309840000000000100, 309840000000000200)
		}},
	{"batch 1 §7 step 4", `{"type":"initial_data_batch","subscription_id":"open-orders",
      "rows":[{"id":"4","status":"open","_seq":"309840000000000300","_deleted":false}],
      "batch_control":{"batch_num":1,"has_more":false,"status":"ready","last_seq_id":309840000000000300}}`,
		func(t *testing.T, m *wire.ServerMessage) {
			checkRows(t, m.Rows, 309840000000000300)
			if bc := m.BatchControl; bc.BatchNum != 1 || bc.HasMore || bc.Status != wire.StatusReady || *bc.LastSeqID != 309840000000000300 {
				t.Errorf("%+v", bc)
			}
		}},
	{"change §7 step 5", `{"type":"change","subscription_id":"open-orders","change_type":"insert",
      "rows":[{"id":"5","status":"open","_seq":"309840000500000000","_deleted":false}]}`,
		func(t *testing.T, m *wire.ServerMessage) { checkRows(t, m.Rows, 309840000500000000) }},
	{"resume ack §7 step 7", `{"type":"subscription_ack","subscription_id":"open-orders","total_rows":0,
      "batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":309840000900000000},"schema":` + orderSchema + `}`,
		func(t *testing.T, m *wire.ServerMessage) {
			if *m.BatchControl.LastSeqID != 309840000900000000 {
				t.Errorf("%+v", m.BatchControl)
			}
		}},
	{"resume batch §7 step 7", `{"type":"initial_data_batch","subscription_id":"open-orders",
      "rows":[{"id":"6","status":"open","_seq":"309840000900000000","_deleted":false}],
      "batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":309840000900000000}}`,
		func(t *testing.T, m *wire.ServerMessage) { checkRows(t, m.Rows, 309840000900000000) }},
	{"data types in both forms", `{"type":"subscription_ack","subscription_id":"s","batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},
      "schema":[{"name":"v","data_type":{"Embedding":384},"index":0},{"name":"d","data_type":{"Decimal":{"precision":10,"scale":2}},"index":1},{"name":"f","data_type":"File","index":2}]}`,
		func(t *testing.T, m *wire.ServerMessage) {
			s := m.Schema
			if s[0].DataType.Name != wire.TypeEmbedding || string(s[0].DataType.Raw) != `{"Embedding":384}` ||
				s[1].DataType.Name != wire.TypeDecimal || string(s[1].DataType.Raw) != `{"Decimal":{"precision":10,"scale":2}}` ||
				s[2].DataType.Name != wire.TypeFile || s[2].DataType.Raw != nil {
				t.Errorf("%+v", s)
			}
		}},
}

func example(t *testing.T, name string) string {
	for _, ex := range serverExamples {
		if ex.name == name {
			return ex.frame
		}
	}
	t.Fatalf("no example %q", name)
	return ""
}

// checkRows checks each row's _seq, exactly (all are above 2^53).
func checkRows(t *testing.T, rows []wire.Row, want ...int64) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		s, ok, err := wire.RowSeq(r)
		if err != nil || !ok || int64(s) != want[i] {
			t.Errorf("row %d: _seq = %d %v %v, want %d", i, s, ok, err, want[i])
		}
		if !json.Valid(r) {
			t.Errorf("row %d is not valid JSON: %s", i, r)
		}
	}
}

func TestDecodeServerExamples(t *testing.T) {
	var d wire.Decoder
	for _, ex := range serverExamples {
		forms := []string{"text", "plain binary"}
		if decoderInflates {
			forms = append(forms, "gzip binary")
		}
		for _, form := range forms {
			t.Run(ex.name+"/"+form, func(t *testing.T) {
				frame, binary := []byte(ex.frame), false
				switch form {
				case "gzip binary":
					frame, binary = gz(t, frame), true
				case "plain binary":
					binary = true
				}
				m, err := d.Decode(binary, frame)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if err := m.Validate(); err != nil {
					t.Fatalf("Validate: %v", err)
				}
				ex.check(t, m)
			})
		}
	}
}

// TestDecodeDoesNotAlias checks that a message survives the next Decode and
// changes to the frame.
func TestDecodeDoesNotAlias(t *testing.T) {
	var d wire.Decoder
	binary, frame := asReceived(t, []byte(example(t, "change insert §4.5")))
	m, err := d.Decode(binary, frame)
	if err != nil {
		t.Fatal(err)
	}
	before := string(m.Rows[0])
	if _, err := d.Decode(asReceived(t, []byte(example(t, "batch 0 §7 step 4")))); err != nil {
		t.Fatal(err)
	}
	for i := range frame {
		frame[i] = 0
	}
	if string(m.Rows[0]) != before {
		t.Errorf("row changed to %s", m.Rows[0])
	}
}

func TestDecodeServerErrors(t *testing.T) {
	var d wire.Decoder
	for _, tc := range []struct {
		name, frame string
		unknown     bool
	}{
		{"empty", "", false},
		{"not json", "hello", false},
		{"array", `[1]`, false},
		{"null", `null`, false},
		{"no type", `{"user":"a"}`, false},
		{"unknown type", `{"type":"welcome"}`, true},
		{"type wrong kind", `{"type":7}`, false},
		{"ack without id", `{"type":"subscription_ack","batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null}}`, false},
		{"ack without batch_control", `{"type":"subscription_ack","subscription_id":"s"}`, false},
		{"batch without batch_control", `{"type":"initial_data_batch","subscription_id":"s","rows":[]}`, false},
		{"insert without rows", `{"type":"change","subscription_id":"s","change_type":"insert"}`, false},
		{"update without rows", `{"type":"change","subscription_id":"s","change_type":"update","old_values":[{}]}`, false},
		{"delete without old_values", `{"type":"change","subscription_id":"s","change_type":"delete","rows":[{}]}`, false},
		{"unknown change_type", `{"type":"change","subscription_id":"s","change_type":"upsert","rows":[{}]}`, false},
		{"change without id", `{"type":"change","change_type":"insert","rows":[{}]}`, false},
		{"last_seq_id as float", `{"type":"initial_data_batch","subscription_id":"s","rows":[],"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":1.5}}`, false},
		{"last_seq_id overflow", `{"type":"initial_data_batch","subscription_id":"s","rows":[],"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":9223372036854775808}}`, false},
		{"batch_num negative", `{"type":"initial_data_batch","subscription_id":"s","rows":[],"batch_control":{"batch_num":-1,"has_more":false,"status":"ready","last_seq_id":null}}`, false},
		{"data_type with two keys", `{"type":"subscription_ack","subscription_id":"s","batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},"schema":[{"name":"x","data_type":{"A":1,"B":2},"index":0}]}`, false},
		{"data_type a number", `{"type":"subscription_ack","subscription_id":"s","batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},"schema":[{"name":"x","data_type":5,"index":0}]}`, false},
		{"rows not an array", `{"type":"change","subscription_id":"s","change_type":"insert","rows":{"a":1}}`, false},
		{"trailing garbage", `{"type":"auth_error","message":"x"} {`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := d.Decode(false, []byte(tc.frame))
			var de *wire.DecodeError
			if err == nil || m != nil || !errors.As(err, &de) {
				t.Fatalf("Decode = %+v, %v; want a DecodeError", m, err)
			}
			if errors.Is(err, wire.ErrUnknownType) != tc.unknown {
				t.Errorf("Is(ErrUnknownType) = %v", !tc.unknown)
			}
			if !strings.HasPrefix(err.Error(), "wire: ") {
				t.Errorf("error %q lacks the prefix", err)
			}
		})
	}
}

func TestErrorsDoNotQuoteTokens(t *testing.T) {
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA"
	for _, frame := range []string{
		`{"type":"authenticate","method":"jwt","token":"` + tok + `"}`,
		`{"type":"authenticate","method":"basic","token":"` + tok + `","protocol":{"serialization":"json","compression":"gzip"}}`,
		`{"type":"authenticate","method":"jwt","token":"` + tok + `",`,
		`{"type":"authenticate","method":"jwt","token":"` + tok + `","protocol":7}`,
		`{"type":"` + tok + `"}`,
	} {
		_, err := wire.DecodeClient([]byte(frame))
		if err == nil {
			t.Fatalf("%s: accepted", frame)
		}
		if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), "c2lnbmF0dXJlLXNlY3JldA") {
			t.Errorf("error quotes the token: %v", err)
		}
	}
}
