package main

// figure is one row of the table: a metric of a benchmark, optionally set
// against a reference, with an optional target.
type figure struct {
	section string
	name    string

	pkg, bench, unit string // the value: package short name, benchmark, metric

	// A reference measured in the same run: ref and refUnit default to the
	// figure's own benchmark and unit, refPkg to its package. Set at least
	// one of ref or refUnit.
	refPkg, ref, refUnit string
	// A reference that is a published fact rather than a measurement.
	refLabel string // names the reference in the table; default: its benchmark or unit
	fact     float64
	factNote string

	invert bool // ratio = reference ÷ value instead of value ÷ reference

	target     float64 // 0: none
	atMost     bool    // the target is an upper bound
	onValue    bool    // the target applies to the value, not the ratio
	targetText string  // how to print the target when its unit reads badly
	note       string
}

const (
	secEngine  = "Engine"
	secClient  = "Client (native, kalamtest on loopback)"
	secServer  = "Test server"
	secWasm    = "Wasm and browser"
	secScaling = "Scaling"
)

const kib = 1024

// figures lists every row of `make bench`, with the targets of the issues.
var figures = []figure{
	{section: secEngine, name: "engine Step, one live change frame", pkg: "fsm", bench: "StepChange", unit: "ns/op", ref: "DecodeChangeStruct", refLabel: "encoding/json, same frame", target: 1.5, atMost: true,
		note: "ratio = Step ÷ encoding/json decoding the same frame into the same type"},
	{section: secEngine, name: "engine Step allocations per change", pkg: "fsm", bench: "StepChange", unit: "allocs/op", ref: "DecodeChangeStruct", refLabel: "encoding/json, same frame"},
	{section: secEngine, name: "engine Step vs decode into map[string]any", pkg: "fsm", bench: "StepChange", unit: "ns/op", ref: "DecodeChangeMap", refLabel: "encoding/json into map"},
	{section: secEngine, name: "lifecycle transition (stateless + guards + effects)", pkg: "fsm", bench: "Transition", unit: "ns/transition", target: 1000, atMost: true, onValue: true},
	{section: secEngine, name: "wire decode of a change frame vs map[string]any", pkg: "transport/wire", bench: "DecodeChange", unit: "ns/op", ref: "DecodeChangeStdlib", refLabel: "encoding/json into map"},

	{section: secClient, name: "client live events/s, 1 subscription", pkg: "tests/bench", bench: "Events/subs=1", unit: "client-events/s", refUnit: "raw-events/s", refLabel: "raw websocket loop", target: 0.8,
		note: "reference: a coder/websocket + encoding/json read loop on the same kind of stream, pre-made and held back, so the consumers set the pace"},
	{section: secClient, name: "insert → event latency p50", pkg: "tests/bench", bench: "Latency", unit: "client-p50-ns", refUnit: "raw-p50-ns", refLabel: "raw websocket",
		note: "from sending a one-row INSERT over HTTP to the event; reference: the same round trip seen by a raw WebSocket loop"},
	{section: secClient, name: "insert → event latency p99", pkg: "tests/bench", bench: "Latency", unit: "client-p99-ns", refUnit: "raw-p99-ns", refLabel: "raw websocket"},
	{section: secClient, name: "resume after a socket drop p50 (minus backoff floor)", pkg: "tests/bench", bench: "Resume", unit: "p50-ns", refUnit: "raw-p50-ns", refLabel: "raw websocket", target: 50e6, atMost: true, onValue: true,
		note: "drop → subscription live again (EventResumed), minus the 10 ms backoff; reference: a raw socket that redials, authenticates and resubscribes from its last _seq at once"},
	{section: secClient, name: "resume after a socket drop p99 (minus backoff floor)", pkg: "tests/bench", bench: "Resume", unit: "p99-ns", refUnit: "raw-p99-ns", refLabel: "raw websocket"},
	{section: secClient, name: "reconnect spread of 100 clients after a restart (p10–p90)", pkg: "tests/bench", bench: "ReconnectSpread", unit: "spread-ns", refUnit: "window-ns", refLabel: "jitter window p10–p90", target: 0.5,
		note: "reference: p10–p90 of the configured jitter window; the same clients without jitter are the next row"},
	{section: secClient, name: "reconnect spread without jitter (the herd)", pkg: "tests/bench", bench: "ReconnectSpread", unit: "nojitter-spread-ns", refUnit: "window-ns", refLabel: "jitter window p10–p90"},
	{section: secClient, name: "topic consumer messages/s, one consumer", pkg: "tests/bench", bench: "TopicConsumer", unit: "consumer-msgs/s", refUnit: "live-events/s", refLabel: "live events/s, same rows",
		note: "20,000 rows feed both a live query (held back, then released) and a topic; one consumer reads them as messages, 1,000 per poll, marking each processed and committing every page"},
	{section: secClient, name: "heap per idle subscription, 1,000 subscriptions", pkg: "tests/bench", bench: "Heap/subs=1000", unit: "B/sub", target: 4 * kib, atMost: true, onValue: true},
	{section: secClient, name: "heap per idle client, 100 clients (socket excluded)", pkg: "tests/bench", bench: "Heap/clients=100", unit: "B/client", refUnit: "raw-B/conn", refLabel: "raw websocket connection", target: 64 * kib, atMost: true, onValue: true,
		note: "client heap minus the heap of a raw coder/websocket connection measured the same way (the reference column)"},

	{section: secClient, name: "burst of 50,000 inserts, default (KalamDB) limits: delivered ÷ written", pkg: "tests/bench", bench: "Burst", unit: "delivered-ratio", target: 1, onValue: true,
		note: "kalamtest's defaults: 128-change queue dropping silently, 1,024-change loading buffer; distinct rows delivered, catch-up repairs included"},
	{section: secClient, name: "burst of 50,000 inserts: events/s, default limits ÷ loosened", pkg: "tests/bench", bench: "Burst", unit: "events/s", refUnit: "loose-events/s", refLabel: "same burst, limits loosened", target: 0.8},
	{section: secClient, name: "burst of 50,000 inserts: changes the server dropped", pkg: "tests/bench", bench: "Burst", unit: "server-drops"},
	{section: secClient, name: "loading-buffer overflow → repaired rows delivered p50", pkg: "tests/bench", bench: "LoadOverflowRepair", unit: "p50-ns",
		note: "2,000-row load in batches of 100 while 2,000 rows are written; from the load's last batch to the last missing row delivered"},
	{section: secClient, name: "loading-buffer overflow → repaired rows delivered p99", pkg: "tests/bench", bench: "LoadOverflowRepair", unit: "p99-ns"},
	{section: secClient, name: "loading-buffer overflow: rows left unrepaired (10 rounds)", pkg: "tests/bench", bench: "LoadOverflowRepair", unit: "unrepaired", target: 0.5, atMost: true, onValue: true, targetText: "0"},

	{section: secServer, name: "kalamtest notifications/s", pkg: "kalamtest", bench: "Notifications", unit: "notifications/s", target: 20000, onValue: true},
	{section: secServer, name: "kalamtest start to first /health", pkg: "kalamtest", bench: "Startup", unit: "ns/op"},

	{section: secWasm, name: ".wasm size, brotli", pkg: "tests/browser", bench: "WasmSize", unit: "brotli-B", fact: 152120, factNote: "official client", target: 1e6, atMost: true, onValue: true, targetText: "≤ 1.0 MB"},
	{section: secWasm, name: ".wasm size, gzip", pkg: "tests/browser", bench: "WasmSize", unit: "gzip-B", fact: 190793, factNote: "official client"},
	{section: secWasm, name: ".wasm size, raw", pkg: "tests/browser", bench: "WasmSize", unit: "raw-B", fact: 486553, factNote: "official client",
		note: "reference: the official browser client's published artifact sizes (facts, not measured here)"},
	{section: secWasm, name: "wazero compile, cold", pkg: "bindings/wazero", bench: "Compile/cold", unit: "ns/op"},
	{section: secWasm, name: "wazero compile, cached", pkg: "bindings/wazero", bench: "Compile/cached", unit: "ns/op", ref: "Compile/cold"},
	{section: secWasm, name: "wazero instantiate", pkg: "bindings/wazero", bench: "Instantiate", unit: "ns/op"},
	{section: secWasm, name: "wazero memory per instance", pkg: "bindings/wazero", bench: "Instantiate", unit: "mem-bytes/instance", target: 6 * kib * kib, atMost: true, onValue: true, targetText: "≤ 6 MiB"},
	{section: secWasm, name: "wazero guest .wasm size, raw", pkg: "bindings/wazero", bench: "GuestSize", unit: "raw-B", target: 4.5e6, atMost: true, onValue: true, targetText: "≤ 4.5 MB"},
	{section: secWasm, name: "Step per live change, wazero ÷ native", pkg: "bindings/wazero", bench: "StepLiveChangePaired", unit: "wazero-ns/change", refUnit: "native-ns/change", refLabel: "native Step", target: 8, atMost: true,
		note: "native and wazero step the same frames in alternating rounds, so both see the same machine load; target restated for a Go guest (issue 18)"},
	{section: secWasm, name: "live change in a 100-frame batch, wazero ÷ native", pkg: "bindings/wazero", bench: "BatchPaired", unit: "wazero-ns/frame", refUnit: "native-ns/frame", refLabel: "native Steps", target: 5, atMost: true},
	{section: secWasm, name: "wazero client live events/s vs native client", pkg: "bindings/wazero", bench: "ClientEvents", unit: "wazero-events/s", refUnit: "native-events/s", refLabel: "native client", target: 0.5},
	{section: secWasm, name: "page load to Live in Chromium", pkg: "tests/browser", bench: "PageLoadToLive", unit: "ns/op"},
	{section: secWasm, name: "browser live events/s vs native client", pkg: "tests/browser", bench: "BrowserEvents", unit: "browser-events/s", refUnit: "native-events/s", refLabel: "native client"},

	{section: secScaling, name: "client events/s, 10 subscriptions", pkg: "tests/bench", bench: "Events/subs=10", unit: "client-events/s", refUnit: "raw-events/s", refLabel: "raw websocket loop"},
	{section: secScaling, name: "client events/s, 100 subscriptions", pkg: "tests/bench", bench: "Events/subs=100", unit: "client-events/s", refUnit: "raw-events/s", refLabel: "raw websocket loop"},
	{section: secScaling, name: "client events/s, 1,000 subscriptions (10 clients)", pkg: "tests/bench", bench: "Events/subs=1000", unit: "client-events/s", refUnit: "raw-events/s", refLabel: "raw websocket loop"},
	{section: secScaling, name: "client events/s, 10 clients", pkg: "tests/bench", bench: "Events/clients=10", unit: "client-events/s", refUnit: "raw-events/s", refLabel: "raw websocket loop"},
	{section: secScaling, name: "client events/s, 100 clients", pkg: "tests/bench", bench: "Events/clients=100", unit: "client-events/s", refUnit: "raw-events/s", refLabel: "raw websocket loop"},
	{section: secScaling, name: "events/s, 1,000 subscriptions ÷ 1", pkg: "tests/bench", bench: "Events/subs=1000", unit: "client-events/s", ref: "Events/subs=1", target: 0.5,
		note: "flat or linear, never worse: total throughput may not collapse as subscriptions or clients grow, nor memory per item grow"},
	{section: secScaling, name: "events/s, 100 clients ÷ 1", pkg: "tests/bench", bench: "Events/clients=100", unit: "client-events/s", ref: "Events/subs=1", target: 0.5},
	{section: secScaling, name: "heap per idle subscription, 1", pkg: "tests/bench", bench: "Heap/subs=1", unit: "B/sub"},
	{section: secScaling, name: "heap per idle subscription, 10", pkg: "tests/bench", bench: "Heap/subs=10", unit: "B/sub"},
	{section: secScaling, name: "heap per idle subscription, 100", pkg: "tests/bench", bench: "Heap/subs=100", unit: "B/sub"},
	{section: secScaling, name: "heap per subscription, 1,000 ÷ 10", pkg: "tests/bench", bench: "Heap/subs=1000", unit: "B/sub", ref: "Heap/subs=10", target: 1.5, atMost: true},
	{section: secScaling, name: "heap per idle client, 1", pkg: "tests/bench", bench: "Heap/clients=1", unit: "B/client", refUnit: "raw-B/conn", refLabel: "raw websocket connection"},
	{section: secScaling, name: "heap per idle client, 10", pkg: "tests/bench", bench: "Heap/clients=10", unit: "B/client", refUnit: "raw-B/conn", refLabel: "raw websocket connection"},
	{section: secScaling, name: "heap per client, 100 ÷ 10", pkg: "tests/bench", bench: "Heap/clients=100", unit: "B/client", ref: "Heap/clients=10", target: 1.5, atMost: true},
}

// row is a figure evaluated against a run.
type row struct {
	fig      figure
	missing  string // why it was not measured; "" when it was
	val      stat
	ref      stat
	hasRef   bool
	refFact  bool
	ratio    float64
	hasRatio bool
	verdict  string // "pass", "FAIL" or "-"
}

func evaluate(rn *run, figs []figure) []row {
	rows := make([]row, 0, len(figs))
	for _, f := range figs {
		r := row{fig: f, verdict: "-"}
		vs := rn.values(f.pkg, f.bench, f.unit)
		if vs == nil {
			r.missing, r.verdict = rn.status(f.pkg), "FAIL"
			rows = append(rows, r)
			continue
		}
		r.val = summarize(vs)
		switch {
		case f.ref != "" || f.refUnit != "":
			pkg, bench, unit := f.refPkg, f.ref, f.refUnit
			if pkg == "" {
				pkg = f.pkg
			}
			if bench == "" {
				bench = f.bench
			}
			if unit == "" {
				unit = f.unit
			}
			rvs := rn.values(pkg, bench, unit)
			if rvs == nil {
				r.missing, r.verdict = "reference: "+rn.status(pkg), "FAIL"
				rows = append(rows, r)
				continue
			}
			r.ref, r.hasRef = summarize(rvs), true
		case f.fact != 0:
			r.ref, r.hasRef, r.refFact = stat{med: f.fact, min: f.fact, max: f.fact, n: 1}, true, true
		}
		if r.hasRef && r.ref.med != 0 && r.val.med != 0 {
			r.ratio, r.hasRatio = r.val.med/r.ref.med, true
			if f.invert {
				r.ratio = r.ref.med / r.val.med
			}
		}
		if f.target != 0 {
			cmp, ok := r.ratio, r.hasRatio
			if f.onValue || !r.hasRef {
				cmp, ok = r.val.med, true
			}
			pass := ok && cmp >= f.target
			if f.atMost {
				pass = ok && cmp <= f.target
			}
			r.verdict = "FAIL"
			if pass {
				r.verdict = "pass"
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// tally counts the verdicts: rows not measured count apart from failures.
func tally(rows []row) (pass, fail, missing int) {
	for _, r := range rows {
		switch {
		case r.missing != "":
			missing++
		case r.verdict == "pass":
			pass++
		case r.verdict == "FAIL":
			fail++
		}
	}
	return pass, fail, missing
}
