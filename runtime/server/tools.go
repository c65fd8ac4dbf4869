package server

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/symbc/symbc/runtime/tokenizer"
)

// toolCallIn is a tool call of an assistant message in a request. OpenAI
// sends the arguments as a string of JSON; chat templates expect a
// mapping, so a string holding a JSON object is decoded (as vLLM does).
type toolCallIn struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

func (m *chatMessage) toolCalls(i int) ([]tokenizer.ToolCall, *apiError) {
	if len(m.ToolCalls) == 0 {
		return nil, nil
	}
	param := fmt.Sprintf("messages[%d].tool_calls", i)
	if m.Role != "assistant" {
		return nil, badRequest(param, "invalid_value", "Only assistant messages may have tool_calls (messages[%d] is %q)", i, m.Role)
	}
	out := make([]tokenizer.ToolCall, len(m.ToolCalls))
	for j, c := range m.ToolCalls {
		if c.Function.Name == "" {
			return nil, badRequest(param, "missing_required_parameter", "Missing required parameter: '%s[%d].function.name'", param, j)
		}
		args := bytes.TrimSpace(c.Function.Arguments)
		var s string
		if json.Unmarshal(args, &s) == nil {
			args = []byte(s)
			if strings.TrimSpace(s) == "" {
				args = []byte("{}")
			}
		}
		var obj map[string]json.RawMessage
		if len(args) == 0 || string(args) == "null" {
			args = []byte("{}")
		} else if json.Unmarshal(args, &obj) != nil {
			return nil, badRequest(param, "invalid_value", "'%s[%d].function.arguments' must be a JSON object (or a string of one)", param, j)
		}
		out[j] = tokenizer.ToolCall{ID: c.ID, Type: "function",
			Function: tokenizer.ToolCallFunction{Name: c.Function.Name, Arguments: json.RawMessage(args)}}
	}
	return out, nil
}

// toolNameRE is OpenAI's rule for function names.
var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// toolDef is the part of a tool definition this server reads; the whole
// definition goes to the chat template as sent.
type toolDef struct {
	Type     string `json:"type"`
	Function *struct {
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// toolSet is a request's tools and tool_choice, checked.
type toolSet struct {
	raw      json.RawMessage // the tools array, for the template
	names    []string
	params   map[string]json.RawMessage // name -> parameters schema
	choice   string                     // "auto", "none", "required" or "function"
	function string                     // the function tool_choice names
	single   bool                       // parallel_tool_calls false: at most one call
}

// tools checks tools and tool_choice; nil means no tools (none given, or
// tool_choice "none", which keeps them from the template too).
func (req *chatRequest) tools() (*toolSet, *apiError) {
	ts := &toolSet{choice: "auto", params: map[string]json.RawMessage{}}
	for i, raw := range req.Tools {
		var d toolDef
		param := fmt.Sprintf("tools[%d]", i)
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, badRequest(param, "invalid_value", "'%s' must be {\"type\": \"function\", \"function\": {\"name\": ...}}", param)
		}
		if d.Type != "function" {
			return nil, badRequest(param+".type", "invalid_value", "Unsupported tool type %q in '%s': only \"function\" is supported", d.Type, param)
		}
		if d.Function == nil {
			return nil, badRequest(param+".function", "missing_required_parameter", "Missing required parameter: '%s.function'", param)
		}
		if !toolNameRE.MatchString(d.Function.Name) {
			return nil, badRequest(param+".function.name", "invalid_value", "Invalid function name %q in '%s': use a-z, A-Z, 0-9, _ and -, at most 64", d.Function.Name, param)
		}
		if _, dup := ts.params[d.Function.Name]; dup {
			return nil, badRequest(param+".function.name", "invalid_value", "Function %q is defined twice", d.Function.Name)
		}
		ts.names = append(ts.names, d.Function.Name)
		ts.params[d.Function.Name] = d.Function.Parameters
	}
	if len(req.ToolChoice) > 0 && string(req.ToolChoice) != "null" {
		var mode string
		var named struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		switch {
		case json.Unmarshal(req.ToolChoice, &mode) == nil:
			if mode != "auto" && mode != "none" && mode != "required" {
				return nil, badRequest("tool_choice", "invalid_value", "Invalid value for 'tool_choice': %q (want none, auto, required or a function)", mode)
			}
			ts.choice = mode
		case json.Unmarshal(req.ToolChoice, &named) == nil && named.Type == "function" && named.Function.Name != "":
			if _, ok := ts.params[named.Function.Name]; !ok {
				return nil, badRequest("tool_choice", "invalid_value", "tool_choice names function %q, which is not in 'tools'", named.Function.Name)
			}
			ts.choice, ts.function = "function", named.Function.Name
		default:
			return nil, badRequest("tool_choice", "invalid_type", `Invalid 'tool_choice': expected "none", "auto", "required" or {"type": "function", "function": {"name": ...}}`)
		}
		if len(ts.names) == 0 && ts.choice != "none" && ts.choice != "auto" {
			return nil, badRequest("tool_choice", "invalid_value", "tool_choice %q needs 'tools'", ts.choice)
		}
	}
	if len(ts.names) == 0 || ts.choice == "none" {
		return nil, nil
	}
	ts.raw, _ = json.Marshal(req.Tools)
	ts.single = req.ParallelToolCalls != nil && !*req.ParallelToolCalls
	return ts, nil
}

// reservedTemplateVars are set by the server and cannot be passed through
// chat_template_kwargs.
var reservedTemplateVars = map[string]bool{"messages": true, "tools": true, "add_generation_prompt": true}

// chatOptions are the template variables of the request: tools and the
// chat_template_kwargs over the server's defaults.
func (req *chatRequest) chatOptions(defaults map[string]json.RawMessage, ts *toolSet) ([]tokenizer.ChatOption, *apiError) {
	var opts []tokenizer.ChatOption
	for k, v := range defaults {
		if _, over := req.ChatTemplateKwargs[k]; !over {
			opts = append(opts, tokenizer.WithVar(k, v))
		}
	}
	for k, v := range req.ChatTemplateKwargs {
		if reservedTemplateVars[k] {
			return nil, badRequest("chat_template_kwargs", "invalid_value", "chat_template_kwargs cannot set %q; use the request field", k)
		}
		opts = append(opts, tokenizer.WithVar(k, v))
	}
	if ts != nil {
		opts = append(opts, tokenizer.WithVar("tools", ts.raw))
	}
	return opts, nil
}

// toolCallOut is a tool call in a response: arguments are a string of
// JSON, as OpenAI sends them.
type toolCallOut struct {
	Index    *int   `json:"index,omitempty"` // in stream deltas only
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// toolCallBlock is the Hermes / Qwen form of a call in the output.
var toolCallBlock = regexp.MustCompile(`(?s)<tool_call>\s*(.*?)\s*(?:</tool_call>|$)`)

// parse splits a reply into text and tool calls. It knows the forms the
// common templates ask for: <tool_call>{...}</tool_call> blocks (Qwen,
// Hermes), and a reply that is one JSON call or an array of them (Llama
// 3.1's {"name", "parameters"}, Mistral's [TOOL_CALLS] [...], whose marker
// token is special and so not in the text). A call must name one of the
// request's functions; anything else stays text.
func (ts *toolSet) parse(text string) (string, []toolCallOut) {
	if ts == nil {
		return text, nil
	}
	content, calls := ts.parseAll(text)
	if ts.single && len(calls) > 1 {
		calls = calls[:1] // parallel_tool_calls false: the first call only
	}
	return content, calls
}

func (ts *toolSet) parseAll(text string) (string, []toolCallOut) {
	if strings.Contains(text, "<tool_call>") {
		var calls []toolCallOut
		for _, m := range toolCallBlock.FindAllStringSubmatch(text, -1) {
			c, ok := ts.callOf([]byte(m[1]))
			if !ok {
				return text, nil
			}
			calls = append(calls, c...)
		}
		rest := strings.TrimSpace(toolCallBlock.ReplaceAllString(text, ""))
		return rest, calls
	}
	if calls, ok := ts.callOf([]byte(strings.TrimSpace(text))); ok {
		return "", calls
	}
	return text, nil
}

// callOf reads one call object or an array of them.
func (ts *toolSet) callOf(b []byte) ([]toolCallOut, bool) {
	b = bytes.TrimSpace(b)
	var list []json.RawMessage
	if json.Unmarshal(b, &list) != nil {
		list = []json.RawMessage{b}
	}
	if len(list) == 0 {
		return nil, false
	}
	var out []toolCallOut
	for _, item := range list {
		var c struct {
			Name       string          `json:"name"`
			Arguments  json.RawMessage `json:"arguments"`
			Parameters json.RawMessage `json:"parameters"`
		}
		if json.Unmarshal(item, &c) != nil {
			return nil, false
		}
		if _, ok := ts.params[c.Name]; !ok {
			return nil, false
		}
		args := c.Arguments
		if len(args) == 0 {
			args = c.Parameters
		}
		var s string
		if json.Unmarshal(args, &s) == nil {
			args = json.RawMessage(s) // some models write the arguments as a string
		}
		var obj map[string]json.RawMessage
		if len(args) == 0 {
			args = json.RawMessage("{}")
		} else if json.Unmarshal(args, &obj) != nil {
			return nil, false
		}
		var compact bytes.Buffer
		json.Compact(&compact, args)
		tc := toolCallOut{ID: "call_" + rand.Text()[:24], Type: "function"}
		tc.Function.Name = c.Name
		tc.Function.Arguments = compact.String()
		out = append(out, tc)
	}
	return out, true
}

// toolHold decides, while a reply with tools streams, which text can be
// sent at once: everything before a possible call. A reply that starts with
// '{' or '[' (after blanks), and anything from "<tool_call>" (or a prefix
// of it at the end) on, is held until the end, when parse decides.
type toolHold struct {
	buf     strings.Builder
	sent    int  // bytes of buf already released
	holding bool // a call may have begun at buf[sent:]
}

const toolCallTag = "<tool_call>"

// push adds text and returns what may be sent now.
func (h *toolHold) push(piece string) string {
	h.buf.WriteString(piece)
	if h.holding {
		return ""
	}
	all := h.buf.String()
	pending := all[h.sent:]
	if strings.TrimSpace(all[:h.sent]) == "" {
		if t := strings.TrimLeft(pending, " \t\r\n"); t != "" && (t[0] == '{' || t[0] == '[') {
			h.holding = true
			return ""
		}
		if strings.TrimSpace(pending) == "" {
			return "" // blanks only so far: wait for the first real character
		}
	}
	if i := strings.Index(pending, toolCallTag); i >= 0 {
		h.holding = true
		h.sent += i
		return pending[:i]
	}
	keep := 0
	for n := min(len(toolCallTag)-1, len(pending)); n > 0; n-- {
		if strings.HasSuffix(pending, toolCallTag[:n]) {
			keep = n
			break
		}
	}
	out := pending[:len(pending)-keep]
	h.sent += len(out)
	return out
}

// rest returns the text not yet released.
func (h *toolHold) rest() string { return h.buf.String()[h.sent:] }

// chatTemplateOptions checks the request's tools and template variables.
func (s *server) chatTemplateOptions(req *chatRequest) (*toolSet, []tokenizer.ChatOption, *apiError) {
	ts, e := req.tools()
	if e != nil {
		return nil, nil, e
	}
	opts, e := req.chatOptions(s.cfg.templateKwargs, ts)
	if e != nil {
		return nil, nil, e
	}
	return ts, opts, nil
}
