package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/grammar"
)

// responseFormat is response_format: {"type": "text"}, {"type":
// "json_object"} or {"type": "json_schema", "json_schema": {"name",
// "schema", "strict"}}.
type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict *bool           `json:"strict"`
	} `json:"json_schema"`
}

// constraint builds the grammar a chat request asks for: a forced tool call
// (tool_choice "required" or a named function), or JSON output
// (response_format json_object or json_schema). nil means free text.
func (s *server) constraint(req *chatRequest, ts *toolSet) (runtime.Constraint, *apiError) {
	var g *grammar.Grammar
	var err error
	param := "response_format"
	rf := req.ResponseFormat
	switch {
	case ts != nil && (ts.choice == "required" || ts.choice == "function"):
		if rf != nil && rf.Type != "text" {
			return nil, badRequest("response_format", "invalid_value", "response_format %q cannot be combined with tool_choice %q", rf.Type, ts.choice)
		}
		names := ts.names
		if ts.choice == "function" {
			names = []string{ts.function}
		}
		param = "tools"
		g, err = grammar.Tools(ts.params, names)
	case rf == nil || rf.Type == "text" || rf.Type == "":
		if rf != nil && rf.Type == "" {
			return nil, badRequest("response_format.type", "missing_required_parameter", "Missing required parameter: 'response_format.type'")
		}
		return nil, nil
	case rf.Type == "json_object":
		g = grammar.AnyObject()
	case rf.Type == "json_schema":
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
			return nil, badRequest("response_format.json_schema", "missing_required_parameter", "response_format json_schema needs 'json_schema.schema'")
		}
		param = "response_format.json_schema.schema"
		g, err = grammar.Schema(rf.JSONSchema.Schema)
	default:
		return nil, badRequest("response_format.type", "invalid_value", "Invalid value for 'response_format.type': %q (want text, json_object or json_schema)", rf.Type)
	}
	var te *grammar.ToolError
	if errors.As(err, &te) {
		if i := slices.Index(ts.names, te.Function); i >= 0 {
			param = fmt.Sprintf("tools[%d].function.parameters", i)
		}
	}
	if err != nil {
		return nil, badRequest(param, "invalid_value", "Cannot constrain the output to this schema: %v", err)
	}
	if s.m.Tokenizer() == nil {
		return nil, noTokenizer()
	}
	return g.NewMatcher(s.tokenBytes(), s.m.EOS()), nil
}

// tokenBytes is the bytes of every token id, nil for special tokens, built
// once per server.
func (s *server) tokenBytes() [][]byte {
	s.tokOnce.Do(func() {
		tok := s.m.Tokenizer()
		n := max(s.m.Config().Model.VocabSize, tok.VocabSize())
		s.tokBytes = make([][]byte, n)
		for id := range n {
			if !tok.IsSpecial(id) {
				s.tokBytes[id] = tok.TokenBytes(id)
			}
		}
	})
	return s.tokBytes
}
