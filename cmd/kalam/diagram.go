package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kalamgo/kalam/fsm"
)

// diagramCommand prints the lifecycle diagram, generated from the same
// table that runs the client.
func (a *app) diagramCommand() *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "diagram",
		Short: "print the client lifecycle diagram (mermaid, dot or svg)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var data []byte
			switch strings.ToLower(format) {
			case "mermaid", "mmd":
				data = []byte(fsm.Mermaid())
			case "dot", "graphviz":
				data = []byte(fsm.DOT())
			case "svg":
				svg, err := renderSVG(cmd.Context(), fsm.DOT())
				if err != nil {
					return err
				}
				data = svg
			default:
				return usageErr("unknown format %q: use mermaid, dot or svg", format)
			}
			if out == "" {
				_, err := a.io.out.Write(data)
				return err
			}
			return os.WriteFile(out, data, 0o644)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "F", "mermaid", "output format: mermaid, dot or svg (svg needs graphviz's dot)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"mermaid", "dot", "svg"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
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
