package grammar

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSchemaLocalRefs(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		good, bad    []string
	}{
		{
			"root recursion",
			`{"type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#"}}}, "required": ["v"]}`,
			[]string{`{"v": 1}`, `{"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}`},
			[]string{`{"v": 1, "kids": [{"w": 2}]}`, `{"kids": []}`},
		},
		{
			"definitions and a pointer into properties",
			`{"type": "object", "properties": {"a": {"$ref": "#/definitions/color"}, "b": {"$ref": "#/properties/a"}}, "definitions": {"color": {"enum": ["red", "blue"]}}}`,
			[]string{`{"a": "red", "b": "blue"}`},
			[]string{`{"a": "green"}`, `{"b": 1}`},
		},
		{
			"escaped pointer and an array index",
			`{"anyOf": [{"$ref": "#/$defs/a~1b"}, {"$ref": "#/$defs/list/1"}], "$defs": {"a/b": {"type": "string"}, "list": [{"type": "null"}, {"type": "boolean"}]}}`,
			[]string{`"x"`, `true`},
			[]string{`null`, `1`},
		},
		{
			"ref to a ref",
			`{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"type": "integer"}}}`,
			[]string{`12`},
			[]string{`"12"`, `1.5`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Schema(json.RawMessage(tc.schema))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.good {
				if !accepts(g, s) {
					t.Errorf("refused %s", s)
				}
			}
			for _, s := range tc.bad {
				if accepts(g, s) {
					t.Errorf("accepted %s", s)
				}
			}
		})
	}
}

func TestSchemaRefErrors(t *testing.T) {
	for _, tc := range []struct {
		schema, want string
		unsupported  bool
	}{
		{`{"properties": {"a": {"$ref": "https://example.com/a.json"}}}`, `#/properties/a: $ref "https://example.com/a.json" refers to another document`, true},
		{`{"$ref": "other.json#/x"}`, `refers to another document`, true},
		{`{"$ref": "#/$defs/missing", "$defs": {}}`, `no "missing" in the schema`, false},
		{`{"$ref": "#anchor"}`, `anchors are not supported`, false},
		{`{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}}`, `refers to itself`, true},
		{`{"$ref": 3}`, `$ref must be a string`, false},
	} {
		_, err := Schema(json.RawMessage(tc.schema))
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrUnsupported) != tc.unsupported {
			t.Errorf("%s: error %v, want %q (unsupported %v)", tc.schema, err, tc.want, tc.unsupported)
		}
	}
}

func TestToolsWithRefs(t *testing.T) {
	params := map[string]json.RawMessage{
		"add_person": json.RawMessage(`{"type": "object", "properties": {"person": {"$ref": "#/$defs/person"}},
			"required": ["person"], "$defs": {"person": {"type": "object", "properties": {"name": {"type": "string"},
			"friends": {"type": "array", "items": {"$ref": "#/$defs/person"}}}, "required": ["name"]}}}`),
		// The same $defs name in another function's document means
		// something else.
		"set_level": json.RawMessage(`{"type": "object", "properties": {"level": {"$ref": "#/$defs/person"}}, "required": ["level"],
			"$defs": {"person": {"type": "integer"}}}`),
	}
	g, err := Tools(params, []string{"add_person", "set_level"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`{"name": "add_person", "arguments": {"person": {"name": "Ann", "friends": [{"name": "Bo"}]}}}`,
		`{"name": "set_level", "arguments": {"level": 3}}`,
	} {
		if !accepts(g, s) {
			t.Errorf("refused %s", s)
		}
	}
	for _, s := range []string{
		`{"name": "add_person", "arguments": {"person": {"friends": []}}}`,
		`{"name": "set_level", "arguments": {"level": {"name": "Ann"}}}`,
		`{"name": "other", "arguments": {}}`,
	} {
		if accepts(g, s) {
			t.Errorf("accepted %s", s)
		}
	}
	params["remote"] = json.RawMessage(`{"type": "object", "properties": {"x": {"$ref": "http://example.com/x"}}}`)
	_, err = Tools(params, []string{"add_person", "remote"})
	var te *ToolError
	if !errors.As(err, &te) || te.Function != "remote" || !errors.Is(err, ErrUnsupported) {
		t.Errorf("remote $ref: %v", err)
	}
}
