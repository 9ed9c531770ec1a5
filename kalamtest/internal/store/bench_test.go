package store

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkOpen measures start-up: a fresh store with its bookkeeping
// tables, the default namespace and the root user.
func BenchmarkOpen(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		for b.Loop() {
			s, err := Open(Options{})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	b.Run("disk", func(b *testing.B) {
		dir := b.TempDir()
		i := 0
		for b.Loop() {
			s, err := Open(Options{Path: filepath.Join(dir, strconv.Itoa(i)+".db")})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
			i++
		}
	})
}

func benchStore(b *testing.B) *Store {
	b.Helper()
	s := newStore(b)
	mustExec(b, s, rootSess, "CREATE USER TABLE app.m (id BIGINT PRIMARY KEY, room TEXT NOT NULL, body TEXT, n INT)")
	return s
}

// BenchmarkInsert is one single-row INSERT through Exec (parse, rewrite,
// cached prepared statement, triggers, capture, Watch delivery).
func BenchmarkInsert(b *testing.B) {
	b.Run("params", func(b *testing.B) {
		s := benchStore(b)
		stop := s.Watch(func(Change) {})
		defer stop()
		ctx := context.Background()
		params := []any{int64(0), "room-1", "hello world", int64(7)}
		i := int64(0)
		b.ReportAllocs()
		for b.Loop() {
			i++
			params[0] = i
			if _, err := s.Exec(ctx, aliceSess, "INSERT INTO m (id, room, body, n) VALUES ($1, $2, $3, $4)", params); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("literals", func(b *testing.B) {
		s := benchStore(b)
		ctx := context.Background()
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i++
			q := "INSERT INTO m (id, room, body, n) VALUES (" + strconv.Itoa(i) + ", 'room-1', 'hello world', 7)"
			if _, err := s.Exec(ctx, aliceSess, q, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSelect is a point query through Exec.
func BenchmarkSelect(b *testing.B) {
	s := benchStore(b)
	for i := 0; i < 1000; i++ {
		mustExec(b, s, aliceSess, "INSERT INTO m (id, room) VALUES ($1, 'r')", i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Exec(ctx, aliceSess, "SELECT * FROM m WHERE id = $1", []any{int64(i % 1000)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNotify builds the change message for one subscriber; the
// server's budget is 50 µs per notification (20,000/s).
func BenchmarkNotify(b *testing.B) {
	s := benchStore(b)
	w := watch(b, s)
	mustExec(b, s, aliceSess, "INSERT INTO m (id, room, body, n) VALUES (1, 'room-1', 'hello world', 7)")
	mustExec(b, s, aliceSess, "UPDATE m SET body = 'changed', n = NULL WHERE id = 1")
	chs := w.drain()
	ins, upd := chs[0], chs[1]
	for _, tc := range []struct {
		name, sql string
		ch        Change
	}{
		{"insert/nowhere", "SELECT * FROM app.m", ins},
		{"insert/where", "SELECT * FROM app.m WHERE room = 'room-1' AND (n IS NULL OR n < 100)", ins},
		{"insert/projection", "SELECT id, body FROM app.m", ins},
		{"update/nowhere", "SELECT * FROM app.m", upd},
		{"update/where", "SELECT * FROM app.m WHERE room = 'room-1' AND (n IS NULL OR n < 100)", upd},
		{"other-owner", "SELECT * FROM app.m WHERE room = 'x'", ins},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sess := aliceSess
			if tc.name == "other-owner" {
				sess = bobSess
			}
			q, err := s.PrepareLive(sess, tc.sql)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Notify(q, sess, tc.ch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("where/parallel", func(b *testing.B) {
		q, err := s.PrepareLive(aliceSess, "SELECT * FROM app.m WHERE room = 'room-1'")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, ok, err := s.Notify(q, aliceSess, ins); err != nil || !ok {
					b.Error(ok, err)
					return
				}
			}
		})
	})
}

// BenchmarkSnapshot reads one initial-load batch of 100 rows.
func BenchmarkSnapshot(b *testing.B) {
	s := benchStore(b)
	mustExec(b, s, aliceSess, "INSERT INTO m (id, room, n) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT x, 'r', x FROM c")
	q, err := s.PrepareLive(aliceSess, "SELECT * FROM app.m WHERE n % 2 = 0")
	if err != nil {
		b.Fatal(err)
	}
	end, _ := s.SnapshotEnd(q, aliceSess)
	b.ReportAllocs()
	for b.Loop() {
		rows, err := s.Snapshot(q, aliceSess, 0, end, 100)
		if err != nil || len(rows) != 100 {
			b.Fatal(len(rows), err)
		}
	}
}
