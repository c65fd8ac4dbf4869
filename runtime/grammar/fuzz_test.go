package grammar

import (
	"encoding/json"
	"testing"
)

// FuzzGrammar compiles arbitrary schemas and feeds arbitrary text: no
// panics, and whatever the matcher accepts as complete is valid JSON.
func FuzzGrammar(f *testing.F) {
	f.Add(`{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`, `{"a": -12}`)
	f.Add(`{"anyOf":[{"type":"string"},{"type":"array","items":{"$ref":"#/$defs/x"}}],"$defs":{"x":{"enum":[1,"2",null]}}}`, `["2", 1]`)
	f.Add(`{"type":["number","null"]}`, `1.5e+3`)
	f.Add(`{}`, `{"k": [true, {"z": "\u00e9"}]}`)
	f.Add(`{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/a"}}}`, `1`)
	f.Fuzz(func(t *testing.T, schema, text string) {
		g, err := Schema(json.RawMessage(schema))
		if err != nil {
			g = AnyObject()
		}
		st, ok := g.Start().Feed([]byte(text))
		if ok && st.CanEnd() && !json.Valid([]byte(text)) {
			t.Errorf("schema %s accepted invalid JSON %q", schema, text)
		}
	})
}
