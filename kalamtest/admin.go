package kalamtest

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// adminPrefix is where the fault endpoint lives. It answers loopback
// callers that present the admin token only (see adminAllowed): it is for
// tests and local tools, never for exposure.
const adminPrefix = "/_kalamtest/"

// Admin routes. Bodies and answers are JSON; durations are Go duration
// strings ("1.5s"). Success is 200 {"ok":true} unless noted; failures are
// {"error":"…"} with 400, 401 (no or wrong token), 403 (not loopback, foreign
// Host or Origin), 404, 409 or 415 (a POST that is not application/json).
//
//	POST /_kalamtest/faults/expire-tokens
//	POST /_kalamtest/faults/expire-access-tokens
//	POST /_kalamtest/faults/revoke-user        {"user":"alice"}
//	POST /_kalamtest/faults/drop-connections
//	POST /_kalamtest/faults/close-connections  {"code":1001,"reason":"bye"}
//	POST /_kalamtest/faults/pause-accepting    {"duration":"2s"}  (required: the endpoint itself becomes unreachable)
//	POST /_kalamtest/faults/restart            202; the restart runs after the answer
//	POST /_kalamtest/faults/token-ttl          {"access":"1m","refresh":"5m"}
//	POST /_kalamtest/users                     {"name":"bob","password":"…","role":"user"}
//	GET  /_kalamtest/stats                     Stats
//	GET  /_kalamtest/subscriptions             [SubscriptionInfo]
//	GET  /_kalamtest/connections               {"connections":n}
//	GET  /_kalamtest/drops                     DropReport (_seq values as strings)
func (s *Server) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	p := adminPrefix
	mux.HandleFunc("POST "+p+"faults/expire-tokens", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireAllTokens()
		adminOK(w)
	})
	mux.HandleFunc("POST "+p+"faults/expire-access-tokens", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireAccessTokens()
		adminOK(w)
	})
	mux.HandleFunc("POST "+p+"faults/revoke-user", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			User string `json:"user"`
		}
		if !adminDecode(w, r, &req) {
			return
		}
		if err := s.RevokeUser(req.User); err != nil {
			adminError(w, http.StatusNotFound, err)
			return
		}
		adminOK(w)
	})
	mux.HandleFunc("POST "+p+"faults/drop-connections", func(w http.ResponseWriter, r *http.Request) {
		s.answerThen(w, s.DropConnections)
	})
	mux.HandleFunc("POST "+p+"faults/close-connections", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		}
		if !adminDecode(w, r, &req) {
			return
		}
		if err := s.CloseConnections(req.Code, req.Reason); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		adminOK(w)
	})
	mux.HandleFunc("POST "+p+"faults/pause-accepting", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Duration string `json:"duration"`
		}
		if !adminDecode(w, r, &req) {
			return
		}
		d, err := time.ParseDuration(req.Duration)
		if err != nil || d <= 0 || d > 10*time.Minute {
			adminError(w, http.StatusBadRequest, errors.New("duration must be a Go duration between 0 and 10m"))
			return
		}
		if err := s.PauseAccepting(); err != nil {
			adminError(w, http.StatusConflict, err)
			return
		}
		s.goAsync(func() {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				if err := s.ResumeAccepting(); err != nil && !errors.Is(err, ErrClosed) {
					s.log.Warn("kalamtest: resuming after a timed pause failed", "err", err)
				}
			case <-s.quit:
			}
		})
		adminOK(w)
	})
	mux.HandleFunc("POST "+p+"faults/restart", func(w http.ResponseWriter, r *http.Request) {
		s.answerThen(w, func() {
			if err := s.Restart(); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Warn("kalamtest: restart failed", "err", err)
			}
		})
	})
	mux.HandleFunc("POST "+p+"faults/token-ttl", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Access  string `json:"access"`
			Refresh string `json:"refresh"`
		}
		if !adminDecode(w, r, &req) {
			return
		}
		var access, refresh time.Duration
		var err error
		if req.Access != "" {
			if access, err = time.ParseDuration(req.Access); err != nil || access < 0 {
				adminError(w, http.StatusBadRequest, errors.New("access must be a non-negative Go duration"))
				return
			}
		}
		if req.Refresh != "" {
			if refresh, err = time.ParseDuration(req.Refresh); err != nil || refresh < 0 {
				adminError(w, http.StatusBadRequest, errors.New("refresh must be a non-negative Go duration"))
				return
			}
		}
		s.SetTokenTTL(access, refresh)
		adminOK(w)
	})
	mux.HandleFunc("POST "+p+"users", func(w http.ResponseWriter, r *http.Request) {
		var req User
		if !adminDecode(w, r, &req) {
			return
		}
		if err := s.CreateUser(req.Name, req.Password, req.Role); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		adminOK(w)
	})
	mux.HandleFunc("GET "+p+"stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("GET "+p+"subscriptions", func(w http.ResponseWriter, r *http.Request) {
		subs := s.Subscriptions()
		if subs == nil {
			subs = []SubscriptionInfo{}
		}
		writeJSON(w, http.StatusOK, subs)
	})
	mux.HandleFunc("GET "+p+"connections", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"connections": s.Connections()})
	})
	mux.HandleFunc("GET "+p+"drops", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Drops())
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.adminAllowed(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func adminOK(w http.ResponseWriter) { writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) }

func adminError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func adminDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		adminError(w, http.StatusBadRequest, errors.New("cannot read the request body"))
		return false
	}
	if reason := decodeStrict(body, v, true); reason != "" {
		adminError(w, http.StatusBadRequest, errors.New("bad request body: "+reason))
		return false
	}
	return true
}

// answerThen answers 202 on a connection marked to close, pushes the whole
// answer onto the wire, and only then starts f: a fault that cuts every
// connection must not cut the one carrying the news that it will happen.
func (s *Server) answerThen(w http.ResponseWriter, f func()) {
	body := []byte(`{"ok":true}` + "\n")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(body)
	_ = http.NewResponseController(w).Flush()
	s.goAsync(f)
}
