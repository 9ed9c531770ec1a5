package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed diagrams in docs/")

const docsDir = "../docs"

func TestDiagramsAreDeterministic(t *testing.T) {
	m1, m2, d1, d2 := Mermaid(), Mermaid(), DOT(), DOT()
	if m1 != m2 || d1 != d2 {
		t.Fatal("diagram output differs between two calls")
	}
}

func TestDiagramsShowTheWholeTable(t *testing.T) {
	mmd, dot := Mermaid(), DOT()
	for _, s := range States() {
		for name, d := range map[string]string{"mermaid": mmd, "dot": dot} {
			if !strings.Contains(d, s.String()) {
				t.Errorf("%s diagram lacks state %v", name, s)
			}
		}
	}
	for _, row := range Table() {
		if row.Internal {
			if !strings.Contains(mmd, "internal: "+label(row, " ")) {
				t.Errorf("mermaid lacks internal transition %v/%v", row.From, row.Trigger)
			}
			continue
		}
		edge := row.From.String() + " --> " + row.To.String() + " : " + label(row, " ")
		if !strings.Contains(mmd, edge) {
			t.Errorf("mermaid lacks edge %q", edge)
		}
		if !strings.Contains(dot, row.From.String()+" -> "+row.To.String()+" [label=\""+label(row, "\\n")+"\"") {
			t.Errorf("dot lacks edge %v -> %v", row.From, row.To)
		}
		for _, g := range row.Guards {
			if !strings.Contains(edge, g.String()) {
				t.Errorf("edge %q does not name guard %v", edge, g)
			}
		}
	}
}

// TestDiagramsUpToDate fails when docs/ holds diagrams the table no longer
// produces. Regenerate with `make diagrams` (go test ./fsm -run
// TestDiagramsUpToDate -update).
func TestDiagramsUpToDate(t *testing.T) {
	for name, content := range map[string]string{"lifecycle.mmd": Mermaid(), "lifecycle.dot": DOT()} {
		path := filepath.Join(docsDir, name)
		if *update {
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run `make diagrams`)", err)
		}
		if !bytes.Equal(got, []byte(content)) {
			t.Errorf("%s is stale: the lifecycle table changed; run `make diagrams` and commit the result", path)
		}
	}
	// The SVG records the DOT it was rendered from; its layout depends on
	// the Graphviz version and is not compared.
	if *update {
		return // TestDOTRendersWithGraphviz rewrites it
	}
	svg, err := os.ReadFile(filepath.Join(docsDir, "lifecycle.svg"))
	if err != nil {
		t.Fatalf("%v (run `make diagrams`)", err)
	}
	if !bytes.Contains(svg, []byte(svgStamp())) {
		t.Errorf("docs/lifecycle.svg was not rendered from the current DOT; run `make diagrams` (needs graphviz) and commit the result")
	}
}

// svgStamp is the comment the SVG carries to name the DOT it shows.
func svgStamp() string {
	sum := sha256.Sum256([]byte(DOT()))
	return "<!-- rendered from lifecycle.dot sha256:" + hex.EncodeToString(sum[:]) + " -->"
}
