package wazero

import (
	"time"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi"
)

// Timed is one input of a batch and the engine time it happens at (the
// now of Step).
type Timed struct {
	Now time.Duration
	In  fsm.Input
}

// StepBatch feeds every input of ins to the guest engine in one call into
// the guest (docs/ABI.md, "Batched steps") and then calls each, in order,
// with the input's index and exactly what Step would have returned for it
// at that point: the effects, valid until each returns, and the error.
//
// Use it for inputs that are ready together — a burst of frames read from
// the socket — to pay the fixed cost of a call into the guest once per
// burst instead of once per input. Only inputs whose effects do not decide
// the next input belong in one batch: the engine has stepped them all
// before each sees the first. An input that cannot be encoded is refused on
// its own, as Step refuses it; the others still run.
func (e *Engine) StepBatch(ins []Timed, each func(i int, effs []fsm.Effect, err error)) {
	for start := 0; start < len(ins); {
		if e.mod == nil {
			for i := start; i < len(ins); i++ {
				effs, err := e.afterRelease(ins[i].In)
				each(i, effs, err)
			}
			return
		}
		end, encErr := e.encodeBatch(ins, start)
		if end > start {
			e.runBatch(ins, start, end, each)
		}
		if encErr != nil {
			each(end, nil, encErr) // nothing crossed for this one
			end++
		}
		start = end
	}
}

// encodeBatch encodes ins[start:] into e.batch until an input cannot be
// encoded (its error is returned) or the request is full, and returns
// where it stopped.
func (e *Engine) encodeBatch(ins []Timed, start int) (end int, err error) {
	e.batch = e.batch[:0]
	for end = start; end < len(ins); end++ {
		if e.req, err = abi.AppendInput(e.req[:0], ins[end].Now, e.indexed(ins[end].In)); err != nil {
			return end, err
		}
		if end > start && len(e.batch)+len(e.req)+16 > abi.MaxRequest {
			return end, nil
		}
		e.batch = abi.AppendBatchItem(e.batch, e.req)
	}
	return end, nil
}

// runBatch makes the call for ins[start:end], encoded in e.batch, and
// hands each input its answer.
func (e *Engine) runBatch(ins []Timed, start, end int, each func(int, []fsm.Effect, error)) {
	resp, err := e.call(e.batchFn, e.batch)
	var items []byte
	if err == nil {
		items, err = abi.BatchResponse(resp)
	}
	if err == nil && countItems(items) != end-start {
		err = abi.Errorf(abi.CodeBadValue, "the guest answered a batch with another number of responses")
	}
	if err != nil {
		// The guest refused or broke on the batch as a whole: its state is
		// unknown (the host built the batch, so a refusal is a fault too).
		effs, ferr := e.fatal(err)
		each(start, effs, ferr)
		start++
	}
	for i := start; i < end; i++ {
		if e.mod == nil { // released after a step reached Closed, or broken
			effs, err := e.afterRelease(ins[i].In)
			each(i, effs, err)
			continue
		}
		var item []byte
		item, items, _ = abi.NextBatchItem(items) // counted above
		effs, err := e.finish(item)
		each(i, effs, err)
	}
}

// countItems counts the items of a checked batch.
func countItems(b []byte) int {
	n := 0
	for len(b) > 0 {
		var err error
		if _, b, err = abi.NextBatchItem(b); err != nil {
			return -1
		}
		n++
	}
	return n
}
