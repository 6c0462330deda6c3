package main

// A Dockerfile reader for the tests, following the Dockerfile reference
// (https://docs.docker.com/reference/dockerfile/) for what our Dockerfile
// may use: parser directives and comments, line continuations with the
// default escape character, instructions with --flags, JSON (exec) and
// shell forms, FROM ... AS, ARG with defaults and scopes, LABEL key=value
// pairs with quotes, and $VAR, ${VAR}, ${VAR:-word} and ${VAR:+word}.
// It refuses what it does not read (heredocs, another escape character)
// rather than misread it. BuildKit's own parser was not used: its module
// would raise about thirty of this module's dependencies (gRPC,
// OpenTelemetry, logr, ...) for one test.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// instruction is one Dockerfile instruction after continuations are joined.
type instruction struct {
	Line  int               // where it starts, 1-based
	Cmd   string            // upper case: FROM, RUN, ...
	Flags map[string]string // --name=value before the arguments
	Args  string            // the rest, raw
}

// stage is a FROM and what follows it.
type stage struct {
	Base, Name, Platform string
	// Args is the stage's ARG values: declared in the stage, a build
	// argument's value or else the default (a global ARG's default when the
	// stage declares it without one).
	Args   map[string]string
	Instrs []instruction
}

// dockerfile is a parsed Dockerfile.
type dockerfile struct {
	GlobalArgs map[string]string // ARGs before the first FROM
	Stages     []*stage
}

var directiveRE = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$`)

// instructions splits src into instructions.
func instructions(src string) ([]instruction, error) {
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var out []instruction
	inDirectives := true
	var cur strings.Builder
	start := 0
	for i, raw := range lines {
		trimmed := strings.TrimSpace(raw)
		if inDirectives {
			if m := directiveRE.FindStringSubmatch(trimmed); m != nil {
				if strings.EqualFold(m[1], "escape") && m[2] != `\` {
					return nil, fmt.Errorf("line %d: escape directive %q: only the default \\ is read", i+1, m[2])
				}
				continue
			}
			inDirectives = false
		}
		// Comment lines go, also inside a continuation; so do empty lines.
		if strings.HasPrefix(trimmed, "#") || trimmed == "" {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		// A backslash ending the line (trailing blanks aside) continues it.
		line := strings.TrimRight(raw, " \t")
		if before, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(before)
			continue
		}
		cur.WriteString(line)
		ins, err := parseInstruction(start, cur.String())
		if err != nil {
			return nil, err
		}
		out = append(out, ins)
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: the file ends inside a continuation", start)
	}
	return out, nil
}

func parseInstruction(line int, s string) (instruction, error) {
	s = strings.TrimSpace(s)
	cmd, rest := s, ""
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		cmd, rest = s[:i], s[i+1:]
	}
	ins := instruction{Line: line, Cmd: strings.ToUpper(cmd), Flags: map[string]string{}}
	rest = strings.TrimSpace(rest)
	// Flags come first, before the arguments, on every instruction.
	for strings.HasPrefix(rest, "--") {
		flag, after, _ := strings.Cut(rest, " ")
		name, value, ok := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		if !ok {
			value = "true"
		}
		ins.Flags[strings.ToLower(name)] = value
		rest = strings.TrimSpace(after)
	}
	if strings.Contains(rest, "<<") && (ins.Cmd == "RUN" || ins.Cmd == "COPY" || ins.Cmd == "ADD") {
		return ins, fmt.Errorf("line %d: heredocs are not read", line)
	}
	ins.Args = rest
	return ins, nil
}

// parseDockerfile parses src with the given build arguments.
func parseDockerfile(src string, buildArgs map[string]string) (*dockerfile, error) {
	ins, err := instructions(src)
	if err != nil {
		return nil, err
	}
	df := &dockerfile{GlobalArgs: map[string]string{}}
	var cur *stage
	for _, in := range ins {
		if cur == nil && in.Cmd != "ARG" && in.Cmd != "FROM" {
			return nil, fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Cmd)
		}
		switch in.Cmd {
		case "FROM":
			words, err := shellWords(in.Args, df.GlobalArgs)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", in.Line, err)
			}
			cur = &stage{Platform: in.Flags["platform"], Args: map[string]string{}}
			switch {
			case len(words) == 1:
			case len(words) == 3 && strings.EqualFold(words[1], "AS"):
				cur.Name = strings.ToLower(words[2])
			default:
				return nil, fmt.Errorf("line %d: FROM %s: want an image and an optional AS name", in.Line, in.Args)
			}
			cur.Base = words[0]
			df.Stages = append(df.Stages, cur)
		case "ARG":
			scope := df.GlobalArgs
			if cur != nil {
				scope = cur.Args
			}
			words, err := shellWords(in.Args, scope)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", in.Line, err)
			}
			for _, w := range words {
				name, def, hasDef := strings.Cut(w, "=")
				if cur != nil && !hasDef {
					def, hasDef = df.GlobalArgs[name]
				}
				if v, ok := buildArgs[name]; ok {
					def, hasDef = v, true
				}
				if hasDef {
					scope[name] = def
				} else {
					scope[name] = ""
				}
			}
		default:
			cur.Instrs = append(cur.Instrs, in)
		}
	}
	if len(df.Stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return df, nil
}

// last is the stage that is the image.
func (df *dockerfile) last() *stage { return df.Stages[len(df.Stages)-1] }

// stageNamed is the stage FROM ... AS name.
func (df *dockerfile) stageNamed(name string) *stage {
	for _, s := range df.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// find is the stage's instructions of one kind.
func (s *stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Instrs {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm is a JSON (exec) form's arguments; ok is false for the shell
// form, which is also what Docker makes of malformed JSON.
func execForm(args string) (words []string, ok bool) {
	if !strings.HasPrefix(strings.TrimSpace(args), "[") {
		return nil, false
	}
	if err := json.Unmarshal([]byte(args), &words); err != nil {
		return nil, false
	}
	return words, true
}

// labels is the LABEL instructions' key-value pairs, expanded with args.
func (s *stage) labels() (map[string]string, error) {
	out := map[string]string{}
	for _, in := range s.find("LABEL") {
		words, err := shellWords(in.Args, s.Args)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", in.Line, err)
		}
		// The old form LABEL key value sets one label.
		if len(words) >= 2 && !strings.Contains(words[0], "=") {
			out[words[0]] = strings.Join(words[1:], " ")
			continue
		}
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("line %d: LABEL %q is not key=value", in.Line, w)
			}
			out[k] = v
		}
	}
	return out, nil
}

// shellWords splits s into words as the Dockerfile's shell-form arguments
// are split (for ARG, FROM, LABEL, USER and the like, and for reading a RUN
// line): blanks separate words; '...' is literal; "..." keeps blanks and
// expands variables; a backslash escapes the next character (inside "..."
// only ", \, $ and `... as in a shell); $VAR and ${VAR} expand from vars
// outside single quotes.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch c {
		case ' ', '\t', '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			w.WriteString(string(rs[i+1 : j]))
			i = j
		case '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				switch {
				case rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[j+1]):
					j++
					w.WriteRune(rs[j])
				case rs[j] == '$':
					n, v, err := expandAt(rs, j, vars)
					if err != nil {
						return nil, err
					}
					w.WriteString(v)
					j += n - 1
				default:
					w.WriteRune(rs[j])
				}
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			i = j
		case '\\':
			inWord = true
			if i+1 < len(rs) {
				i++
				w.WriteRune(rs[i])
			}
		case '$':
			inWord = true
			n, v, err := expandAt(rs, i, vars)
			if err != nil {
				return nil, err
			}
			w.WriteString(v)
			i += n - 1
		default:
			inWord = true
			w.WriteRune(c)
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// expandAt expands the variable reference at rs[i] ('$'), returning how many
// runes it spans and its value.
func expandAt(rs []rune, i int, vars map[string]string) (int, string, error) {
	rest := string(rs[i+1:])
	if strings.HasPrefix(rest, "{") {
		end := strings.IndexRune(rest, '}')
		if end < 0 {
			return 0, "", fmt.Errorf("unterminated ${ in %q", string(rs))
		}
		body := rest[1:end]
		n := 1 + len([]rune(rest[:end+1]))
		name := varNameRE.FindString(body)
		if name == "" {
			return 0, "", fmt.Errorf("bad variable ${%s}", body)
		}
		v, set := vars[name]
		switch op := body[len(name):]; {
		case op == "":
			return n, v, nil
		case strings.HasPrefix(op, ":-"):
			if !set || v == "" {
				v = op[2:]
			}
			return n, v, nil
		case strings.HasPrefix(op, ":+"):
			if set && v != "" {
				v = op[2:]
			} else {
				v = ""
			}
			return n, v, nil
		default:
			return 0, "", fmt.Errorf("variable form ${%s} is not read", body)
		}
	}
	name := varNameRE.FindString(rest)
	if name == "" {
		return 1, "$", nil // a lone $ is itself
	}
	return 1 + len(name), vars[name], nil
}
