//go:build !js

package wire_test

// decoderInflates: natively the decoder gunzips binary frames.
const decoderInflates = true
