package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// How README.md's shell blocks are read (TestREADME runs them):
//
//   - A command is a line that is neither blank nor a comment, with its
//     continuation lines (a trailing backslash, an open quote or parenthesis).
//   - The comment lines right below a command, without a blank line between,
//     are its expected output, "# " removed. A comment block after a blank line
//     (or at the start of a block) is prose and is not compared.
//   - A command without expected output must print nothing.
//   - "..." stands for anything: a shortened token ("dst_..."), a value
//     (`"number":...`), the rest of an object or array (`{...}`, `,...}`,
//     `[...]`), or part of a line of text.
//   - Expected output that starts with { or [ is JSON: compared by structure
//     (keys, array lengths, values), whatever the key order or the wrapping of
//     the comment lines. Other output is compared line by line.
//   - "   <- ..." ends a line with a remark that is not output.
//   - A trailing comment that starts with an HTTP status ("# 204", "# 409, ...")
//     states the status of the command's curl call.
//   - A command ending in & starts a server; the next command runs once the
//     server listens on the loopback address the command names.

// shBlock is one ```sh block of the README.
type shBlock struct {
	section string // the heading it is under
	line    int    // README line of its first line
	lines   []string
}

// step is one command of a shell block and what it should print.
type step struct {
	line       int    // README line of the command
	command    string // as written, continuation lines included
	status     int    // the HTTP status its trailing comment states; 0 if none
	background bool   // ends in &
	want       []string
}

// title is the command's first line, for messages.
func (s step) title() string {
	first, _, _ := strings.Cut(s.command, "\n")
	return first
}

var headingRE = regexp.MustCompile(`^#{1,6} +(.+?)\s*$`)

// readBlocks returns the ```sh blocks of the Markdown document r, each with the
// heading it is under.
func readBlocks(r io.Reader) ([]shBlock, error) {
	var (
		blocks  []shBlock
		section string
		fence   string // the open fence's info string; "" outside a fence
		inFence bool
	)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !inFence && strings.HasPrefix(line, "```"):
			inFence, fence = true, strings.TrimSpace(strings.TrimPrefix(line, "```"))
			if fence == "sh" {
				blocks = append(blocks, shBlock{section: section, line: n + 1})
			}
		case inFence && strings.TrimSpace(line) == "```":
			inFence = false
		case inFence && fence == "sh":
			b := &blocks[len(blocks)-1]
			b.lines = append(b.lines, line)
		case !inFence:
			if m := headingRE.FindStringSubmatch(line); m != nil {
				section = m[1]
			}
		}
	}
	if inFence {
		return nil, errors.New("a code fence is not closed")
	}
	return blocks, sc.Err()
}

var statusRE = regexp.MustCompile(`^#\s*([1-5][0-9][0-9])\b`)

// steps splits a shell block into its commands and their expected output.
func (b shBlock) steps() ([]step, error) {
	var (
		out    []step
		inWant bool // the lines below the last command are its output
	)
	for i := 0; i < len(b.lines); i++ {
		trimmed := strings.TrimSpace(b.lines[i])
		switch {
		case trimmed == "":
			inWant = false
		case strings.HasPrefix(trimmed, "#"):
			if inWant {
				w := &out[len(out)-1].want
				*w = append(*w, strings.TrimPrefix(strings.TrimPrefix(trimmed, "#"), " "))
			}
		default:
			s := step{line: b.line + i}
			var sh shellLine
			start := i
			sh.scan(b.lines[i])
			for !sh.complete() && i+1 < len(b.lines) {
				i++
				sh.scan(b.lines[i])
			}
			if !sh.complete() {
				return nil, fmt.Errorf("README.md:%d: the command does not end (an open quote, parenthesis or a trailing backslash)", s.line)
			}
			s.command = strings.Join(b.lines[start:i+1], "\n")
			code := strings.TrimSpace(sh.code)
			s.background = strings.HasSuffix(code, "&") && !strings.HasSuffix(code, "&&")
			if m := statusRE.FindStringSubmatch(sh.comment); m != nil {
				s.status, _ = strconv.Atoi(m[1])
			}
			out = append(out, s)
			inWant = true
		}
	}
	return out, nil
}

// shellLine follows the shell's quoting across the lines of one command, well
// enough for the README's commands.
type shellLine struct {
	single, double bool
	depth          int    // open parentheses
	cont           bool   // the last line ended in a backslash
	code, comment  string // the last line split at its comment
}

func (s *shellLine) scan(line string) {
	s.cont, s.code, s.comment = false, line, ""
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case s.single:
			s.single = c != '\''
		case c == '\\':
			if i == len(line)-1 {
				s.cont, s.code = true, line[:i]
			}
			i++
		case s.double:
			s.double = c != '"'
		case c == '\'':
			s.single = true
		case c == '"':
			s.double = true
		case c == '(':
			s.depth++
		case c == ')':
			s.depth--
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			s.code, s.comment = line[:i], line[i:]
			return
		}
	}
}

func (s *shellLine) complete() bool { return !s.single && !s.double && s.depth <= 0 && !s.cont }

var remarkRE = regexp.MustCompile(`\s+<- .*$`)

// matchOutput compares what a command printed with the README's expected
// lines (see the rules at the top of this file).
func matchOutput(want []string, got string) error {
	lines := make([]string, len(want))
	for i, w := range want {
		lines[i] = strings.TrimRight(remarkRE.ReplaceAllString(w, ""), " \t")
	}
	if len(lines) == 0 {
		if got != "" {
			return errors.New("printed something; the README shows no output")
		}
		return nil
	}
	if first := strings.TrimSpace(lines[0]); strings.HasPrefix(first, "{") || strings.HasPrefix(first, "[") {
		return matchJSON(strings.Join(lines, "\n"), got)
	}
	return matchText(lines, got)
}

// matchText compares line by line; "..." matches any text.
func matchText(want []string, got string) error {
	gotLines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	if len(gotLines) != len(want) {
		return fmt.Errorf("printed %d lines, the README shows %d", len(gotLines), len(want))
	}
	for i, w := range want {
		if g := strings.TrimRight(gotLines[i], " \t"); !glob(w).MatchString(g) {
			return fmt.Errorf("line %d is %q, the README shows %q", i+1, g, w)
		}
	}
	return nil
}

// glob is a pattern where "..." matches any text and the rest is literal.
func glob(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "...")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^(?s)` + strings.Join(parts, ".*") + `$`)
}

// The wildcards of a JSON pattern once it is valid JSON: a value that may be
// anything, and a member or element standing for any number of others; the
// JSON strings that stand for them in wildcards' output.
const (
	anyValue     = "\x00..."
	anyMore      = "\x00more"
	anyValueJSON = `"\u0000..."`
	anyMoreJSON  = `"\u0000more"`
)

// matchJSON compares a stream of JSON values with a stream of JSON patterns.
func matchJSON(pattern, got string) error {
	patterns, err := decodeAll(wildcards(pattern))
	if err != nil {
		return fmt.Errorf("the README's JSON does not parse (%v): %s", err, pattern)
	}
	values, err := decodeAll(got)
	if err != nil {
		return fmt.Errorf("printed something other than JSON (%v)", err)
	}
	if len(values) != len(patterns) {
		return fmt.Errorf("printed %d JSON values, the README shows %d", len(values), len(patterns))
	}
	for i := range patterns {
		if err := matchValue(patterns[i], values[i], "$"); err != nil {
			return err
		}
	}
	return nil
}

// decodeAll decodes every JSON value in s.
func decodeAll(s string) ([]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// wildcards turns the bare "..." of a JSON pattern into valid JSON: a value
// after a colon becomes anyValue, a member of an object `"anyMore":null` and
// an element of an array anyMore. "..." inside strings stays for matchValue.
func wildcards(pattern string) string {
	var (
		b        strings.Builder
		stack    []byte // open { and [
		inString bool
		last     byte // the last character written outside strings and spaces
	)
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case inString:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(pattern) {
				i++
				b.WriteByte(pattern[i])
			} else if c == '"' {
				inString = false
			}
			continue
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			stack = append(stack, c)
		case (c == '}' || c == ']') && len(stack) > 0:
			stack = stack[:len(stack)-1]
		case strings.HasPrefix(pattern[i:], "..."):
			i += 2
			switch {
			case last == ':' || len(stack) == 0:
				b.WriteString(anyValueJSON)
			case stack[len(stack)-1] == '{':
				b.WriteString(anyMoreJSON + ":null")
			default:
				b.WriteString(anyMoreJSON)
			}
			last = '.'
			continue
		}
		b.WriteByte(c)
		if c != ' ' && c != '\t' && c != '\n' {
			last = c
		}
	}
	return b.String()
}

// matchValue compares a decoded value with a decoded pattern; path names
// where, for messages.
func matchValue(pattern, got any, path string) error {
	switch p := pattern.(type) {
	case string:
		if p == anyValue {
			return nil
		}
		g, ok := got.(string)
		if !ok || !glob(p).MatchString(g) {
			return fmt.Errorf("%s is %s, the README shows %q", path, show(got), p)
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is %s, the README shows an object", path, show(got))
		}
		_, more := p[anyMore]
		for _, k := range sortedKeys(p) {
			if k == anyMore {
				continue
			}
			v, ok := g[k]
			if !ok {
				return fmt.Errorf("%s has no %q, the README shows one", path, k)
			}
			if err := matchValue(p[k], v, path+"."+k); err != nil {
				return err
			}
		}
		for _, k := range sortedKeys(g) {
			if _, ok := p[k]; !ok && !more {
				return fmt.Errorf("%s has %q, which the README does not show (add it, or end the object with ...)", path, k)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s is %s, the README shows an array", path, show(got))
		}
		more := len(p) > 0 && p[len(p)-1] == anyMore
		if more {
			p = p[:len(p)-1]
		}
		if len(g) < len(p) || (!more && len(g) != len(p)) {
			return fmt.Errorf("%s has %d elements, the README shows %d", path, len(g), len(p))
		}
		for i := range p {
			if err := matchValue(p[i], g[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		if !reflect.DeepEqual(pattern, got) {
			return fmt.Errorf("%s is %s, the README shows %s", path, show(got), show(pattern))
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// readREADME reads the blocks of the README next to this test.
func readREADME() ([]shBlock, error) {
	f, err := os.Open("README.md")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBlocks(f)
}

func TestMatchOutput(t *testing.T) {
	tests := []struct {
		name string
		want []string
		got  string
		ok   bool
	}{
		{"no output shown, none printed", nil, "", true},
		{"no output shown, some printed", nil, `{"errorCode":"X"}`, false},
		{"exact JSON", []string{`{"a":1,"b":"x"}`}, `{"b":"x","a":1}`, true},
		{"JSON wrapped over comment lines", []string{`{"a":{"b":1},`, ` "c":[1,2]}`}, `{"a":{"b":1},"c":[1,2]}`, true},
		{"a different value", []string{`{"a":1}`}, `{"a":2}`, false},
		{"a missing key", []string{`{"a":1,"b":2}`}, `{"a":1}`, false},
		{"an extra key", []string{`{"a":1}`}, `{"a":1,"b":2}`, false},
		{"extra keys allowed by ...", []string{`{"a":1,...}`}, `{"a":1,"b":2}`, true},
		{"any object", []string{`{"a":{...}}`}, `{"a":{"x":[1]}}`, true},
		{"any object is still an object", []string{`{"a":{...}}`}, `{"a":"x"}`, false},
		{"any value", []string{`{"n":...,"m":2}`}, `{"n":88,"m":2}`, true},
		{"shortened token", []string{`{"token":"dst_..."}`}, `{"token":"dst_k_vcFqH4"}`, true},
		{"shortened token of another kind", []string{`{"token":"dst_..."}`}, `{"token":"dtk_k_vcFqH4"}`, false},
		{"array length", []string{`[1,2]`}, `[1,2,3]`, false},
		{"array prefix with ...", []string{`[1,2,...]`}, `[1,2,3]`, true},
		{"any array", []string{`{"a":[...]}`}, `{"a":[]}`, true},
		{"remark after <-", []string{`{"a":1}   <- a remark`}, `{"a":1}`, true},
		{"two JSON values", []string{`{"a":1}`, `{"a":2}`}, "{\"a\":1}\n{\"a\":2}\n", true},
		{"one JSON value of two", []string{`{"a":1}`, `{"a":2}`}, `{"a":1}`, false},
		{"not JSON", []string{`{"a":1}`}, `deputy: no such thing`, false},
		{"text", []string{"Approved challenge 7: Sign in"}, "Approved challenge 7: Sign in\n", true},
		{"text differs", []string{"Approved challenge 7: Sign in"}, "Declined challenge 7: Sign in\n", false},
		{"text with ...", []string{"ID  KIND", "7   [...]  ...  Sign in"}, "ID  KIND\n7   [1 2 3]  11:57:14  Sign in\n", true},
		{"text with a line too many", []string{"one"}, "one\ntwo\n", false},
		{"text keeps leading spaces", []string{"  dpk_..."}, "dpk_x\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := matchOutput(tt.want, tt.got)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestBlockSteps(t *testing.T) {
	block := shBlock{line: 10, lines: strings.Split(`# prose before the first command
KEY=$(jq -r .apiKey programme.json)
deputy serve --addr 127.0.0.1:8088 2> server.log &
curl -s -X POST $D/multi/x -d '{
  "a": "# not a comment"}'   # 204
curl -s $D/multi/y \
  -H "api-key: $KEY"
# {"a":1,
#  "b":2}

# prose after a blank line
echo done
# done
#   indented`, "\n")}
	steps, err := block.steps()
	require.NoError(t, err)
	require.Len(t, steps, 5)
	assert.Equal(t, step{line: 11, command: "KEY=$(jq -r .apiKey programme.json)"}, steps[0])
	assert.Equal(t, step{line: 12, command: "deputy serve --addr 127.0.0.1:8088 2> server.log &", background: true}, steps[1])
	assert.Equal(t, step{line: 13, command: "curl -s -X POST $D/multi/x -d '{\n  \"a\": \"# not a comment\"}'   # 204", status: 204}, steps[2])
	assert.Equal(t, step{line: 15, command: "curl -s $D/multi/y \\\n  -H \"api-key: $KEY\"", want: []string{`{"a":1,`, ` "b":2}`}}, steps[3])
	assert.Equal(t, step{line: 21, command: "echo done", want: []string{"done", "  indented"}}, steps[4])

	_, err = shBlock{line: 1, lines: []string{`curl -d '{"a":1}`}}.steps()
	assert.ErrorContains(t, err, "README.md:1: the command does not end")
}

func TestReadBlocks(t *testing.T) {
	doc := "# Title\n\n## Setup\n\n```sh\n# a comment, not a heading\nmake build\n```\n\n```\n# Not a heading either\n```\n\n### Run\n\n```sh\ndeputy serve\n```\n"
	blocks, err := readBlocks(strings.NewReader(doc))
	require.NoError(t, err)
	assert.Equal(t, []shBlock{
		{section: "Setup", line: 6, lines: []string{"# a comment, not a heading", "make build"}},
		{section: "Run", line: 17, lines: []string{"deputy serve"}},
	}, blocks)
	_, err = readBlocks(strings.NewReader("```sh\nmake\n"))
	assert.Error(t, err)
}
