package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/tokenizer"
	"github.com/symbc/symbc/symb"
)

// Error types OpenAI uses in error.type.
const (
	errInvalidRequest = "invalid_request_error"
	errServer         = "server_error"
)

// apiError is the body of OpenAI's error object. Param and Code are null
// when empty, as in OpenAI's answers.
type apiError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   string `json:"param"`
	Code    string `json:"code"`
	status  int    // HTTP status; 0 means 400
}

func (e *apiError) Error() string { return e.Message }

func (e *apiError) httpStatus() int {
	if e.status == 0 {
		return http.StatusBadRequest
	}
	return e.status
}

// MarshalJSON writes empty param and code as null.
func (e *apiError) MarshalJSON() ([]byte, error) {
	null := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return json.Marshal(struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}{e.Message, e.Type, null(e.Param), null(e.Code)})
}

// badRequest is a 400 about parameter param.
func badRequest(param, code, format string, args ...any) *apiError {
	return &apiError{Message: fmt.Sprintf(format, args...), Type: errInvalidRequest, Param: param, Code: code}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only values built by this package are written; they always marshal.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"message":"internal error: cannot encode the response","type":"server_error","param":null,"code":null}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.httpStatus(), struct {
		Error *apiError `json:"error"`
	}{e})
}

// decodeBody reads a JSON object into v, answering 413 for a body over the
// limit and 400 for anything that is not a JSON object of the right types.
// Fields this server neither honours nor may safely ignore are refused
// (see checkFields), and a model it does not serve gets 404.
func (s *server) decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiError {
	tooLarge := func() *apiError {
		return &apiError{
			Message: fmt.Sprintf("Request body is larger than the limit of %d bytes", s.cfg.maxBodyBytes),
			Type:    errInvalidRequest, Code: "request_too_large", status: http.StatusRequestEntityTooLarge,
		}
	}
	if r.ContentLength > s.cfg.maxBodyBytes {
		return tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return badRequest("", "", "Could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("", "", "The request body is empty; expected a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var fe *fieldError
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &fe):
			return badRequest(fe.param, "invalid_type", "%s", fe.msg)
		case errors.As(err, &te):
			if te.Field == "" {
				return badRequest("", "", "The request body must be a JSON object, not %s", te.Value)
			}
			// Fields of the embedded sampling struct are top-level parameters.
			field := strings.TrimPrefix(te.Field, "sampling.")
			return badRequest(field, "invalid_type", "Invalid type for '%s': expected %s, but got %s",
				field, jsonKind(te.Type), te.Value)
		case errors.As(err, &se):
			return badRequest("", "", "We could not parse the JSON body of your request: %v", err)
		default:
			return badRequest("", "", "Invalid JSON body: %v", err)
		}
	}
	if e := checkFields(body, fieldsFor(v)); e != nil {
		return e
	}
	var named struct {
		Model *string `json:"model"`
	}
	if json.Unmarshal(body, &named) == nil && named.Model != nil {
		if e := s.checkModel(*named.Model); e != nil {
			return e
		}
	}
	return nil
}

// checkModel accepts the served model's name and its aliases; an empty
// name means the one model served.
func (s *server) checkModel(name string) *apiError {
	if name == "" || s.servesModel(name) {
		return nil
	}
	return s.modelNotFound(name)
}

func (s *server) modelNotFound(name string) *apiError {
	return &apiError{status: http.StatusNotFound,
		Message: fmt.Sprintf("The model '%s' does not exist (this server has %s)", name, s.modelList()),
		Type:    errInvalidRequest, Param: "model", Code: "model_not_found",
	}
}

// jsonKind names the JSON type a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// fieldError is a type error found by one of the custom decoders below.
type fieldError struct{ param, msg string }

func (e *fieldError) Error() string { return e.msg }

// sampling holds the generation parameters common to both endpoints.
// top_k, min_p and repetition_penalty are common extensions of local
// servers.
type sampling struct {
	Temperature         *float64           `json:"temperature"`
	TopP                *float64           `json:"top_p"`
	TopK                *int               `json:"top_k"`
	MinP                *float64           `json:"min_p"`
	RepetitionPenalty   *float64           `json:"repetition_penalty"`
	MaxTokens           *int               `json:"max_tokens"`
	MaxCompletionTokens *int               `json:"max_completion_tokens"`
	Stop                stopList           `json:"stop"`
	Seed                *int64             `json:"seed"`
	N                   *int               `json:"n"`
	Stream              *bool              `json:"stream"`
	StreamOptions       *streamOptions     `json:"stream_options"`
	PresencePenalty     *float64           `json:"presence_penalty"`
	FrequencyPenalty    *float64           `json:"frequency_penalty"`
	LogitBias           map[string]float64 `json:"logit_bias"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// stopList is stop: a string, an array of strings, or null.
type stopList []string

func (s *stopList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return &fieldError{"stop", "Invalid type for 'stop': expected a string or an array of strings"}
	}
	*s = many
	return nil
}

// maxStops bounds the stop strings like OpenAI's limit does, so a request
// cannot make every token scan a huge list.
const maxStops = 16

// options turns the sampling fields into generation options, with OpenAI's
// ranges. Fields the request leaves out take the model's defaults (def),
// and then OpenAI's (temperature 1). vocab is the model's vocabulary size,
// which bounds logit_bias's token ids.
func (p *sampling) options(vocab int, def symb.Generation) ([]runtime.GenOption, *apiError) {
	if p.N != nil && *p.N != 1 {
		return nil, badRequest("n", "unsupported_value", "Only n=1 is supported, got n=%d", *p.N)
	}
	temp := 1.0
	if def.Temperature != nil {
		temp = *def.Temperature
	}
	if p.Temperature != nil {
		temp = *p.Temperature
		if temp < 0 || temp > 2 {
			return nil, badRequest("temperature", "invalid_value", "temperature must be between 0 and 2, got %g", temp)
		}
	}
	opts := []runtime.GenOption{runtime.WithTemperature(float32(temp))}
	if def.TopP != nil && p.TopP == nil {
		opts = append(opts, runtime.WithTopP(float32(*def.TopP)))
	}
	if def.TopK != nil && p.TopK == nil {
		opts = append(opts, runtime.WithTopK(*def.TopK))
	}
	if def.MinP != nil && p.MinP == nil {
		opts = append(opts, runtime.WithMinP(float32(*def.MinP)))
	}
	if def.RepetitionPenalty != nil && p.RepetitionPenalty == nil {
		opts = append(opts, runtime.WithRepeatPenalty(float32(*def.RepetitionPenalty)))
	}
	if p.TopP != nil {
		if *p.TopP < 0 || *p.TopP > 1 {
			return nil, badRequest("top_p", "invalid_value", "top_p must be between 0 and 1, got %g", *p.TopP)
		}
		opts = append(opts, runtime.WithTopP(float32(*p.TopP)))
	}
	if p.TopK != nil {
		if *p.TopK < 0 {
			return nil, badRequest("top_k", "invalid_value", "top_k must not be negative, got %d", *p.TopK)
		}
		opts = append(opts, runtime.WithTopK(*p.TopK))
	}
	if p.MinP != nil {
		if *p.MinP < 0 || *p.MinP > 1 {
			return nil, badRequest("min_p", "invalid_value", "min_p must be between 0 and 1, got %g", *p.MinP)
		}
		opts = append(opts, runtime.WithMinP(float32(*p.MinP)))
	}
	if p.RepetitionPenalty != nil {
		if *p.RepetitionPenalty <= 0 {
			return nil, badRequest("repetition_penalty", "invalid_value", "repetition_penalty must be positive, got %g", *p.RepetitionPenalty)
		}
		opts = append(opts, runtime.WithRepeatPenalty(float32(*p.RepetitionPenalty)))
	}
	maxTokens, param := p.MaxTokens, "max_tokens"
	if p.MaxCompletionTokens != nil {
		maxTokens, param = p.MaxCompletionTokens, "max_completion_tokens"
	}
	if maxTokens != nil {
		if *maxTokens < 1 {
			return nil, badRequest(param, "invalid_value", "%s must be at least 1, got %d", param, *maxTokens)
		}
		opts = append(opts, runtime.WithMaxTokens(*maxTokens))
	}
	if len(p.Stop) > maxStops {
		return nil, badRequest("stop", "invalid_value", "At most %d stop strings are supported, got %d", maxStops, len(p.Stop))
	}
	for _, st := range p.Stop {
		// An empty stop string would match at once; clients send it to mean none.
		if st != "" {
			opts = append(opts, runtime.WithStop(st))
		}
	}
	if p.Seed != nil {
		opts = append(opts, runtime.WithSeed(uint64(*p.Seed)))
	}
	for _, pen := range []struct {
		name string
		v    *float64
		opt  func(float32) runtime.GenOption
	}{{"presence_penalty", p.PresencePenalty, runtime.WithPresencePenalty}, {"frequency_penalty", p.FrequencyPenalty, runtime.WithFrequencyPenalty}} {
		if pen.v == nil {
			continue
		}
		if *pen.v < -2 || *pen.v > 2 {
			return nil, badRequest(pen.name, "invalid_value", "%s must be between -2 and 2, got %g", pen.name, *pen.v)
		}
		opts = append(opts, pen.opt(float32(*pen.v)))
	}
	if len(p.LogitBias) > 0 {
		bias, e := logitBias(p.LogitBias, vocab)
		if e != nil {
			return nil, e
		}
		opts = append(opts, runtime.WithLogitBias(bias))
	}
	if p.StreamOptions != nil && !p.streaming() {
		return nil, badRequest("stream_options", "invalid_value", "stream_options is only allowed when stream is true")
	}
	return opts, nil
}

// maxLogitBias bounds logit_bias's entries, as OpenAI does.
const maxLogitBias = 300

// logitBias checks logit_bias: token ids (as strings, since they are JSON
// object keys) inside the vocabulary, biases in [-100, 100].
func logitBias(in map[string]float64, vocab int) (map[int]float32, *apiError) {
	if len(in) > maxLogitBias {
		return nil, badRequest("logit_bias", "invalid_value", "logit_bias may hold at most %d tokens, got %d", maxLogitBias, len(in))
	}
	out := make(map[int]float32, len(in))
	for k, v := range in {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= vocab {
			return nil, badRequest("logit_bias", "invalid_value", "Invalid key %q in logit_bias: expected a token id from 0 to %d", k, vocab-1)
		}
		if v < -100 || v > 100 {
			return nil, badRequest("logit_bias", "invalid_value", "Invalid value for logit_bias[%q]: %g is outside [-100, 100]", k, v)
		}
		out[id] = float32(v)
	}
	return out, nil
}

func (p *sampling) streaming() bool { return p.Stream != nil && *p.Stream }

func (p *sampling) includeUsage() bool { return p.StreamOptions != nil && p.StreamOptions.IncludeUsage }

// explicitMaxTokens reports whether the request set a token budget.
func (p *sampling) explicitMaxTokens() bool {
	return p.MaxTokens != nil || p.MaxCompletionTokens != nil
}

// chatRequest is the body of POST /v1/chat/completions.
type chatRequest struct {
	Model              string                     `json:"model"`
	Messages           []chatMessage              `json:"messages"`
	Logprobs           *bool                      `json:"logprobs"`
	TopLogprobs        *int                       `json:"top_logprobs"`
	Tools              []json.RawMessage          `json:"tools"`
	ToolChoice         json.RawMessage            `json:"tool_choice"`
	ChatTemplateKwargs map[string]json.RawMessage `json:"chat_template_kwargs"`
	ResponseFormat     *responseFormat            `json:"response_format"`
	ParallelToolCalls  *bool                      `json:"parallel_tool_calls"`
	sampling
}

// logprobs returns how many alternatives to report per token, or -1 when
// the request wants no log-probabilities.
func (req *chatRequest) logprobs() (int, *apiError) {
	on := req.Logprobs != nil && *req.Logprobs
	if req.TopLogprobs == nil {
		if on {
			return 0, nil
		}
		return -1, nil
	}
	if !on {
		return 0, badRequest("top_logprobs", "invalid_value", "top_logprobs requires logprobs to be true")
	}
	return checkTopLogprobs("top_logprobs", *req.TopLogprobs)
}

func checkTopLogprobs(param string, n int) (int, *apiError) {
	if n < 0 || n > runtime.MaxTopLogprobs {
		return 0, badRequest(param, "invalid_value", "%s must be between 0 and %d, got %d", param, runtime.MaxTopLogprobs, n)
	}
	return n, nil
}

// chatMessage is one message; content may be a string, an array of parts,
// or null (an assistant turn that only called tools).
type chatMessage struct {
	Role             string         `json:"role"`
	Content          messageContent `json:"content"`
	Name             string         `json:"name"`
	ToolCalls        []toolCallIn   `json:"tool_calls"`
	ToolCallID       string         `json:"tool_call_id"`
	ReasoningContent string         `json:"reasoning_content"`
}

type messageContent string

// UnmarshalJSON accepts a string, null, or an array of {"type": "text",
// "text": ...} parts, which are joined; other part types are refused
// because this server only handles text.
func (c *messageContent) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*c = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = messageContent(s)
		return nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return &fieldError{"messages", "Invalid type for 'messages[].content': expected a string or an array of content parts"}
	}
	var sb strings.Builder
	for i, p := range parts {
		if p.Type != "text" {
			return &fieldError{"messages", fmt.Sprintf("Unsupported content part type %q at messages[].content[%d]: only \"text\" is supported", p.Type, i)}
		}
		if p.Text == nil {
			return &fieldError{"messages", fmt.Sprintf("Content part messages[].content[%d] has no 'text'", i)}
		}
		sb.WriteString(*p.Text)
	}
	*c = messageContent(sb.String())
	return nil
}

// messages checks the conversation and converts it for the chat template.
// "developer" is OpenAI's newer name for "system", which templates know.
func (req *chatRequest) messages() ([]tokenizer.Message, *apiError) {
	if req.Messages == nil {
		return nil, badRequest("messages", "missing_required_parameter", "Missing required parameter: 'messages'")
	}
	if len(req.Messages) == 0 {
		return nil, badRequest("messages", "invalid_value", "'messages' must contain at least one message")
	}
	out := make([]tokenizer.Message, len(req.Messages))
	for i, m := range req.Messages {
		role := m.Role
		switch role {
		case "system", "user", "assistant", "tool":
		case "developer":
			role = "system"
		case "":
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i), "missing_required_parameter", "Missing required parameter: 'messages[%d].role'", i)
		default:
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i), "invalid_value",
				"Invalid value for 'messages[%d].role': %q (want system, developer, user, assistant or tool)", i, m.Role)
		}
		calls, e := m.toolCalls(i)
		if e != nil {
			return nil, e
		}
		out[i] = tokenizer.Message{Role: role, Content: string(m.Content), Name: m.Name, ToolCalls: calls,
			ToolCallID: m.ToolCallID, ReasoningContent: m.ReasoningContent}
	}
	return out, nil
}

// completionRequest is the body of POST /v1/completions.
type completionRequest struct {
	Model    string      `json:"model"`
	Prompt   *promptText `json:"prompt"`
	Logprobs *int        `json:"logprobs"` // alternatives per token; absent: none
	sampling
}

// logprobs is chatRequest.logprobs for the legacy endpoint.
func (req *completionRequest) logprobs() (int, *apiError) {
	if req.Logprobs == nil {
		return -1, nil
	}
	return checkTopLogprobs("logprobs", *req.Logprobs)
}

// promptText is prompt: a string, or an array holding exactly one string.
type promptText string

func (p *promptText) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*p = promptText(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		if len(list) != 1 {
			return &fieldError{"prompt", fmt.Sprintf("Only one prompt per request is supported, got %d", len(list))}
		}
		*p = promptText(list[0])
		return nil
	}
	return &fieldError{"prompt", "Invalid type for 'prompt': expected a string"}
}
