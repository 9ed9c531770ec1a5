package abi

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestDocsDeclareThisABI: docs/ABI.md is written for hosts in other
// languages from the declarations here; it must name this version and
// every export, each in the exports table.
func TestDocsDeclareThisABI(t *testing.T) {
	b, err := os.ReadFile("../../docs/ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	v := strconv.Itoa(Version)
	for _, want := range []string{
		"ABI version: **" + v + "**",
		"kalam_abi_version() == " + v,
		"| ABI version, " + v + ". |",
		"(ABI version " + v + ")",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/ABI.md does not say %q", want)
		}
	}
	for _, name := range []string{ExportInitialize, ExportVersion, ExportBuffer, ExportInit, ExportStep, ExportStepBatch, ExportView, ExportMemory} {
		if !strings.Contains(doc, "| `"+name+"`") {
			t.Errorf("the exports table of docs/ABI.md lacks %s", name)
		}
	}
}
