package store

import (
	"testing"
)

func TestLex(t *testing.T) {
	tests := []struct {
		in   string
		want string // kinds and texts
	}{
		{"SELECT a.b, 'it''s' FROM \"x\"\"y\" -- c\n/* d */ WHERE $12 <> 1.5e3", `w:SELECT w:a p:. w:b p:, s:it's w:FROM q:x"y w:WHERE $:$12 p:<> n:1.5e3`},
		{"x'00ff' [br ack] `bt` ?1 :n @m", `b:00ff q:br ack q:bt o:?1 o::n o:@m`},
		{"a->>'k' || b != c", `w:a p:->> s:k p:|| w:b p:!= w:c`},
		{"é", `w:é`},
	}
	names := map[tokKind]string{tkWord: "w", tkQuoted: "q", tkString: "s", tkBlob: "b", tkNumber: "n", tkParam: "$", tkOther: "o", tkPunct: "p"}
	for _, tc := range tests {
		toks, err := lex(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		got := ""
		for i, tk := range toks {
			if i > 0 {
				got += " "
			}
			got += names[tk.kind] + ":" + tk.text
		}
		if got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"'open", `"open`, "[open", "/* open", "$0", "$", "$1234567", "x'ab"} {
		if _, err := lex(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0}, {";;", 0}, {"SELECT 1", 1}, {"SELECT 1;", 1}, {"SELECT ';'; SELECT 2", 2},
		{"EXECUTE AS USER a (SELECT 1; SELECT 2); SELECT 3", 2}, {"SELECT 1 -- ;\n", 1},
	}
	for _, tc := range tests {
		toks, err := lex(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(split(toks)); got != tc.want {
			t.Errorf("%q: %d statements, want %d", tc.in, got, tc.want)
		}
	}
}

func TestRewrite(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.orders (id INT PRIMARY KEY, status TEXT)")
	mustExec(t, s, rootSess, "CREATE USER TABLE app.items (id INT PRIMARY KEY, order_id INT)")
	tests := []struct {
		ns, in, want string
	}{
		{"app", "SELECT * FROM orders WHERE id = $2 AND status = $1",
			`SELECT * FROM "app.orders" AS "orders" WHERE id = ?2 AND status = ?1`},
		{"default", "SELECT '$1', \"$1\" FROM app.orders WHERE status = '$2' OR id = $1",
			`SELECT '$1', "$1" FROM "app.orders" AS "orders" WHERE status = '$2' OR id = ?1`},
		{"app", "SELECT app.orders.id, o.status FROM orders o JOIN app.items AS i ON i.order_id = o.id",
			`SELECT "orders".id, o.status FROM "app.orders" o JOIN "app.items" AS i ON i.order_id = o.id`},
		{"app", "SELECT count(*) FROM orders, items WHERE orders.id = items.order_id",
			`SELECT count(*) FROM "app.orders" AS "orders", "app.items" AS "items" WHERE orders.id = items.order_id`},
		{"app", "WITH orders AS (SELECT 1 AS id) SELECT id FROM orders",
			`WITH orders AS (SELECT 1 AS id) SELECT id FROM orders`},
		{"app", "SELECT (SELECT count(*) FROM items) AS n FROM orders -- tail\nWHERE id IN (SELECT order_id FROM app.items)",
			`SELECT (SELECT count(*) FROM "app.items" AS "items") AS n FROM "app.orders" AS "orders" WHERE id IN (SELECT order_id FROM "app.items" AS "items")`},
		{"app", "SELECT json_extract(status, '$.a') FROM orders",
			`SELECT json_extract(status, '$.a') FROM "app.orders" AS "orders"`},
	}
	for _, tc := range tests {
		toks, err := lex(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		r := &rewriter{s: s, src: tc.in, ns: tc.ns}
		r.scanCTEs(toks)
		got, f := r.rewrite(toks)
		if f != nil {
			t.Errorf("%s: %v", tc.in, f)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}
