package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// configSpec is the part of tokenizer_config.json that the tokenizer uses.
type configSpec struct {
	TokenizerClass            string        `json:"tokenizer_class"`
	AddBOSToken               *bool         `json:"add_bos_token"`
	AddEOSToken               *bool         `json:"add_eos_token"`
	CleanUpTokenizationSpaces *bool         `json:"clean_up_tokenization_spaces"`
	BOSToken                  tokenField    `json:"bos_token"`
	EOSToken                  tokenField    `json:"eos_token"`
	UnkToken                  tokenField    `json:"unk_token"`
	SepToken                  tokenField    `json:"sep_token"`
	PadToken                  tokenField    `json:"pad_token"`
	ClsToken                  tokenField    `json:"cls_token"`
	MaskToken                 tokenField    `json:"mask_token"`
	AdditionalSpecialTokens   []tokenField  `json:"additional_special_tokens"`
	ChatTemplate              chatTemplates `json:"chat_template"`
}

// namedSpecialTokens lists the config's special-token attributes in the
// order transformers reports them; chat templates see them by these names.
func (c *configSpec) namedSpecialTokens() [][2]string {
	var out [][2]string
	for _, f := range []struct {
		name string
		tok  tokenField
	}{
		{"bos_token", c.BOSToken}, {"eos_token", c.EOSToken}, {"unk_token", c.UnkToken},
		{"sep_token", c.SepToken}, {"pad_token", c.PadToken}, {"cls_token", c.ClsToken},
		{"mask_token", c.MaskToken},
	} {
		if f.tok.set {
			out = append(out, [2]string{f.name, f.tok.content})
		}
	}
	return out
}

// tokenField is a special token written as a string, as an AddedToken
// object ({"content": ...}, possibly with "__type"), or as null.
type tokenField struct {
	content string
	set     bool
}

func (t *tokenField) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*t = tokenField{}
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = tokenField{content: s, set: true}
		return nil
	case len(b) > 0 && b[0] == '{':
		var obj struct {
			Content *string `json:"content"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		if obj.Content == nil {
			return fmt.Errorf("special token object without content")
		}
		*t = tokenField{content: *obj.Content, set: true}
		return nil
	}
	return fmt.Errorf("special token: expected a string, an object or null, got %.40s", b)
}

// chatTemplates is chat_template: one template, or a list of named ones.
type chatTemplates struct {
	single string
	named  map[string]string
	order  []string
}

func (c *chatTemplates) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &c.single)
	case len(b) > 0 && b[0] == '[':
		var list []struct {
			Name     string `json:"name"`
			Template string `json:"template"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		c.named = make(map[string]string, len(list))
		for i, e := range list {
			if e.Name == "" {
				return fmt.Errorf("chat_template[%d]: missing name", i)
			}
			c.named[e.Name] = e.Template
			c.order = append(c.order, e.Name)
		}
		return nil
	}
	return fmt.Errorf("chat_template: expected a string or a list of {name, template}")
}

// rebuildsPostProcessor reports whether the transformers class replaces
// the post-processor of tokenizer.json at load time with "[BOS] $A [EOS]",
// driven by add_bos_token (default true) and add_eos_token (default false).
func rebuildsPostProcessor(class string) bool {
	switch class {
	case "LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast",
		"GemmaTokenizer", "GemmaTokenizerFast":
		return true
	}
	return false
}
