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
// const, anyOf, oneOf, allOf with one member, and $ref into $defs or
// definitions. Other keywords that restrict values (pattern, minimum,
// format, ...) are refused with ErrUnsupported naming them.
func Schema(schema json.RawMessage) (*Grammar, error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(schema, &root); err != nil {
		return nil, fmt.Errorf("schema is not a JSON object: %w", err)
	}
	c := &compiler{defs: map[string]*node{}}
	for _, section := range []string{"$defs", "definitions"} {
		var defs map[string]json.RawMessage
		if raw, ok := root[section]; ok {
			if err := json.Unmarshal(raw, &defs); err != nil {
				return nil, fmt.Errorf("%s: %w", section, err)
			}
		}
		for name := range defs {
			c.defs["#/"+section+"/"+name] = &node{}
		}
		for name, raw := range defs {
			n, err := c.compile(raw, "#/"+section+"/"+name)
			if err != nil {
				return nil, err
			}
			*c.defs["#/"+section+"/"+name] = *n
		}
	}
	n, err := c.compile(schema, "#")
	if err != nil {
		return nil, err
	}
	if err := c.resolve(n, map[*node]bool{}); err != nil {
		return nil, err
	}
	return &Grammar{root: n}, nil
}

type compiler struct{ defs map[string]*node }

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
		json.Unmarshal(ref, &r)
		if _, ok := c.defs[r]; !ok {
			return nil, fmt.Errorf("%w: %s: $ref %q (only #/$defs/... and #/definitions/... are supported)", ErrUnsupported, path, r)
		}
		return &node{ref: r}, nil
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
		for i := 0; (*p).ref != ""; i++ {
			if i > 100 {
				return fmt.Errorf("%w: $ref %q refers to itself", ErrUnsupported, (*p).ref)
			}
			*p = c.defs[(*p).ref]
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
// name (a nil schema allows any arguments object).
func Tools(params map[string]json.RawMessage, names []string) (*Grammar, error) {
	var alts []string
	for _, name := range names {
		key, _ := json.Marshal(name)
		args := params[name]
		if len(bytes.TrimSpace(args)) == 0 || string(bytes.TrimSpace(args)) == "null" {
			args = json.RawMessage(`{"type":"object"}`)
		}
		alts = append(alts, fmt.Sprintf(`{"type":"object","properties":{"name":{"const":%s},"arguments":%s},"required":["name","arguments"]}`, key, args))
	}
	if len(alts) == 0 {
		return nil, errors.New("no functions")
	}
	// Every schema's $defs sit in its own document; a combined document
	// cannot resolve them.
	for _, name := range names {
		if strings.Contains(string(params[name]), `"$ref"`) {
			return nil, fmt.Errorf("%w: function %q: $ref in parameters of a forced tool call", ErrUnsupported, name)
		}
	}
	return Schema(json.RawMessage(`{"anyOf":[` + strings.Join(alts, ",") + `]}`))
}
