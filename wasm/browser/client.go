//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"syscall/js"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

// jsConfig is the configuration JavaScript passes, as JSON. Durations are
// milliseconds. The auth provider and the listeners come separately, as
// JavaScript values.
type jsConfig struct {
	URL                string  `json:"url"`
	Namespace          string  `json:"namespace"`
	EagerConnect       bool    `json:"eagerConnect"`
	RefreshMarginMs    float64 `json:"refreshMarginMs"`
	BackoffMinMs       float64 `json:"backoffMinMs"`
	BackoffMaxMs       float64 `json:"backoffMaxMs"`
	PingIntervalMs     float64 `json:"pingIntervalMs"`
	PongTimeoutMs      float64 `json:"pongTimeoutMs"`
	ConnectTimeoutMs   float64 `json:"connectTimeoutMs"`
	GiveUpAttempts     int     `json:"giveUpAttempts"`
	GiveUpAfterMs      float64 `json:"giveUpAfterMs"`
	RequestTimeoutMs   float64 `json:"requestTimeoutMs"`
	EventBuffer        int     `json:"eventBuffer"`
	BufferBytes        int     `json:"bufferBytes"`
	DisableCompression bool    `json:"disableCompression"`
	Seed               uint64  `json:"seed"`
	Debug              bool    `json:"debug"`
	// Lifecycle false leaves the page's online/offline and visibility
	// events alone (the application then calls networkChanged and wake).
	Lifecycle *bool `json:"lifecycle"`
	// Basic and token credentials may come as data; a function provider
	// comes as the hooks' auth member.
	User         string `json:"user"`
	Password     string `json:"password"`
	Token        string `json:"token"`
	RefreshToken string `json:"refreshToken"`

	// AllowInsecureHTTP is kalam.Config.AllowInsecureHTTP.
	AllowInsecureHTTP bool `json:"allowInsecureHTTP"`
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// create(configJSON, hooks) builds a client and returns its handle, or an
// Error (bindings/js throws it).
func create(_ js.Value, args []js.Value) any {
	var cfg jsConfig
	if s := arg(args, 0); s.Type() == js.TypeString {
		dec := json.NewDecoder(strings.NewReader(s.String()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return toJSError(&configError{field: "(json)", reason: err.Error()})
		}
	}
	hooks := arg(args, 1)
	h, err := newHandle(cfg, hooks)
	if err != nil {
		return toJSError(err)
	}
	return h.m.obj
}

// handle is one client as JavaScript holds it.
type handle struct {
	c     *kalam.Client
	m     *methods
	ctx   context.Context // ends when the client closes; the handle's goroutines watch it
	stop  context.CancelFunc
	life  *lifecycle
	hooks js.Value
	// eventBuffer is the client's per-subscription buffer (0: default); it
	// also caps the batches handed to JavaScript.
	eventBuffer int
}

func newHandle(cfg jsConfig, hooks js.Value) (*handle, error) {
	h := &handle{hooks: hooks, eventBuffer: cfg.EventBuffer}
	h.ctx, h.stop = context.WithCancel(context.Background())
	kc := kalam.Config{
		URL:                cfg.URL,
		Namespace:          cfg.Namespace,
		EagerConnect:       cfg.EagerConnect,
		RefreshMargin:      ms(cfg.RefreshMarginMs),
		BackoffMin:         ms(cfg.BackoffMinMs),
		BackoffMax:         ms(cfg.BackoffMaxMs),
		PingInterval:       ms(cfg.PingIntervalMs),
		PongTimeout:        ms(cfg.PongTimeoutMs),
		ConnectTimeout:     ms(cfg.ConnectTimeoutMs),
		GiveUpAttempts:     cfg.GiveUpAttempts,
		GiveUpAfter:        ms(cfg.GiveUpAfterMs),
		RequestTimeout:     ms(cfg.RequestTimeoutMs),
		EventBuffer:        cfg.EventBuffer,
		BufferBytes:        cfg.BufferBytes,
		DisableCompression: cfg.DisableCompression,
		Seed:               cfg.Seed,
		AllowInsecureHTTP:  cfg.AllowInsecureHTTP,
	}
	if cfg.Debug {
		kc.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	provider, err := providerFor(cfg, hooks)
	if err != nil {
		h.stop()
		return nil, err
	}
	kc.Auth = provider
	if fn := member(hooks, "onStateChange"); fn.Truthy() {
		kc.OnStateChange = func(t kalam.Transition) {
			o := jsObject.New()
			o.Set("from", t.From.String())
			o.Set("to", t.To.String())
			o.Set("trigger", t.Trigger.String())
			o.Set("attempt", t.Attempt)
			o.Set("code", t.Code)
			o.Set("retryInMs", float64(t.RetryIn)/float64(time.Millisecond))
			if t.Reason != nil {
				o.Set("reason", toJSError(t.Reason))
			}
			callJS(fn, o)
		}
	}
	if fn := member(hooks, "onConnection"); fn.Truthy() {
		kc.OnConnection = func(ev kalam.ConnectionEvent) {
			o := jsObject.New()
			o.Set("connected", ev.Connected)
			o.Set("code", ev.Code)
			o.Set("reason", ev.Reason)
			o.Set("recoverable", ev.Recoverable)
			if ev.Err != nil {
				o.Set("error", toJSError(ev.Err))
			}
			callJS(fn, o)
		}
	}
	if fn := member(hooks, "onError"); fn.Truthy() {
		kc.OnError = func(err error, recoverable bool) { callJS(fn, toJSError(err), recoverable) }
	}
	c, err := kalam.New(kc)
	if err != nil {
		h.stop()
		return nil, err
	}
	h.c = c
	h.m = newMethods()
	h.bind()
	if cfg.Lifecycle == nil || *cfg.Lifecycle {
		h.life = watchLifecycle(h.ctx, c)
	}
	return h, nil
}

func member(v js.Value, name string) js.Value {
	if v.Type() != js.TypeObject {
		return js.Undefined()
	}
	return v.Get(name)
}

// providerFor picks the auth provider: a JavaScript function (asked on
// start, before expiry, after a refusal and on every reconnect; it may
// return a Promise), a user name and password, or a fixed token.
func providerFor(cfg jsConfig, hooks js.Value) (auth.Provider, error) {
	if fn := member(hooks, "auth"); fn.Type() == js.TypeFunction {
		return auth.Dynamic(func(ctx context.Context, req auth.Request) (auth.Credentials, error) {
			return callProvider(ctx, fn, req)
		}), nil
	}
	switch {
	case cfg.User != "":
		return auth.Basic(cfg.User, cfg.Password), nil
	case cfg.Token != "" && cfg.RefreshToken != "":
		return auth.JWTWithRefresh(cfg.Token, cfg.RefreshToken), nil
	case cfg.Token != "":
		return auth.JWT(cfg.Token), nil
	case cfg.Password != "" || cfg.RefreshToken != "":
		return nil, &configError{field: "auth", reason: "a password needs a user, a refresh token needs a token"}
	}
	return nil, nil // credentials arrive through updateAuth
}

// callProvider asks the JavaScript provider and waits for its Promise
// without blocking the event loop: it runs on the client's provider
// goroutine, and the Promise's reactions wake it through a channel.
func callProvider(ctx context.Context, fn js.Value, req auth.Request) (auth.Credentials, error) {
	r := jsObject.New()
	r.Set("reason", req.Reason.String())
	v, err := invokeSafely(fn, r)
	if err != nil {
		return auth.Credentials{}, err
	}
	v, err = awaitJS(ctx, v)
	if err != nil {
		return auth.Credentials{}, err
	}
	return credentialsFrom(v)
}

// credentialsFrom reads what a provider returned: a token string, or an
// object with accessToken/refreshToken (KalamDB's login answer, with
// access_token/refresh_token, is accepted as it is).
func credentialsFrom(v js.Value) (auth.Credentials, error) {
	switch v.Type() {
	case js.TypeString:
		return auth.FromTokens(v.String(), "")
	case js.TypeObject:
		access, refresh := str(v, "accessToken", "access_token"), str(v, "refreshToken", "refresh_token")
		if access == "" {
			return auth.Credentials{}, auth.ErrNoCredentials
		}
		return auth.FromTokens(access, refresh)
	case js.TypeNull, js.TypeUndefined:
		return auth.Credentials{}, auth.ErrNoCredentials
	}
	return auth.Credentials{}, &configError{field: "auth", reason: "the provider returned a " + v.Type().String()}
}

func str(v js.Value, names ...string) string {
	for _, n := range names {
		if s := v.Get(n); s.Type() == js.TypeString {
			return s.String()
		}
	}
	return ""
}

// bg is the context of calls: they end with ErrClosed when the client
// closes, so they need no context of their own.
var bg = context.Background()

// bind exposes the client's methods.
func (h *handle) bind() {
	m := h.m
	m.set("state", func([]js.Value) any { return h.c.State().String() })
	m.set("describe", func([]js.Value) any { return h.c.String() })
	m.set("connect", func([]js.Value) any {
		return promise(func() (any, error) { return nil, h.c.Connect(bg) })
	})
	m.set("disconnect", func([]js.Value) any {
		return promise(func() (any, error) { return nil, h.c.Disconnect(bg) })
	})
	// query(sql, paramsJSON?, namespace?) resolves to the result as JSON.
	m.set("query", func(args []js.Value) any {
		sql := arg(args, 0).String()
		var params []any
		if p := arg(args, 1); p.Type() == js.TypeString {
			dec := json.NewDecoder(strings.NewReader(p.String()))
			dec.UseNumber()
			if err := dec.Decode(&params); err != nil {
				return rejected(&configError{field: "params", reason: err.Error()})
			}
		}
		ns, inNS := "", false
		if n := arg(args, 2); n.Type() == js.TypeString {
			ns, inNS = n.String(), true
		}
		return promise(func() (any, error) {
			var res *kalam.Result
			var err error
			if inNS {
				res, err = h.c.QueryIn(bg, ns, sql, params...)
			} else {
				res, err = h.c.Query(bg, sql, params...)
			}
			if err != nil {
				return nil, err
			}
			return string(appendResult(nil, res)), nil
		})
	})
	// live(sql, optionsJSON) resolves to a subscription handle.
	m.set("live", func(args []js.Value) any {
		sql := arg(args, 0).String()
		var opts kalam.LiveOptions
		if err := decodeOpts(arg(args, 1), &opts); err != nil {
			return rejected(err)
		}
		return promise(func() (any, error) {
			sub, err := h.c.Live(bg, sql, opts)
			if err != nil {
				return nil, err
			}
			return newSubHandle(h.ctx, sub, h.eventBuffer).m.obj, nil
		})
	})
	// liveRows(sql, optionsJSON, onChange) resolves to a view handle.
	m.set("liveRows", func(args []js.Value) any {
		sql := arg(args, 0).String()
		var opts kalam.RowsOptions
		if err := decodeOpts(arg(args, 1), &opts); err != nil {
			return rejected(err)
		}
		onChange := arg(args, 2)
		return promise(func() (any, error) {
			v, err := h.c.LiveRows(bg, sql, opts)
			if err != nil {
				return nil, err
			}
			return newRowsHandle(h.ctx, v, onChange).m.obj, nil
		})
	})
	m.set("setNamespace", func(args []js.Value) any {
		ns := arg(args, 0).String()
		return promise(func() (any, error) { return nil, h.c.SetNamespace(ns) })
	})
	m.set("namespace", func([]js.Value) any {
		return promise(func() (any, error) { return h.c.Namespace(), nil })
	})
	// updateAuth(accessToken, refreshToken?) installs pushed credentials.
	m.set("updateAuth", func(args []js.Value) any {
		access := arg(args, 0)
		refresh := ""
		if r := arg(args, 1); r.Type() == js.TypeString {
			refresh = r.String()
		}
		if access.Type() != js.TypeString {
			return rejected(&configError{field: "accessToken", reason: "must be a string"})
		}
		tok := access.String()
		return promise(func() (any, error) {
			creds, err := auth.FromTokens(tok, refresh)
			if err != nil {
				return nil, err
			}
			return nil, h.c.UpdateAuth(creds)
		})
	})
	m.set("freshAuth", func([]js.Value) any {
		return promise(func() (any, error) { return nil, h.c.FreshAuth(bg) })
	})
	m.set("networkChanged", func(args []js.Value) any {
		online := arg(args, 0).Truthy()
		return promise(func() (any, error) { return nil, h.c.NetworkChanged(online) })
	})
	m.set("wake", func([]js.Value) any {
		return promise(func() (any, error) { return nil, h.c.Wake() })
	})
	m.set("lifecycleStats", func([]js.Value) any {
		o := jsObject.New()
		if h.life != nil {
			s := h.life.snapshot()
			o.Set("online", s.online)
			o.Set("offline", s.offline)
			o.Set("wakes", s.wakes)
			o.Set("lastHiddenMs", float64(s.lastHidden)/float64(time.Millisecond))
		}
		return o
	})
	// drain(timeoutMs?) resolves to the outcome as JSON; a drain that
	// abandoned work rejects with DRAIN_TIMEOUT and the outcome attached.
	m.set("drain", func(args []js.Value) any {
		timeout := 30 * time.Second
		if t := arg(args, 0); t.Type() == js.TypeNumber {
			timeout = ms(t.Float())
		}
		return promise(func() (any, error) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			out, err := h.c.Drain(ctx)
			h.shutdown()
			if err != nil {
				return nil, &drainError{err: err, outcome: string(appendDrain(nil, out))}
			}
			return string(appendDrain(nil, out)), nil
		})
	})
	m.set("close", func([]js.Value) any {
		return promise(func() (any, error) {
			err := h.c.Close()
			h.shutdown()
			return nil, err
		})
	})
}

// shutdown stops what the handle started besides the client.
func (h *handle) shutdown() {
	h.stop()
	if h.life != nil {
		h.life.wait()
	}
}

// drainError carries the outcome of a drain that failed.
type drainError struct {
	err     error
	outcome string
}

func (e *drainError) Error() string { return e.err.Error() }
func (e *drainError) Unwrap() error { return e.err }

func decodeOpts(v js.Value, dst any) error {
	if v.Type() != js.TypeString {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(v.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return &configError{field: "options", reason: err.Error()}
	}
	return nil
}

// rejected returns a Promise rejected with err.
func rejected(err error) js.Value { return jsPromise.Call("reject", toJSError(err)) }
