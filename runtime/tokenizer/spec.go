package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// fileSpec is the part of tokenizer.json that the tokenizer reads. The
// pipeline components stay raw until their "type" is known.
type fileSpec struct {
	AddedTokens   []addedTokenSpec `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         modelSpec        `json:"model"`
}

type addedTokenSpec struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type modelSpec struct {
	Type                    string           `json:"type"`
	Vocab                   json.RawMessage  `json:"-"`
	Merges                  json.RawMessage  `json:"-"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	FuseUnk                 bool             `json:"fuse_unk"`
	ByteFallback            bool             `json:"byte_fallback"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	Dropout                 *json.RawMessage `json:"dropout"`
}

// componentSpec holds the fields of every normalizer, pre-tokenizer,
// post-processor and decoder type that is supported; each type reads only
// its own fields.
type componentSpec struct {
	Type string `json:"type"`

	Normalizers   []json.RawMessage `json:"normalizers"`
	Pretokenizers []json.RawMessage `json:"pretokenizers"`
	Processors    []json.RawMessage `json:"processors"`
	Decoders      []json.RawMessage `json:"decoders"`

	Prepend  string       `json:"prepend"`
	Pattern  *patternSpec `json:"pattern"`
	Content  string       `json:"content"`
	Behavior string       `json:"behavior"`
	Invert   bool         `json:"invert"`

	AddPrefixSpace *bool `json:"add_prefix_space"`
	UseRegex       *bool `json:"use_regex"`

	Replacement   string `json:"replacement"`
	PrependScheme string `json:"prepend_scheme"`
	Split         *bool  `json:"split"`

	Start      int  `json:"start"`
	Stop       int  `json:"stop"`
	StripLeft  bool `json:"strip_left"`
	StripRight bool `json:"strip_right"`

	IndividualDigits bool `json:"individual_digits"`

	Single        []templatePieceSpec             `json:"single"`
	SpecialTokens map[string]templateSpecialToken `json:"special_tokens"`
	Sep           []json.RawMessage               `json:"sep"`
	Cls           []json.RawMessage               `json:"cls"`
}

type patternSpec struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

type templatePieceSpec struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

type templateSpecialToken struct {
	ID  string `json:"id"`
	IDs []int  `json:"ids"`
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// parseFileSpec reads tokenizer.json. The model's vocab and merges (most
// of the file) are left raw for the fast scanner; the rest goes through
// encoding/json.
func parseFileSpec(b []byte) (*fileSpec, error) {
	top, err := objectFields(b)
	if err != nil {
		return nil, err
	}
	model := top["model"]
	if model == nil {
		return nil, fmt.Errorf("no model")
	}
	delete(top, "model")
	small, err := json.Marshal(rawFields(top))
	if err != nil {
		return nil, err
	}
	var spec fileSpec
	if err := json.Unmarshal(small, &spec); err != nil {
		return nil, err
	}
	mf, err := objectFields(model)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	spec.Model.Vocab, spec.Model.Merges = mf["vocab"], mf["merges"]
	delete(mf, "vocab")
	delete(mf, "merges")
	small, err = json.Marshal(rawFields(mf))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(small, &spec.Model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return &spec, nil
}

func rawFields(m map[string][]byte) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func parseComponent(raw json.RawMessage) (*componentSpec, error) {
	var c componentSpec
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}
