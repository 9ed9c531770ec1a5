package main

import (
	"reflect"
	"testing"
)

func TestSplitSQL(t *testing.T) {
	for _, tc := range []struct {
		src      string
		want     []statement
		complete bool
	}{
		{"", nil, true},
		{"SELECT 1", []statement{{"SELECT 1", 1}}, false},
		{"SELECT 1;", []statement{{"SELECT 1", 1}}, true},
		{"SELECT 1; -- done", []statement{{"SELECT 1", 1}}, true},
		{"SELECT ';'", []statement{{"SELECT ';'", 1}}, false},
		{"SELECT 'it''s;'; SELECT \"a;b\" FROM t;", []statement{{"SELECT 'it''s;'", 1}, {`SELECT "a;b" FROM t`, 1}}, true},
		{"-- c;\n/* x; */\nSELECT 1;\n\nSELECT\n2;", []statement{{"-- c;\n/* x; */\nSELECT 1", 3}, {"SELECT\n2", 5}}, true},
		{"SELECT 'open", []statement{{"SELECT 'open", 1}}, false},
		{"SELECT 1 /* open;", []statement{{"SELECT 1 /* open;", 1}}, false},
		{";;", nil, true},
	} {
		got, complete := splitSQL(tc.src)
		if !reflect.DeepEqual(got, tc.want) || complete != tc.complete {
			t.Errorf("splitSQL(%q) = %+v, %t; want %+v, %t", tc.src, got, complete, tc.want, tc.complete)
		}
	}
}

func TestCompletion(t *testing.T) {
	sh := &shell{tables: []string{"shop.orders", "orders"}, spaces: []string{"shop"}}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"SELECT * FROM ord", []string{"orders"}},
		{"sel", []string{"select"}},
		{"SEL", []string{"SELECT"}},
		{`\ti`, []string{`\timing`}},
		{`\c sh`, []string{"shop"}},
		{`\d sh`, []string{"shop.orders"}},
		{"SELECT * FROM orders ORD", []string{"ORDER", "orders"}},
	} {
		_, got, _ := sh.complete(tc.line, len(tc.line))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("complete(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}
