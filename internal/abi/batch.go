package abi

// Batches (docs/ABI.md, "Batched steps"). A batch request is a sequence of
// items, each a `bytes` holding one step request exactly as ExportStep
// takes it, filling the request to its last byte. The response is status 0,
// then one `bytes` item per request, in order, each holding the response
// ExportStep would have given for that request alone at that point. A
// batch is therefore the same as its requests stepped one by one, with one
// call into the guest instead of one per input.

// AppendBatchItem appends one item (a step request, or in the guest a step
// response) to a batch.
func AppendBatchItem(b, item []byte) []byte { return appendBytes(b, item) }

// CheckBatch checks a batch request's framing: every item's length must
// lie within the request. It reads no item, so the guest can refuse a
// broken batch as a whole before stepping any of it.
func CheckBatch(b []byte) error {
	d := decoder{b: b}
	for d.left() > 0 && d.err == nil {
		d.bytes()
	}
	if d.err != nil {
		return d.err
	}
	return nil
}

// NextBatchItem splits the first item off a batch whose framing was
// checked (CheckBatch, or a response's status read by BatchResponse).
// A broken item ends the batch: it returns an error and no rest.
func NextBatchItem(b []byte) (item, rest []byte, err error) {
	d := decoder{b: b}
	item = d.bytes()
	if d.err != nil {
		return nil, nil, d.err
	}
	return item, b[d.off:], nil
}

// BatchResponse reads a batch response's status and returns its items,
// still framed (split them with NextBatchItem). A failed status is returned
// as an *Error: the guest stepped none of the batch.
func BatchResponse(b []byte) ([]byte, error) {
	d := decoder{b: b}
	if e := readStatus(&d); e != nil {
		return nil, e
	}
	items := b[d.off:]
	if err := CheckBatch(items); err != nil {
		return nil, err
	}
	return items, nil
}
