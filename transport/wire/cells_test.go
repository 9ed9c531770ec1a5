package wire_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

var cellSeeds = []string{
	`{}`,
	` { "id" : "1" , "name":"tea" } `,
	`{"id":"9007199254740993","_seq":"384657595895382016","_deleted":false,"note":null}`,
	`{"a":{"b":[1,2,{"c":"d"}]},"e":[]}`,
	`{"a":1,"a":2}`,
	`{"\u0061":1}`,
	`{"é":"ü","emoji":"\ud83d\ude00"}`,
	`{"a":"x\"y"}`,
	`{"a":1,}`,
	`{"a":1}x`,
	`{"a"}`,
	`[1]`,
	`null`,
	`{"a":tru}`,
	`{"a":1e400}`,
	"{\"bad\xff\":1}",
	"{\"a\":\"bad\xff\"}",
}

// checkCells holds the fast path to encoding/json: when it accepts a row,
// it must give exactly the cells encoding/json gives.
func checkCells(t *testing.T, row []byte) {
	fast, ok := wire.CellsFast(row)
	std, err := wire.CellsStd(row)
	if !ok {
		return // the fallback is encoding/json itself
	}
	if err != nil {
		t.Fatalf("fast path accepted %q, encoding/json refused it: %v", row, err)
	}
	if len(fast) != len(std) {
		t.Fatalf("%q: %d cells fast, %d std", row, len(fast), len(std))
	}
	for k, v := range std {
		if !bytes.Equal(fast[k], v) {
			t.Fatalf("%q: cell %q = %s fast, %s std", row, k, fast[k], v)
		}
	}
	if !json.Valid(row) {
		t.Fatalf("fast path accepted invalid JSON %q", row)
	}
}

func TestCellsMatchesStd(t *testing.T) {
	for _, s := range cellSeeds {
		checkCells(t, []byte(s))
	}
	// The common row shape takes the fast path.
	if _, ok := wire.CellsFast([]byte(cellSeeds[2])); !ok {
		t.Fatal("a plain row fell back to encoding/json")
	}
}

func FuzzCellsMatchesStd(f *testing.F) {
	for _, s := range cellSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkCells)
}

func BenchmarkCells(b *testing.B) {
	row := []byte(`{"id":"1042","item":"tea","status":"open","qty":"3","_seq":"384657595895382016","_deleted":false}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.Cells(row); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("std", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.CellsStd(row); err != nil {
				b.Fatal(err)
			}
		}
	})
}
