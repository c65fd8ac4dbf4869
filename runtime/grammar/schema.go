// Package grammar constrains generation to JSON: any JSON object, or the
// values a JSON schema allows. A Matcher follows the output byte by byte
// and, as a runtime.Constraint, masks every token whose bytes would break
// the grammar, so the model can only write valid output (as llama.cpp's
// grammars and vLLM's guided decoding do).
package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrUnsupported marks a schema keyword this package cannot enforce; such
// schemas are refused rather than half honoured.
var ErrUnsupported = errors.New("unsupported JSON schema")

type kind uint8

const (
	kAny kind = iota
	kObject
	kArray
	kString
	kNumber
	kInteger
	kBoolean
	kNull
	kLiteral // enum / const: one of fixed JSON texts
	kUnion   // anyOf / oneOf / a list of types
)

// node is a compiled schema.
type node struct {
	kind     kind
	props    []prop // object properties, in schema order
	required uint64 // bit i: props[i] is required
	extra    *node  // object without properties: the schema of every value
	items    *node  // array items
	minItems int
	maxItems int // -1: no limit
	literals []string
	alts     []*node
	ref      string // unresolved $ref, resolved after compiling
}

type prop struct {
	name string
	key  string // JSON encoding of name, quotes included
	node *node
}

// Limits of what a schema may ask for; the masks hold one bit per
// property or literal.
const (
	maxProps    = 64
	maxLiterals = 64
)

// metadata keywords change nothing about which values are valid.
var metadata = map[string]bool{
	"title": true, "description": true, "default": true, "examples": true, "$schema": true,
	"$id": true, "$comment": true, "$defs": true, "definitions": true, "strict": true,
	"additionalProperties": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

// AnyObject is the grammar of OpenAI's json_object mode: one JSON object.
func AnyObject() *Grammar { return &Grammar{root: &node{kind: kObject, extra: &node{kind: kAny}}} }

// Grammar is a compiled JSON grammar; it is immutable and may be shared.
type Grammar struct{ root *node }

// Schema compiles a JSON schema. It supports type (one or a list),
// properties with required (objects hold only the listed properties, as
// with OpenAI's strict mode), items with minItems and maxItems, enum,
// const, anyOf, oneOf, allOf with one member, and $ref to any place in the
// same document ("#", "#/$defs/name", "#/definitions/name",
// "#/properties/a/items", ...; recursive schemas included). A $ref to
// another document (a URL or a file) is refused with ErrUnsupported, as are
// other keywords that restrict values (pattern, minimum, format, ...).
func Schema(schema json.RawMessage) (*Grammar, error) {
	n, err := compileDocument(schema)
	if err != nil {
		return nil, err
	}
	return &Grammar{root: n}, nil
}

// compileDocument compiles a schema document and resolves its $refs.
func compileDocument(schema json.RawMessage) (*node, error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(schema, &root); err != nil {
		return nil, fmt.Errorf("schema is not a JSON object: %w", err)
	}
	c := &compiler{doc: schema, refs: map[string]*node{}}
	n, err := c.compile(schema, "#")
	if err != nil {
		return nil, err
	}
	if n, err = c.follow(n); err != nil {
		return nil, err
	}
	if err := c.resolve(n, map[*node]bool{}); err != nil {
		return nil, err
	}
	return n, nil
}

// follow returns the node a chain of $refs ends at.
func (c *compiler) follow(n *node) (*node, error) {
	for i := 0; n.ref != ""; i++ {
		if i > maxRefs {
			return nil, fmt.Errorf("%w: $ref %q refers to itself", ErrUnsupported, n.ref)
		}
		n = c.refs[n.ref]
	}
	return n, nil
}

// compiler compiles one schema document; refs holds the compiled targets
// of its $refs by JSON pointer, each compiled once.
type compiler struct {
	doc  json.RawMessage
	refs map[string]*node
}

// maxRefs bounds the distinct $ref targets of one document.
const maxRefs = 256

// ref compiles the target of a $ref found at path and returns a node that
// resolve later replaces by it.
func (c *compiler) ref(r, path string) (*node, error) {
	if !strings.HasPrefix(r, "#") {
		return nil, fmt.Errorf("%w: %s: $ref %q refers to another document; only local references (\"#...\") are supported", ErrUnsupported, path, r)
	}
	if _, ok := c.refs[r]; ok {
		return &node{ref: r}, nil
	}
	if len(c.refs) >= maxRefs {
		return nil, fmt.Errorf("%w: %s: more than %d $ref targets", ErrUnsupported, path, maxRefs)
	}
	raw, err := pointer(c.doc, r)
	if err != nil {
		return nil, fmt.Errorf("%s: $ref %q: %w", path, r, err)
	}
	target := &node{}
	c.refs[r] = target // before compiling, so that a cycle finds it
	n, err := c.compile(raw, r)
	if err != nil {
		return nil, err
	}
	*target = *n
	return &node{ref: r}, nil
}

// pointer returns the value a local reference ("#" and a JSON pointer,
// RFC 6901) points to in doc.
func pointer(doc json.RawMessage, ref string) (json.RawMessage, error) {
	p := strings.TrimPrefix(ref, "#")
	if p == "" {
		return doc, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, errors.New("not a JSON pointer (anchors are not supported)")
	}
	cur := doc
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) == nil {
			v, ok := obj[tok]
			if !ok {
				return nil, fmt.Errorf("no %q in the schema", tok)
			}
			cur = v
			continue
		}
		var arr []json.RawMessage
		if json.Unmarshal(cur, &arr) == nil {
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(arr) {
				return nil, fmt.Errorf("no item %q in the schema", tok)
			}
			cur = arr[i]
			continue
		}
		return nil, fmt.Errorf("%q is inside a value that is not an object or array", tok)
	}
	return cur, nil
}

func (c *compiler) compile(raw json.RawMessage, path string) (*node, error) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "true" {
		return &node{kind: kAny}, nil
	}
	var s map[string]json.RawMessage
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s: a schema must be an object", path)
	}
	if ref, ok := s["$ref"]; ok {
		var r string
		if err := json.Unmarshal(ref, &r); err != nil {
			return nil, fmt.Errorf("%s: $ref must be a string", path)
		}
		return c.ref(r, path)
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "type", "properties", "required", "items", "minItems", "maxItems", "enum", "const", "anyOf", "oneOf", "allOf", "$ref":
		default:
			if !metadata[k] {
				return nil, fmt.Errorf("%w: %s: keyword %q cannot be enforced", ErrUnsupported, path, k)
			}
		}
	}
	if v, ok := s["additionalProperties"]; ok && string(bytes.TrimSpace(v)) != "false" && string(bytes.TrimSpace(v)) != "true" {
		if _, hasProps := s["properties"]; hasProps {
			return nil, fmt.Errorf("%w: %s: additionalProperties with a schema next to properties", ErrUnsupported, path)
		}
	}
	if raw, ok := s["const"]; ok {
		lit, err := compact(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: const: %w", path, err)
		}
		return &node{kind: kLiteral, literals: []string{lit}}, nil
	}
	if raw, ok := s["enum"]; ok {
		var vals []json.RawMessage
		if err := json.Unmarshal(raw, &vals); err != nil || len(vals) == 0 {
			return nil, fmt.Errorf("%s: enum must be a non-empty array", path)
		}
		if len(vals) > maxLiterals {
			return nil, fmt.Errorf("%w: %s: enum has %d values (at most %d)", ErrUnsupported, path, len(vals), maxLiterals)
		}
		n := &node{kind: kLiteral}
		for _, v := range vals {
			lit, err := compact(v)
			if err != nil {
				return nil, fmt.Errorf("%s: enum: %w", path, err)
			}
			n.literals = append(n.literals, lit)
		}
		return n, nil
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		raw, ok := s[k]
		if !ok {
			continue
		}
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
			return nil, fmt.Errorf("%s: %s must be a non-empty array", path, k)
		}
		if k == "allOf" && len(list) != 1 {
			return nil, fmt.Errorf("%w: %s: allOf with %d schemas", ErrUnsupported, path, len(list))
		}
		n := &node{kind: kUnion}
		for i, a := range list {
			alt, err := c.compile(a, fmt.Sprintf("%s/%s/%d", path, k, i))
			if err != nil {
				return nil, err
			}
			n.alts = append(n.alts, alt)
		}
		return n, nil
	}
	var types []string
	if raw, ok := s["type"]; ok {
		var one string
		if json.Unmarshal(raw, &one) == nil {
			types = []string{one}
		} else if err := json.Unmarshal(raw, &types); err != nil {
			return nil, fmt.Errorf("%s: type must be a string or an array of strings", path)
		}
	}
	if len(types) == 0 {
		// No type: properties or items still say what it is.
		switch {
		case s["properties"] != nil:
			types = []string{"object"}
		case s["items"] != nil:
			types = []string{"array"}
		default:
			return &node{kind: kAny}, nil
		}
	}
	var alts []*node
	for _, t := range types {
		n, err := c.typed(t, s, path)
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &node{kind: kUnion, alts: alts}, nil
}

func (c *compiler) typed(t string, s map[string]json.RawMessage, path string) (*node, error) {
	switch t {
	case "string":
		return &node{kind: kString}, nil
	case "number":
		return &node{kind: kNumber}, nil
	case "integer":
		return &node{kind: kInteger}, nil
	case "boolean":
		return &node{kind: kLiteral, literals: []string{"true", "false"}}, nil
	case "null":
		return &node{kind: kLiteral, literals: []string{"null"}}, nil
	case "array":
		n := &node{kind: kArray, items: &node{kind: kAny}, maxItems: -1}
		if raw, ok := s["items"]; ok {
			items, err := c.compile(raw, path+"/items")
			if err != nil {
				return nil, err
			}
			n.items = items
		}
		for _, lim := range []struct {
			key string
			dst *int
		}{{"minItems", &n.minItems}, {"maxItems", &n.maxItems}} {
			if raw, ok := s[lim.key]; ok {
				if err := json.Unmarshal(raw, lim.dst); err != nil || *lim.dst < 0 {
					return nil, fmt.Errorf("%s: %s must be a non-negative integer", path, lim.key)
				}
			}
		}
		if n.maxItems >= 0 && n.maxItems < n.minItems {
			return nil, fmt.Errorf("%s: maxItems is below minItems", path)
		}
		return n, nil
	case "object":
		n := &node{kind: kObject}
		var props map[string]json.RawMessage
		if raw, ok := s["properties"]; ok {
			if err := json.Unmarshal(raw, &props); err != nil {
				return nil, fmt.Errorf("%s: properties must be an object", path)
			}
		}
		if len(props) == 0 {
			n.extra = &node{kind: kAny}
			if raw, ok := s["additionalProperties"]; ok && string(bytes.TrimSpace(raw)) != "true" && string(bytes.TrimSpace(raw)) != "false" {
				extra, err := c.compile(raw, path+"/additionalProperties")
				if err != nil {
					return nil, err
				}
				n.extra = extra
			} else if string(bytes.TrimSpace(raw)) == "false" {
				n.extra = nil // only {}
			}
			return n, nil
		}
		if len(props) > maxProps {
			return nil, fmt.Errorf("%w: %s: %d properties (at most %d)", ErrUnsupported, path, len(props), maxProps)
		}
		// Properties in the schema's order, as a model reads them.
		order, err := keyOrder(s["properties"])
		if err != nil {
			return nil, fmt.Errorf("%s: properties: %w", path, err)
		}
		for _, name := range order {
			pn, err := c.compile(props[name], path+"/properties/"+name)
			if err != nil {
				return nil, err
			}
			key, _ := json.Marshal(name)
			n.props = append(n.props, prop{name: name, key: string(key), node: pn})
		}
		var req []string
		if raw, ok := s["required"]; ok {
			if err := json.Unmarshal(raw, &req); err != nil {
				return nil, fmt.Errorf("%s: required must be an array of strings", path)
			}
		}
		for _, r := range req {
			i := n.propIndex(r)
			if i < 0 {
				return nil, fmt.Errorf("%s: required property %q is not in properties", path, r)
			}
			n.required |= 1 << i
		}
		return n, nil
	}
	return nil, fmt.Errorf("%s: unknown type %q", path, t)
}

func (n *node) propIndex(name string) int {
	for i, p := range n.props {
		if p.name == name {
			return i
		}
	}
	return -1
}

// resolve replaces $ref nodes by their definitions (sharing them, so
// recursive schemas become cycles).
func (c *compiler) resolve(n *node, done map[*node]bool) error {
	if n == nil || done[n] {
		return nil
	}
	done[n] = true
	fix := func(p **node) error {
		var err error
		if *p, err = c.follow(*p); err != nil {
			return err
		}
		return c.resolve(*p, done)
	}
	for i := range n.props {
		if err := fix(&n.props[i].node); err != nil {
			return err
		}
	}
	for _, p := range []**node{&n.items, &n.extra} {
		if *p != nil {
			if err := fix(p); err != nil {
				return err
			}
		}
	}
	for i := range n.alts {
		if err := fix(&n.alts[i]); err != nil {
			return err
		}
	}
	return nil
}

func compact(raw json.RawMessage) (string, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", err
	}
	return b.String(), nil
}

// keyOrder returns the keys of a JSON object in document order.
func keyOrder(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// Tools is the grammar of a forced tool call: {"name": NAME, "arguments":
// ARGS} for one of the functions, whose parameters schemas are given by
// name (a nil schema allows any arguments object). Each parameters schema
// is its own document, so its $refs resolve within it. An error naming a
// function is a *ToolError.
func Tools(params map[string]json.RawMessage, names []string) (*Grammar, error) {
	if len(names) == 0 {
		return nil, errors.New("no functions")
	}
	union := &node{kind: kUnion}
	for _, name := range names {
		schema := params[name]
		if len(bytes.TrimSpace(schema)) == 0 || string(bytes.TrimSpace(schema)) == "null" {
			schema = json.RawMessage(`{"type":"object"}`)
		}
		args, err := compileDocument(schema)
		if err != nil {
			return nil, &ToolError{Function: name, Err: err}
		}
		key, _ := json.Marshal(name)
		union.alts = append(union.alts, &node{kind: kObject, required: 0b11, props: []prop{
			{name: "name", key: `"name"`, node: &node{kind: kLiteral, literals: []string{string(key)}}},
			{name: "arguments", key: `"arguments"`, node: args},
		}})
	}
	if len(union.alts) == 1 {
		return &Grammar{root: union.alts[0]}, nil
	}
	return &Grammar{root: union}, nil
}

// ToolError is an error in the parameters schema of one function.
type ToolError struct {
	Function string
	Err      error
}

func (e *ToolError) Error() string {
	return fmt.Sprintf("function %q: parameters: %v", e.Function, e.Err)
}

func (e *ToolError) Unwrap() error { return e.Err }
