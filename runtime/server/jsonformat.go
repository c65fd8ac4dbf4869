package server

import "encoding/json"

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
