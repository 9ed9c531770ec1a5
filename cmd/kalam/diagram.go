package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/kalamgo/kalam/fsm"
)

// runDiagram prints the lifecycle diagram, generated from the same table
// that runs the client.
func runDiagram(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kalam diagram", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "mermaid", "output format: mermaid, dot or svg (svg needs graphviz's dot)")
	out := fs.String("o", "", "write to this `file` instead of stdout")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: kalam diagram [flags]\n\nPrints the client lifecycle diagram.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	var data []byte
	switch strings.ToLower(*format) {
	case "mermaid", "mmd":
		data = []byte(fsm.Mermaid())
	case "dot", "graphviz":
		data = []byte(fsm.DOT())
	case "svg":
		svg, err := renderSVG(ctx, fsm.DOT())
		if err != nil {
			return err
		}
		data = svg
	default:
		fmt.Fprintf(stderr, "kalam diagram: unknown format %q (want mermaid, dot or svg)\n", *format)
		return errUsage
	}
	if *out == "" {
		_, err := stdout.Write(data)
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}

// renderSVG runs graphviz's dot on src.
func renderSVG(ctx context.Context, src string) ([]byte, error) {
	bin, err := exec.LookPath("dot")
	if err != nil {
		return nil, errors.New("svg needs graphviz's dot on PATH (apt-get install graphviz), or use -format dot")
	}
	cmd := exec.CommandContext(ctx, bin, "-Tsvg")
	cmd.Stdin = strings.NewReader(src)
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dot: %v: %s", err, strings.TrimSpace(errBuf.String()))
	}
	return outBuf.Bytes(), nil
}
