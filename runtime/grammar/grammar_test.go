package grammar

import (
	"encoding/json"
	"strings"
	"testing"
)

// accepts reports whether text is a complete value of g.
func accepts(g *Grammar, text string) bool {
	st, ok := g.Start().Feed([]byte(text))
	return ok && st.CanEnd()
}

// prefixOK reports whether text can still be continued to a value of g.
func prefixOK(g *Grammar, text string) bool {
	_, ok := g.Start().Feed([]byte(text))
	return ok
}

func TestAnyObject(t *testing.T) {
	g := AnyObject()
	for _, s := range []string{`{}`, `{"a":1}`, ` { "a" : [1, 2.5e-3, -0, "x\"\u00e9", true, null, {"b": {}}] } `,
		`{"k":"日本"}`, `{"a":{"b":{"c":[[]]}}}`, "{\n  \"a\": false\n}"} {
		if !accepts(g, s) {
			t.Errorf("refused %s", s)
		}
	}
	for _, s := range []string{`[]`, `"x"`, `1`, `{"a":}`, `{"a":1,}`, `{a:1}`, `{"a":01}`, `{"a":tru}`, `{"a":"\x"}`,
		"{\"a\":\"\n\"}", `{"a":1}}`, `{"a":1.}`, `{"a":-}`, `{} x`} {
		if accepts(g, s) {
			t.Errorf("accepted %s", s)
		}
	}
	if !prefixOK(g, `{"a": [1, {"b": "c`) || prefixOK(g, `{"a": [1, {"b": "c"]`) {
		t.Error("prefixes")
	}
	// Every prefix of a valid text is allowed, and only the whole text ends.
	text := `{"name": "Lily", "age": 3, "toys": ["ball", "car"], "happy": true}`
	for i := 1; i < len(text); i++ {
		st, ok := g.Start().Feed([]byte(text[:i]))
		if !ok || st.CanEnd() {
			t.Fatalf("prefix %q: ok %v, end %v", text[:i], ok, st.CanEnd())
		}
	}
	// Blanks are bounded: one space, or a newline and an indent.
	for _, s := range []string{"{  ", "{\n\n", "{ \n", "{\r\n", "{\n" + strings.Repeat(" ", maxBlanks+1)} {
		if prefixOK(g, s) {
			t.Errorf("blanks %q allowed", s)
		}
	}
	if !prefixOK(g, "{\n"+strings.Repeat(" ", maxBlanks)+`"a": 1, "b": 2`) {
		t.Error("indent refused")
	}
}

func TestSchema(t *testing.T) {
	schema := `{
	  "type": "object",
	  "properties": {
	    "name": {"type": "string"},
	    "age": {"type": "integer"},
	    "color": {"enum": ["red", "green", 7]},
	    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
	    "pet": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/pet"}]},
	    "score": {"type": ["number", "null"]}
	  },
	  "required": ["name", "age"],
	  "additionalProperties": false,
	  "$defs": {"pet": {"type": "object", "properties": {"kind": {"const": "cat"}, "friend": {"$ref": "#/$defs/pet"}}, "required": ["kind"]}}
	}`
	g, err := Schema(json.RawMessage(schema))
	if err != nil {
		t.Fatal(err)
	}
	good := []string{
		`{"name": "Lily", "age": 3}`,
		`{"age": -3, "name": ""}`,
		`{"name":"x","age":0,"color":"green","tags":["a","b"],"pet":{"kind":"cat","friend":{"kind":"cat"}},"score":1.5e3}`,
		`{"name":"x","age":10,"color":7,"pet":null,"score":null}`,
	}
	bad := []string{
		`{"name": "Lily"}`,                   // age required
		`{"name": "Lily", "age": 3.5}`,       // integer
		`{"name": "Lily", "age": 3, "x": 1}`, // not a property
		`{"name": "a", "name": "b", "age": 1}`,
		`{"name":"x","age":1,"color":"blue"}`,
		`{"name":"x","age":1,"tags":[]}`,
		`{"name":"x","age":1,"tags":["a","b","c"]}`,
		`{"name":"x","age":1,"pet":{"kind":"dog"}}`,
		`{"name":"x","age":1,"score":"1"}`,
		`{"name": 5, "age": 1}`,
	}
	for _, s := range good {
		if !accepts(g, s) {
			t.Errorf("refused %s", s)
		}
	}
	for _, s := range bad {
		if accepts(g, s) {
			t.Errorf("accepted %s", s)
		}
	}
	for _, s := range []string{`{"type":"string","pattern":"a+"}`, `{"type":"integer","minimum":3}`, `{"$ref":"http://x"}`, `{"type":"string","format":"email"}`} {
		if _, err := Schema(json.RawMessage(s)); err == nil || !strings.Contains(err.Error(), "unsupported") {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestTools(t *testing.T) {
	g, err := Tools(map[string]json.RawMessage{
		"get_weather": json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`),
		"now":         nil,
	}, []string{"get_weather", "now"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`{"name": "get_weather", "arguments": {"location": "Paris"}}`, `{"arguments": {}, "name": "now"}`} {
		if !accepts(g, s) {
			t.Errorf("refused %s", s)
		}
	}
	for _, s := range []string{`{"name": "get_weather", "arguments": {}}`, `{"name": "other", "arguments": {}}`, `{"name": "now"}`} {
		if accepts(g, s) {
			t.Errorf("accepted %s", s)
		}
	}
}
