package fsm

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed diagrams in docs/")

const docsDir = "../docs"

func TestDiagramsAreDeterministic(t *testing.T) {
	if Mermaid() != Mermaid() || DOT() != DOT() {
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
}

// TestDOTRendersWithGraphviz checks that Graphviz accepts the DOT without a
// warning, and (with -update) writes the SVG. CI installs graphviz, so there
// a missing dot is a failure.
func TestDOTRendersWithGraphviz(t *testing.T) {
	dotBin, err := exec.LookPath("dot")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("graphviz `dot` is not installed; CI must install it (apt-get install -y graphviz)")
		}
		t.Skip("SKIPPING: graphviz `dot` is not installed; install it (apt-get install graphviz) to check the SVG export")
	}
	cmd := exec.Command(dotBin, "-Tsvg")
	cmd.Stdin = strings.NewReader(DOT())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dot failed: %v: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Fatalf("dot warned: %s", stderr.String())
	}
	if !bytes.Contains(stdout.Bytes(), []byte("<svg")) {
		t.Fatal("dot produced no SVG")
	}
	if *update {
		if err := os.WriteFile(filepath.Join(docsDir, "lifecycle.svg"), stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
