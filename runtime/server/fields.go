package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// A request field is one of three kinds here: honoured (a json tag of the
// request struct), harmless (accepted and ignored because it cannot change
// the output: metadata, user ids, storage flags), or anything else, which
// is refused with 400 naming it. Silently ignoring a field that changes the
// result (reasoning_effort, audio, ...) would hand back an answer that is
// not the one asked for.

// harmlessFields are accepted and ignored on both endpoints.
var harmlessFields = map[string]bool{
	"user":              true, // an end-user id for abuse tracking
	"metadata":          true, // stored-completion tags
	"store":             true, // whether OpenAI stores the completion
	"service_tier":      true, // OpenAI's processing tier
	"prediction":        true, // predicted output: a latency hint only
	"safety_identifier": true, // successor of user
	"prompt_cache_key":  true, // a cache hint
}

// neutralValues are values of otherwise unsupported fields that ask for
// the behaviour this server has anyway (echo: false, best_of: 1, ...).
var neutralValues = map[string][]string{
	"echo":       {"false"},
	"best_of":    {"1"},
	"suffix":     {`""`},
	"modalities": {`["text"]`},
}

// knownFields returns the json names of t's fields, descending into
// embedded structs.
func knownFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for k := range knownFields(f.Type) {
				out[k] = true
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" && f.IsExported() {
			out[name] = true
		}
	}
	return out
}

var (
	chatFields       = knownFields(reflect.TypeOf(chatRequest{}))
	completionFields = knownFields(reflect.TypeOf(completionRequest{}))
)

// fieldsFor returns the honoured fields of the request type of v.
func fieldsFor(v any) map[string]bool {
	switch v.(type) {
	case *chatRequest:
		return chatFields
	case *completionRequest:
		return completionFields
	}
	return knownFields(reflect.TypeOf(v).Elem())
}

// checkFields refuses the first field of the body (a JSON object) that is
// neither honoured nor harmless, in sorted order so that the answer is
// stable. A null value counts as absent.
func checkFields(body []byte, known map[string]bool) *apiError {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil // not an object: the typed decode reports it
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := bytes.TrimSpace(raw[k])
		if known[k] || harmlessFields[k] || string(v) == "null" || neutral(k, v) {
			continue
		}
		return badRequest(k, "unsupported_parameter", "%s", unsupportedMessage(k))
	}
	return nil
}

// neutral reports whether v is a value of field k that changes nothing.
func neutral(k string, v []byte) bool {
	for _, n := range neutralValues[k] {
		var a, b any
		if json.Unmarshal(v, &a) == nil && json.Unmarshal([]byte(n), &b) == nil && reflect.DeepEqual(a, b) {
			return true
		}
	}
	return false
}

// unsupportedMessage explains why field k is refused.
func unsupportedMessage(k string) string {
	why := map[string]string{
		"functions":          "use 'tools'",
		"function_call":      "use 'tool_choice'",
		"audio":              "this server produces text only",
		"modalities":         `only ["text"] is supported`,
		"reasoning_effort":   "the chat template decides about reasoning; use chat_template_kwargs",
		"echo":               "only echo=false is supported",
		"best_of":            "only best_of=1 is supported",
		"suffix":             "insertion (suffix) is not supported",
		"web_search_options": "this server has no web search",
	}[k]
	msg := fmt.Sprintf("Unsupported parameter: '%s' is not supported by this server", k)
	if why != "" {
		msg += " (" + why + ")"
	}
	return msg
}
