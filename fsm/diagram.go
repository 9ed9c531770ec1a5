package fsm

import (
	"strings"
)

// Mermaid renders the lifecycle table as a Mermaid stateDiagram-v2. The
// output depends only on the table, byte for byte.
func Mermaid() string {
	var b strings.Builder
	b.WriteString("%% Generated from the lifecycle table in package fsm. Do not edit.\n")
	b.WriteString("stateDiagram-v2\n")
	b.WriteString("    direction LR\n")
	b.WriteString("    [*] --> Unauthed\n")
	for _, spec := range stateSpecs {
		if spec.Parent != spec.State {
			continue
		}
		subs := substates(spec.State)
		if len(subs) == 0 {
			continue
		}
		b.WriteString("    state " + spec.State.String() + " {\n")
		for _, s := range subs {
			b.WriteString("        " + s.String() + "\n")
		}
		b.WriteString("    }\n")
	}
	for _, row := range table {
		if row.Internal {
			continue
		}
		b.WriteString("    " + row.From.String() + " --> " + row.To.String() + " : " + label(row, " ") + "\n")
	}
	b.WriteString("    Closed --> [*]\n")
	for _, spec := range stateSpecs {
		lines := notes(spec)
		if len(lines) == 0 {
			continue
		}
		b.WriteString("    note right of " + spec.State.String() + "\n")
		for _, l := range lines {
			b.WriteString("        " + l + "\n")
		}
		b.WriteString("    end note\n")
	}
	return b.String()
}

// DOT renders the lifecycle table as a Graphviz digraph; superstates are
// clusters and internal transitions dashed self-loops. The output depends
// only on the table, byte for byte.
func DOT() string {
	var b strings.Builder
	b.WriteString("// Generated from the lifecycle table in package fsm. Do not edit.\n")
	b.WriteString("digraph lifecycle {\n")
	b.WriteString("    rankdir=LR;\n    compound=true;\n    newrank=true;\n")
	b.WriteString("    node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("    edge [fontname=\"Helvetica\", fontsize=9];\n")
	b.WriteString("    start [shape=point, width=0.15];\n")
	b.WriteString("    start -> Unauthed;\n")
	node := func(s State, indent string) {
		lines := append([]string{s.String()}, notes(specOf(s))...)
		b.WriteString(indent + s.String() + " [label=\"" + strings.Join(lines, "\\n") + "\"")
		if s == StateClosed {
			b.WriteString(", peripheries=2")
		}
		b.WriteString("];\n")
	}
	for _, spec := range stateSpecs {
		if spec.Parent != spec.State {
			continue
		}
		subs := substates(spec.State)
		if len(subs) == 0 {
			node(spec.State, "    ")
			continue
		}
		b.WriteString("    subgraph cluster_" + spec.State.String() + " {\n")
		b.WriteString("        label=\"" + spec.State.String() + "\";\n        style=rounded;\n        color=gray50;\n")
		node(spec.State, "        ")
		for _, s := range subs {
			node(s, "        ")
		}
		b.WriteString("    }\n")
	}
	for _, row := range table {
		if row.Internal {
			continue
		}
		attrs := "label=\"" + label(row, "\\n") + "\""
		if len(substates(row.From)) > 0 && !row.To.In(row.From) {
			attrs += ", ltail=cluster_" + row.From.String()
		}
		if len(substates(row.To)) > 0 && row.To != row.From {
			if _, inside := row.From.Parent(); !inside || !row.From.In(row.To) {
				attrs += ", lhead=cluster_" + row.To.String()
			}
		}
		b.WriteString("    " + row.From.String() + " -> " + row.To.String() + " [" + attrs + "];\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func label(row Transition, sep string) string {
	l := row.Trigger.String()
	if len(row.Guards) > 0 {
		names := make([]string, len(row.Guards))
		for i, g := range row.Guards {
			names[i] = g.String()
		}
		l += sep + "[" + strings.Join(names, " && ") + "]"
	}
	if row.Action != "" {
		l += " / " + row.Action
	}
	return l
}

// notes lists a state's entry/exit actions and internal transitions.
func notes(spec StateSpec) []string {
	var out []string
	if spec.Entry != "" {
		out = append(out, "entry / "+spec.Entry)
	}
	if spec.Exit != "" {
		out = append(out, "exit / "+spec.Exit)
	}
	for _, row := range table {
		if row.Internal && row.From == spec.State {
			out = append(out, "internal: "+label(row, " "))
		}
	}
	return out
}

func substates(s State) []State {
	var out []State
	for _, spec := range stateSpecs {
		if spec.Parent == s && spec.State != s {
			out = append(out, spec.State)
		}
	}
	return out
}

func specOf(s State) StateSpec {
	for _, spec := range stateSpecs {
		if spec.State == s {
			return spec
		}
	}
	return StateSpec{State: s, Parent: s}
}
