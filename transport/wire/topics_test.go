package wire_test

import (
	"encoding/json"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

func TestTopicStartJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want wire.TopicStart
		out  string
	}{
		{`"Latest"`, wire.TopicStart{Kind: wire.StartLatest}, `"Latest"`},
		{`"latest"`, wire.TopicStart{Kind: wire.StartLatest}, `"Latest"`},
		{`"EARLIEST"`, wire.TopicStart{Kind: wire.StartEarliest}, `"Earliest"`},
		{`{"Offset":123}`, wire.TopicStart{Kind: wire.StartOffset, Offset: 123}, `{"Offset":123}`},
		{`{"offset": 7}`, wire.TopicStart{Kind: wire.StartOffset, Offset: 7}, `{"Offset":7}`},
		{`{"Offset":18446744073709551615}`, wire.TopicStart{Kind: wire.StartOffset, Offset: 1<<64 - 1}, `{"Offset":18446744073709551615}`},
	} {
		var got wire.TopicStart
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil || got != tc.want {
			t.Fatalf("%s → %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		b, err := json.Marshal(got)
		if err != nil || string(b) != tc.out {
			t.Fatalf("%+v → %s, %v; want %s", got, b, err, tc.out)
		}
	}
	for _, bad := range []string{`"Middle"`, `{"Offset":-1}`, `{"Offset":1.5}`, `{"Offset":"3"}`, `{"Position":3}`,
		`{"Offset":1,"offset":2}`, `{}`, `12`, `null`, `[1]`} {
		var got wire.TopicStart
		if err := json.Unmarshal([]byte(bad), &got); err == nil && bad != "null" {
			t.Errorf("%s accepted as %+v", bad, got)
		}
	}
	if _, err := json.Marshal(wire.TopicStart{Kind: 9}); err == nil {
		t.Error("an unknown kind was marshalled")
	}
}

func TestConsumeResponsePayloadIsBase64(t *testing.T) {
	var r wire.ConsumeResponse
	body := `{"messages":[{"topic_id":"app.t","partition_id":0,"offset":10,"payload":"eyJpZCI6MX0=","key":null,` +
		`"timestamp_ms":1778000000000,"user":"alice","op":"Insert"}],"next_offset":11,"has_more":false}`
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	m := r.Messages[0]
	if string(m.Payload) != `{"id":1}` || m.Key != nil || m.User != "alice" || r.NextOffset != 11 {
		t.Fatalf("decoded %+v", r)
	}
	b, _ := json.Marshal(wire.ConsumeRequest{TopicID: "app.t", GroupID: "g"})
	if string(b) != `{"topic_id":"app.t","group_id":"g","start":"Latest","partition_id":0}` {
		t.Fatalf("request %s", b)
	}
}
