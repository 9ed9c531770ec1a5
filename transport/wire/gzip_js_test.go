//go:build js

package wire_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

// decoderInflates: in the browser build the socket adapter inflates frames
// and the decoder refuses gzip.
const decoderInflates = false

func TestBrowserDecoderRefusesGzip(t *testing.T) {
	var d wire.Decoder
	frame := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	_, err := d.Decode(true, frame)
	var de *wire.DecodeError
	if !errors.As(err, &de) || !strings.Contains(de.Reason, "socket adapter") {
		t.Fatalf("err = %v", err)
	}
	// A plain binary frame is still JSON.
	if _, err := d.Decode(true, []byte(example(t, "change insert §4.5"))); err != nil {
		t.Fatalf("plain binary frame: %v", err)
	}
}
