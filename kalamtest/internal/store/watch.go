package store

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/kalamgo/kalam/transport/wire"
)

// Change is one committed row change of a USER, SHARED or STREAM table.
// Pass it to Notify to build the message a subscription receives.
type Change struct {
	Table string     // "ns.table"
	Kind  string     // wire.ChangeInsert, wire.ChangeUpdate or wire.ChangeDelete
	Owner string     // owning user for USER/STREAM tables, "" for SHARED
	Seq   wire.SeqID // _seq of the new version (of the tombstone, for a delete)

	def     *tableDef
	newVals []any // column values of the new version (the tombstone for a delete)
	oldVals []any // previous values (update only)
	oldSeq  wire.SeqID
}

type watcher struct {
	fn      func(Change)
	stopped atomic.Bool
}

// Watch registers fn to be called for every committed row change, in
// commit (= _seq) order, after the commit, on the goroutine of a writer
// (Exec), with no lock held that Notify, Snapshot or PrepareLive need.
// When Exec returns, fn has been called for all of its changes.
//
// fn must be quick (enqueue and return). It may call Notify, Snapshot,
// SnapshotEnd, SnapshotLast, PrepareLive and stop functions, but not Exec:
// a write from inside a delivery would wait for that same delivery.
//
// stop unregisters fn; after it returns fn is not called again, except for
// a call already under way. stop is idempotent.
func (s *Store) Watch(fn func(Change)) (stop func()) {
	w := &watcher{fn: fn}
	s.watchMu.Lock()
	list := append(slices.Clone(*s.watchers.Load()), w)
	s.watchers.Store(&list)
	s.watchMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			w.stopped.Store(true)
			s.watchMu.Lock()
			list := slices.DeleteFunc(slices.Clone(*s.watchers.Load()), func(x *watcher) bool { return x == w })
			s.watchers.Store(&list)
			s.watchMu.Unlock()
		})
	}
}

// deliver hands queued changes to the watchers. Changes enter the queue in
// commit order (under mu) and deliveries are serialized by deliverMu, so
// watchers see commit order. A writer calls deliver after releasing mu:
// by the time it holds deliverMu its own changes were either delivered by
// an earlier writer or are still queued for it.
func (s *Store) deliver() {
	s.deliverMu.Lock()
	defer s.deliverMu.Unlock()
	s.pendMu.Lock()
	batch := s.pending
	s.pending = nil
	s.pendMu.Unlock()
	ws := *s.watchers.Load()
	for _, ch := range batch {
		for _, w := range ws {
			if !w.stopped.Load() {
				w.fn(ch)
			}
		}
	}
}
