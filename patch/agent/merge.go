package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// MergeYAML returns src with changes merged in, as the agent applies a
// patch: each dotted key ("limits.cpu") descends into nested mappings,
// creating the ones that are missing, and sets the last segment to the
// value, typed as YAML (int64 200 is written 200, the string "200" is
// written "200" quoted). Comments, key order and every key the changes do
// not name are kept, with their values; the layout (indentation, whether
// sequences are indented under their key, a leading "---") is detected
// from src, so untouched lines usually come back byte for byte. The YAML
// encoder does normalise some layout: blank lines are dropped, CRLF line
// ends become LF, extra spaces after a colon go, and block scalars may
// gain a blank line.
//
// It fails, naming the key, when a key traverses something that is not a
// mapping (a scalar, a sequence, an alias), when a value is not an int64,
// float64, string or bool, or when src is not a single YAML document whose
// top level is a mapping. An empty src is an empty mapping.
//
// MergeYAML is a pure function; the agent uses it (with bookkeeping of the
// replaced values) to apply patches.
func MergeYAML(src []byte, changes patch.Changes) ([]byte, error) {
	d, err := parseDoc(src)
	if err != nil {
		return nil, err
	}
	for _, k := range changes.Keys() {
		if _, err := d.set(k, changes[k]); err != nil {
			return nil, err
		}
	}
	return d.encode()
}

// KeyError is a change the agent cannot make to its config.
type KeyError struct {
	Key    string // the change's key, such as "limits.cpu"
	At     string // the path where it failed, such as "limits"
	Reason string
}

func (e *KeyError) Error() string {
	if e.At != "" && e.At != e.Key {
		return fmt.Sprintf("changes.%s: %s %s", e.Key, e.At, e.Reason)
	}
	return fmt.Sprintf("changes.%s: %s", e.Key, e.Reason)
}

// Is makes a KeyError an mgmt.ErrInvalid.
func (e *KeyError) Is(target error) bool { return target == mgmt.ErrInvalid }

// doc is a parsed config file.
type doc struct {
	node  *yaml.Node // the DocumentNode
	root  *yaml.Node // its top-level mapping
	style style
}

// errNotYAML wraps parse failures of the config file.
var errNotYAML = errors.New("config is not valid YAML")

func parseDoc(src []byte) (*doc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var n yaml.Node
	err := dec.Decode(&n)
	if errors.Is(err, io.EOF) {
		root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		return &doc{node: &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}, root: root, style: style{indent: 2}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotYAML, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: it holds more than one YAML document; the agent edits single-document files only", errNotYAML)
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) != 1 {
		return nil, fmt.Errorf("%w: unexpected document structure", errNotYAML)
	}
	root := n.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" && root.Anchor == "" {
		// A file holding only comments or "~": start an empty mapping,
		// keeping the comments.
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map",
			HeadComment: root.HeadComment, LineComment: root.LineComment, FootComment: root.FootComment}
		n.Content[0], root = m, m
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: its top level is a %s, not a mapping", errNotYAML, kindName(root))
	}
	return &doc{node: &n, root: root, style: detectStyle(src)}, nil
}

func (d *doc) encode() ([]byte, error) {
	var b bytes.Buffer
	if d.style.docStart {
		b.WriteString("---\n")
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(d.style.indent)
	if d.style.compactSeq {
		enc.CompactSeqIndent()
	}
	if err := enc.Encode(d.node); err != nil {
		return nil, fmt.Errorf("encoding the config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding the config: %w", err)
	}
	if len(d.root.Content) == 0 && d.root.HeadComment == "" && d.root.FootComment == "" && d.node.HeadComment == "" && d.node.FootComment == "" {
		// An empty mapping encodes as "{}\n"; an empty file says the same.
		return []byte{}, nil
	}
	return b.Bytes(), nil
}

// style is the layout of a config file that the encoder can reproduce.
type style struct {
	indent     int  // spaces per level, 2 to 8
	compactSeq bool // "key:\n- item": sequences not indented under their key
	docStart   bool // the file starts with "---"
}

// detectStyle guesses src's layout: the smallest indentation of a
// mapping line (2 by default), whether sequences are indented under
// their key, and whether the document starts with "---".
func detectStyle(src []byte) style {
	st := style{}
	prevIndent, prevKey := -1, false
	first := true
	block := -1 // indentation of the line that opened a block scalar
	for line := range bytes.Lines(src) {
		text := bytes.TrimRight(line, " \t\r\n")
		n := 0
		for n < len(text) && text[n] == ' ' {
			n++
		}
		if block >= 0 && (n == len(text) || n > block) {
			continue // the content of a block scalar
		}
		block = -1
		if n == len(text) || text[n] == '#' {
			continue
		}
		if blockScalar.Match(text) {
			block = n
		}
		if first {
			first = false
			st.docStart = bytes.Equal(text, []byte("---")) || bytes.HasPrefix(text, []byte("--- "))
		}
		item := text[n] == '-' && (n+1 == len(text) || text[n+1] == ' ')
		if item && prevKey && n == prevIndent {
			st.compactSeq = true
		}
		if n > 0 && !item && (st.indent == 0 || n < st.indent) {
			st.indent = n
		}
		prevIndent, prevKey = n, text[len(text)-1] == ':'
	}
	if st.indent < 2 || st.indent > 8 {
		st.indent = 2
	}
	return st
}

// blockScalar matches a line that opens a literal or folded scalar.
var blockScalar = regexp.MustCompile(`(^|[:\-]\s)\s*(![^\s]*\s+)?[|>][-+0-9]*\s*(#.*)?$`)

// change is what applying one key did: enough to undo it.
type change struct {
	Key string `json:"key"`
	// Existed says whether the key was there before; when it was not, a
	// revert deletes it.
	Existed bool `json:"existed"`
	// Prev is the replaced value, as a YAML document.
	Prev string `json:"prev,omitempty"`
	// Set is the value the patch set, as a YAML document.
	Set string `json:"set"`
	// Created lists the mappings the key's path created ("limits"), outer
	// first; a revert deletes them again when they are left empty.
	Created []string `json:"created,omitempty"`
}

// set sets key to v and reports what it replaced.
func (d *doc) set(key string, v any) (change, error) {
	if err := patch.ValidateKey("changes", key); err != nil {
		return change{}, err
	}
	val, err := valueNode(key, v)
	if err != nil {
		return change{}, err
	}
	parts := strings.Split(key, ".")
	c := change{Key: key}
	m := d.root
	for i, p := range parts[:len(parts)-1] {
		path := strings.Join(parts[:i+1], ".")
		_, next := lookup(m, p)
		switch {
		case next == nil:
			nm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			m.Content = append(m.Content, keyNode(p), nm)
			c.Created = append(c.Created, path)
			next = nm
		case next.Kind == yaml.AliasNode:
			return change{}, &KeyError{Key: key, At: path, Reason: "is a YAML alias; the agent does not change values shared through anchors"}
		case next.Kind != yaml.MappingNode:
			return change{}, &KeyError{Key: key, At: path, Reason: fmt.Sprintf("is a %s, not a mapping: the key cannot descend into it", kindName(next))}
		}
		m = next
	}
	last := parts[len(parts)-1]
	i, old := lookup(m, last)
	if c.Set, err = nodeText(val); err != nil {
		return change{}, &KeyError{Key: key, Reason: err.Error()}
	}
	if old == nil {
		m.Content = append(m.Content, keyNode(last), val)
		return c, nil
	}
	switch {
	case old.Kind == yaml.AliasNode:
		return change{}, &KeyError{Key: key, Reason: "is a YAML alias; the agent does not change values shared through anchors"}
	case old.Anchor != "":
		return change{}, &KeyError{Key: key, Reason: fmt.Sprintf("is anchored (&%s) and may be used elsewhere; the agent does not change it", old.Anchor)}
	case hasAnchor(old):
		return change{}, &KeyError{Key: key, Reason: "holds YAML anchors; the agent does not replace it"}
	}
	c.Existed = true
	if c.Prev, err = nodeText(old); err != nil {
		return change{}, &KeyError{Key: key, Reason: err.Error()}
	}
	keepComments(val, old)
	if val.ShortTag() == "!!str" && val.Style == 0 && old.Kind == yaml.ScalarNode && old.ShortTag() == "!!str" &&
		old.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 && !strings.ContainsAny(val.Value, "\n\x00") {
		val.Style = old.Style
	}
	m.Content[i+1] = val
	return c, nil
}

// undo reverts c if the key still holds the value c set, and reports
// whether it did.
func (d *doc) undo(c change) (bool, error) {
	parts := strings.Split(c.Key, ".")
	m := d.root
	for _, p := range parts[:len(parts)-1] {
		_, next := lookup(m, p)
		if next == nil || next.Kind != yaml.MappingNode {
			return false, nil
		}
		m = next
	}
	i, cur := lookup(m, parts[len(parts)-1])
	if cur == nil {
		return false, nil
	}
	set, err := parseNode(c.Set)
	if err != nil {
		return false, fmt.Errorf("state of %s: %w", c.Key, err)
	}
	if !nodeEqual(cur, set) {
		return false, nil
	}
	if !c.Existed {
		m.Content = append(m.Content[:i], m.Content[i+2:]...)
	} else {
		prev, err := parseNode(c.Prev)
		if err != nil {
			return false, fmt.Errorf("state of %s: %w", c.Key, err)
		}
		if prev.Kind == yaml.ScalarNode {
			keepComments(prev, cur)
		}
		m.Content[i+1] = prev
	}
	// Delete the mappings the apply created, innermost first, when empty.
	for j := len(c.Created) - 1; j >= 0; j-- {
		d.deleteIfEmpty(c.Created[j])
	}
	return true, nil
}

// deleteIfEmpty deletes the mapping at path if it is empty.
func (d *doc) deleteIfEmpty(path string) {
	parts := strings.Split(path, ".")
	m := d.root
	for _, p := range parts[:len(parts)-1] {
		_, next := lookup(m, p)
		if next == nil || next.Kind != yaml.MappingNode {
			return
		}
		m = next
	}
	i, n := lookup(m, parts[len(parts)-1])
	if n != nil && n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		m.Content = append(m.Content[:i], m.Content[i+2:]...)
	}
}

// lookup returns the index of key's key node in mapping m and its value,
// or -1 and nil. The first occurrence wins.
func lookup(m *yaml.Node, key string) (int, *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind == yaml.ScalarNode && k.Value == key && (k.ShortTag() == "!!str" || k.Tag == "") {
			return i, m.Content[i+1]
		}
	}
	return -1, nil
}

func keyNode(k string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}
}

// valueNode returns the YAML scalar for a change's value.
func valueNode(key string, v any) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.ScalarNode}
	switch v := v.(type) {
	case int64:
		n.Tag, n.Value = "!!int", strconv.FormatInt(v, 10)
	case float64:
		n.Tag, n.Value = "!!float", formatFloat(v)
	case bool:
		n.Tag, n.Value = "!!bool", strconv.FormatBool(v)
	case string:
		if !utf8.ValidString(v) {
			return nil, &KeyError{Key: key, Reason: "is a string that is not valid UTF-8"}
		}
		if len(v) > patch.MaxStringValue {
			return nil, &KeyError{Key: key, Reason: fmt.Sprintf("is a string of %d bytes, more than %d", len(v), patch.MaxStringValue)}
		}
		n.Tag, n.Value = "!!str", v
		if strings.ContainsFunc(v, needsDoubleQuotes) {
			n.Style = yaml.DoubleQuotedStyle
		}
	case nil:
		return nil, &KeyError{Key: key, Reason: "is null: a change sets a value"}
	default:
		return nil, &KeyError{Key: key, Reason: fmt.Sprintf("is a %T: a change is an integer, number, string or boolean", v)}
	}
	return n, nil
}

// needsDoubleQuotes reports runes that only a double-quoted scalar keeps
// exactly (control characters other than newline and tab, and line
// separators the emitter would fold).
func needsDoubleQuotes(r rune) bool {
	return r < 0x20 && r != '\n' || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xfeff ||
		r >= 0x80 && r < 0xa0
}

func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return ".nan"
	case math.IsInf(v, 1):
		return ".inf"
	case math.IsInf(v, -1):
		return "-.inf"
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

func keepComments(dst, src *yaml.Node) {
	dst.HeadComment, dst.LineComment, dst.FootComment = src.HeadComment, src.LineComment, src.FootComment
}

func hasAnchor(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAnchor(c) {
			return true
		}
	}
	return false
}

// nodeText encodes n alone as a YAML document.
func nodeText(n *yaml.Node) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", fmt.Errorf("cannot encode value: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("cannot encode value: %w", err)
	}
	return b.String(), nil
}

// parseNode decodes what nodeText encoded.
func parseNode(s string) (*yaml.Node, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		return nil, err
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) != 1 {
		return nil, errors.New("stored value is not a YAML document")
	}
	return n.Content[0], nil
}

// nodeEqual compares values, ignoring comments and style.
func nodeEqual(a, b *yaml.Node) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case yaml.ScalarNode:
		return a.ShortTag() == b.ShortTag() && scalarValue(a) == scalarValue(b)
	case yaml.AliasNode:
		return a.Value == b.Value
	}
	if len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !nodeEqual(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// scalarValue normalises numbers so that 0x10 equals 16.
func scalarValue(n *yaml.Node) string {
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool", "!!null":
		var v any
		if err := n.Decode(&v); err == nil {
			return fmt.Sprint(v)
		}
	}
	return n.Value
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.AliasNode:
		return "alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return "string"
		case "!!int", "!!float":
			return "number"
		case "!!bool":
			return "boolean"
		}
		return "scalar"
	}
	return "document"
}
