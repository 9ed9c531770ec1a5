package wazero

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/internal/abi/abitest"
)

// BenchmarkCompile measures compiling the guest module: cold (no cache),
// cached (a new process reading the directory cache) and cached in memory
// (another runtime sharing the cache object).
func BenchmarkCompile(b *testing.B) {
	needGuest(b)
	ctx := context.Background()
	compile := func(b *testing.B, cache func() wazero.CompilationCache) {
		for b.Loop() {
			cfg := wazero.NewRuntimeConfigCompiler()
			if cache != nil {
				cfg = cfg.WithCompilationCache(cache())
			}
			r := wazero.NewRuntimeWithConfig(ctx, cfg)
			if _, err := r.CompileModule(ctx, guestWasm); err != nil {
				b.Fatal(err)
			}
			r.Close(ctx)
		}
	}
	b.Run("cold", func(b *testing.B) { compile(b, nil) })
	b.Run("cached", func(b *testing.B) {
		dir := b.TempDir()
		warm, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(warm))
		if _, err := r.CompileModule(ctx, guestWasm); err != nil {
			b.Fatal(err)
		}
		r.Close(ctx)
		compile(b, func() wazero.CompilationCache {
			c, err := wazero.NewCompilationCacheWithDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			return c
		})
	})
	b.Run("cached-in-memory", func(b *testing.B) {
		shared := wazero.NewCompilationCache()
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(shared))
		if _, err := r.CompileModule(ctx, guestWasm); err != nil {
			b.Fatal(err)
		}
		defer r.Close(ctx) // the cache's entries live while a runtime uses them
		compile(b, func() wazero.CompilationCache { return shared })
	})
}

// BenchmarkInstantiate measures starting an engine on a compiled module:
// instantiate, the Go runtime's _initialize, the version check and the
// engine's creation. mem-bytes/instance is the guest's linear memory plus
// the host heap each live instance holds besides it.
func BenchmarkInstantiate(b *testing.B) {
	h := sharedHost(b)
	ctx := context.Background()
	for b.Loop() {
		e, err := h.NewEngine(ctx, fsm.Config{})
		if err != nil {
			b.Fatal(err)
		}
		e.Close(ctx)
	}
	b.StopTimer()
	const n = 8
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	engines := make([]*Engine, n)
	var guest uint64
	for i := range engines {
		e, err := h.NewEngine(ctx, fsm.Config{})
		if err != nil {
			b.Fatal(err)
		}
		engines[i] = e
		guest += uint64(e.MemorySize())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if heap > int64(guest) { // the linear memory may live on the Go heap: count it once
		heap -= int64(guest)
	}
	for _, e := range engines {
		e.Close(ctx)
	}
	b.ReportMetric(float64(guest)/n, "guest-bytes/instance")
	b.ReportMetric(float64(max(heap, 0))/n, "host-bytes/instance")
	b.ReportMetric((float64(guest)+float64(max(heap, 0)))/n, "mem-bytes/instance")
}

// changeFrame is a realistic live insert (ten columns, about 300 bytes)
// with a _seq the caller advances, so no frame is a replay.
func changeFrame(buf []byte, seq int64) []byte {
	buf = append(buf[:0], `{"type":"change","subscription_id":"orders-live","change_type":"insert","rows":[{"id":"12345","customer":"c-42","status":"open","total":"199.90","items":3,"note":"leave it at the door","created_at":1777971600000000,"paid":false,"_seq":"`...)
	buf = strconv.AppendInt(buf, seq, 10)
	return append(buf, `","_deleted":false}]}`...)
}

// goLive drives an engine to StateLive with one subscription.
func goLive(b *testing.B, e fsm.Stepper) {
	steps := []fsm.Input{
		fsm.SetCredentials{Credentials: auth.Credentials{AccessToken: auth.NewSecret("tok"), Lifetime: time.Hour}},
		fsm.SetNamespace{Namespace: "app"},
		fsm.Subscribe{ID: "orders-live", SQL: "SELECT * FROM app.orders"},
		fsm.Dialed{Epoch: 1},
		fsm.FrameReceived{Epoch: 1, Data: []byte(abitest.AuthOK)},
		fsm.FrameReceived{Epoch: 1, Data: []byte(`{"type":"subscription_ack","subscription_id":"orders-live","total_rows":0,"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":0},"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk"]}]}`)},
	}
	for _, in := range steps {
		if _, err := e.Step(0, in); err != nil {
			b.Fatal(err)
		}
	}
	if e.State() != fsm.StateLive {
		b.Fatalf("state %v", e.State())
	}
}

// BenchmarkStepLiveChange is one live change event through Step: natively,
// and host→guest through wazero's compiler engine (index the frame, encode
// the input, write it into guest memory, the call, the engine in wasm, copy
// and decode the effects), with and without the host's frame index. All see
// the same frame bytes.
func BenchmarkStepLiveChange(b *testing.B) {
	run := func(b *testing.B, e fsm.Stepper) {
		goLive(b, e)
		seq := int64(309840000500000000)
		var buf []byte
		b.SetBytes(int64(len(changeFrame(nil, seq))))
		b.ReportAllocs()
		for b.Loop() {
			seq++
			buf = changeFrame(buf, seq)
			effs, _ := e.Step(time.Second, fsm.FrameReceived{Epoch: 1, Data: buf})
			if len(effs) != 1 {
				b.Fatalf("effects = %d", len(effs))
			}
		}
	}
	b.Run("native", func(b *testing.B) { run(b, fsm.New(fsm.Config{})) })
	wazero := func(b *testing.B, noIndex bool) {
		h := sharedHost(b) // wazero.NewRuntimeConfigCompiler
		e, err := h.NewEngine(context.Background(), fsm.Config{})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close(context.Background())
		e.noIndex = noIndex
		run(b, e)
	}
	// The host scans the frame and passes its index (the default).
	b.Run("wazero", func(b *testing.B) { wazero(b, false) })
	// Config.NoFrameIndex: the guest scans the frame itself.
	b.Run("wazero-noindex", func(b *testing.B) { wazero(b, true) })
}

// BenchmarkStepOverhead is the fixed cost of one host→guest Step: an input
// the engine ignores (a pong of another epoch), so what remains is
// encoding, the memory write, the call into the Go runtime and decoding an
// empty response.
func BenchmarkStepOverhead(b *testing.B) {
	h := sharedHost(b)
	e, err := h.NewEngine(context.Background(), fsm.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	goLive(b, e)
	b.ReportAllocs()
	for b.Loop() {
		if effs, _ := e.Step(time.Second, fsm.PongReceived{Epoch: 99}); len(effs) != 0 {
			b.Fatal(effs)
		}
	}
}

// batchFrames is the burst of BenchmarkBatch: frames read from the socket
// together.
const batchFrames = 100

// pairedRound is how many live changes each engine steps in turn in the
// paired benchmarks.
const pairedRound = 50

// BenchmarkStepLiveChangePaired measures the ratio of
// BenchmarkStepLiveChange in a way that holds on a busy machine: the native
// engine and the engine in wazero step the same frames in alternating
// rounds of 50, and each side's thread CPU time (threadCPU) is summed over
// its own rounds. An op is one live change through both.
func BenchmarkStepLiveChangePaired(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	nat := fsm.New(fsm.Config{})
	goLive(b, nat)
	was, err := sharedHost(b).NewEngine(context.Background(), fsm.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer was.Close(context.Background())
	goLive(b, was)
	frames := make([][]byte, pairedRound)
	seq := int64(309840000500000000)
	var tNat, tWas time.Duration
	run := func(e fsm.Stepper, n int) time.Duration {
		start := threadCPU()
		for _, f := range frames[:n] {
			if effs, _ := e.Step(time.Second, fsm.FrameReceived{Epoch: 1, Data: f}); len(effs) != 1 {
				b.Fatalf("effects = %d", len(effs))
			}
		}
		return threadCPU() - start
	}
	for done := 0; done < b.N; done += pairedRound {
		n := min(pairedRound, b.N-done)
		for i := range frames[:n] {
			seq++
			frames[i] = changeFrame(frames[i], seq)
		}
		tNat += run(nat, n)
		tWas += run(was, n)
	}
	b.ReportMetric(float64(tNat.Nanoseconds())/float64(b.N), "native-ns/change")
	b.ReportMetric(float64(tWas.Nanoseconds())/float64(b.N), "wazero-ns/change")
	b.ReportMetric(float64(tWas)/float64(tNat), "wazero/native")
}

// BenchmarkBatchPaired is a live change inside a burst of 100 frames read
// together, measured like BenchmarkStepLiveChangePaired: the burst natively
// (100 Steps), then the same burst in wazero (one StepBatch: one call into
// the guest for all 100), in turn. ns/frame is the cost per live change; an
// op is one burst through both.
func BenchmarkBatchPaired(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	nat := fsm.New(fsm.Config{})
	goLive(b, nat)
	was, err := sharedHost(b).NewEngine(context.Background(), fsm.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer was.Close(context.Background())
	goLive(b, was)
	frames := make([][]byte, batchFrames)
	ins := make([]Timed, batchFrames)
	seq := int64(309840000500000000)
	var tNat, tWas time.Duration
	for range b.N {
		for i := range frames {
			seq++
			frames[i] = changeFrame(frames[i], seq)
			ins[i] = Timed{Now: time.Second, In: fsm.FrameReceived{Epoch: 1, Data: frames[i]}}
		}
		start := threadCPU()
		for _, f := range frames {
			if effs, _ := nat.Step(time.Second, fsm.FrameReceived{Epoch: 1, Data: f}); len(effs) != 1 {
				b.Fatalf("effects = %d", len(effs))
			}
		}
		tNat += threadCPU() - start
		start = threadCPU()
		was.StepBatch(ins, func(i int, effs []fsm.Effect, _ error) {
			if len(effs) != 1 {
				b.Fatalf("frame %d: effects = %d", i, len(effs))
			}
		})
		tWas += threadCPU() - start
	}
	frames100 := float64(b.N * batchFrames)
	b.ReportMetric(float64(tNat.Nanoseconds())/frames100, "native-ns/frame")
	b.ReportMetric(float64(tWas.Nanoseconds())/frames100, "wazero-ns/frame")
	b.ReportMetric(float64(tWas)/float64(tNat), "wazero/native")
}
