// Package tokenizer implements Hugging Face tokenizer.json tokenizers (BPE,
// byte-level and SentencePiece-style with byte fallback) and chat
// templates, giving the same ids and text as the transformers library.
package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/symbc/symbc/internal/fileio"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// File names inside a tokenizer folder.
const (
	TokenizerFile    = "tokenizer.json"
	ConfigFile       = "tokenizer_config.json"
	ChatTemplateFile = "chat_template.jinja"
)

// Tokenizer encodes text to token ids and back. It is safe for concurrent
// use.
type Tokenizer struct {
	model      *bpeModel
	normalizer normalizer
	preTok     preTokenizer
	post       postProcessor
	decoder    decoder

	rawTrie  *tokenTrie // added tokens matched in the raw text
	normTrie *tokenTrie // added tokens matched after normalization

	addedIDs  map[string]int // added tokens; they take precedence over model.vocab
	idToToken []string
	known     []bool // id has a token
	special   []bool // id is a special token (skipped on request)

	bos, eos     int
	cleanUp      bool
	class        string
	templateVars [][2]string // special tokens handed to chat templates
	templates    chatTemplates
	compiled     sync.Map // template name -> *compiledTemplate
}

// Option configures loading; an option given a value it cannot take makes
// loading fail.
type Option func(*loadOptions) error

type loadOptions struct {
	chatTemplate *string
}

// WithChatTemplate sets the chat template, overriding the one in
// tokenizer_config.json (as a chat_template.jinja file does). An empty
// template is refused.
func WithChatTemplate(tmpl string) Option {
	return func(o *loadOptions) error {
		if tmpl == "" {
			return errors.New("empty chat template")
		}
		o.chatTemplate = &tmpl
		return nil
	}
}

// Load reads tokenizer.json, and tokenizer_config.json and
// chat_template.jinja when present, from dir. A .symb model folder keeps
// these files in its tokenizer/ subfolder, which is used when dir itself
// has no tokenizer.json.
func Load(dir string) (*Tokenizer, error) {
	if _, err := os.Stat(filepath.Join(dir, TokenizerFile)); errors.Is(err, fs.ErrNotExist) {
		sub := filepath.Join(dir, "tokenizer")
		if _, err := os.Stat(filepath.Join(sub, TokenizerFile)); err == nil {
			dir = sub
		}
	}
	optional := func(name string) string {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	return LoadFiles(filepath.Join(dir, TokenizerFile), optional(ConfigFile), optional(ChatTemplateFile))
}

// maxTokenizerFile bounds each tokenizer file read (the largest real
// tokenizer.json files are a few tens of MB).
const maxTokenizerFile = 1 << 30

// LoadFiles reads a tokenizer from explicit paths; configPath and
// chatTemplatePath may be empty.
func LoadFiles(tokenizerPath, configPath, chatTemplatePath string) (*Tokenizer, error) {
	tj, err := fileio.ReadLimited(tokenizerPath, maxTokenizerFile)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var cj []byte
	if configPath != "" {
		if cj, err = fileio.ReadLimited(configPath, maxTokenizerFile); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	var opts []Option
	if chatTemplatePath != "" {
		b, err := fileio.ReadLimited(chatTemplatePath, maxTokenizerFile)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		opts = append(opts, WithChatTemplate(string(b)))
	}
	t, err := build(tj, cj, opts)
	if err != nil {
		var fe *fileError
		if errors.As(err, &fe) && fe.config {
			return nil, fmt.Errorf("tokenizer: %s: %w", configPath, fe.err)
		}
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("tokenizer: %s: %w", tokenizerPath, fe.err)
		}
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

// FromBytes builds a tokenizer from the contents of tokenizer.json and
// (optionally, may be nil) tokenizer_config.json.
func FromBytes(tokenizerJSON, configJSON []byte, opts ...Option) (*Tokenizer, error) {
	t, err := build(tokenizerJSON, configJSON, opts)
	if err != nil {
		var fe *fileError
		if errors.As(err, &fe) {
			name := TokenizerFile
			if fe.config {
				name = ConfigFile
			}
			return nil, fmt.Errorf("tokenizer: %s: %w", name, fe.err)
		}
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

// fileError tells which input file an error is about.
type fileError struct {
	config bool
	err    error
}

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

func build(tokenizerJSON, configJSON []byte, opts []Option) (*Tokenizer, error) {
	var o loadOptions
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	spec, err := parseFileSpec(tokenizerJSON)
	if err != nil {
		return nil, &fileError{err: fmt.Errorf("invalid JSON: %w", err)}
	}
	var cfg configSpec
	if len(configJSON) > 0 {
		if err := json.Unmarshal(configJSON, &cfg); err != nil {
			return nil, &fileError{config: true, err: fmt.Errorf("invalid JSON: %w", err)}
		}
	}
	if o.chatTemplate != nil {
		cfg.ChatTemplate = chatTemplates{single: *o.chatTemplate}
	}
	t, err := newTokenizer(spec, &cfg)
	if err != nil {
		return nil, &fileError{err: err}
	}
	if err := t.applyConfig(&cfg); err != nil {
		return nil, &fileError{config: true, err: err}
	}
	return t, nil
}

func newTokenizer(spec *fileSpec, cfg *configSpec) (*Tokenizer, error) {
	if spec.Model.Type != "" && spec.Model.Type != "BPE" {
		return nil, fmt.Errorf("model: unsupported type %q (only BPE is implemented)", spec.Model.Type)
	}
	model, err := newBPEModel(&spec.Model)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{model: model, bos: -1, eos: -1, class: cfg.TokenizerClass}
	bl := newByteLevelTables()
	if t.normalizer, err = buildNormalizer(spec.Normalizer); err != nil {
		return nil, err
	}
	byteLevel := false
	if t.preTok, err = buildPreTokenizer(spec.PreTokenizer, bl, &byteLevel); err != nil {
		return nil, err
	}
	if byteLevel {
		model.enableByteLevel(bl)
	}
	if t.post, err = buildPostProcessor(spec.PostProcessor); err != nil {
		return nil, err
	}
	if t.decoder, err = buildDecoder(spec.Decoder, bl); err != nil {
		return nil, err
	}

	maxID := -1
	for tok, id := range model.vocab {
		if id < 0 {
			return nil, fmt.Errorf("model: token %q has negative id %d", tok, id)
		}
		maxID = max(maxID, id)
	}
	for i, a := range spec.AddedTokens {
		if a.ID < 0 {
			return nil, fmt.Errorf("added_tokens[%d]: negative id %d", i, a.ID)
		}
		maxID = max(maxID, a.ID)
	}
	// Ids index dense tables; refuse sparse id spaces that would make
	// them far larger than the file.
	if limit := 2*(len(model.vocab)+len(spec.AddedTokens)) + 1024; maxID >= limit {
		return nil, fmt.Errorf("model: id %d is far beyond the %d tokens in the file", maxID, len(model.vocab)+len(spec.AddedTokens))
	}
	t.idToToken = make([]string, maxID+1)
	t.known = make([]bool, maxID+1)
	t.special = make([]bool, maxID+1)
	t.addedIDs = make(map[string]int, len(spec.AddedTokens))
	for tok, id := range model.vocab {
		t.idToToken[id] = tok
		t.known[id] = true
	}
	added := make([]addedToken, 0, len(spec.AddedTokens))
	for _, a := range spec.AddedTokens {
		added = append(added, addedToken{id: a.ID, content: a.Content, special: a.Special,
			lstrip: a.LStrip, rstrip: a.RStrip, singleWord: a.SingleWord, normalized: a.Normalized})
	}
	// transformers registers the config's special tokens as special added
	// tokens when they exist in the vocabulary but are not added yet.
	isAdded := make(map[string]bool, len(added))
	for _, a := range added {
		isAdded[a.content] = true
	}
	extra := cfg.AdditionalSpecialTokens
	for _, nt := range cfg.namedSpecialTokens() {
		extra = append(extra, tokenField{content: nt[1], set: true})
	}
	for _, f := range extra {
		if !f.set || isAdded[f.content] {
			continue
		}
		if id, ok := model.vocab[f.content]; ok {
			added = append(added, addedToken{id: id, content: f.content, special: true})
			isAdded[f.content] = true
		}
	}
	t.setAddedTokens(added)
	return t, nil
}

// setAddedTokens registers added tokens: they override the vocabulary for
// their ids and strings, and go into the matching tries.
func (t *Tokenizer) setAddedTokens(added []addedToken) {
	var raw, norm []addedToken
	var rawC, normC []string
	for _, a := range added {
		t.idToToken[a.id] = a.content
		t.known[a.id] = true
		t.special[a.id] = a.special
		t.addedIDs[a.content] = a.id
		if a.normalized && t.normalizer != nil {
			norm = append(norm, a)
			normC = append(normC, t.normalizer.normalize(a.content))
		} else {
			raw = append(raw, a)
			rawC = append(rawC, a.content)
		}
	}
	t.rawTrie = newTokenTrie(raw, rawC)
	t.normTrie = newTokenTrie(norm, normC)
}

func (t *Tokenizer) applyConfig(cfg *configSpec) error {
	t.templates = cfg.ChatTemplate
	t.templateVars = cfg.namedSpecialTokens()
	t.cleanUp = cfg.CleanUpTokenizationSpaces != nil && *cfg.CleanUpTokenizationSpaces
	if cfg.BOSToken.set {
		if id, ok := t.ID(cfg.BOSToken.content); ok {
			t.bos = id
		}
	}
	if cfg.EOSToken.set {
		if id, ok := t.ID(cfg.EOSToken.content); ok {
			t.eos = id
		}
	}
	if !rebuildsPostProcessor(cfg.TokenizerClass) {
		return nil
	}
	var tp templateProcessor
	if cfg.AddBOSToken == nil || *cfg.AddBOSToken {
		if t.bos < 0 {
			return fmt.Errorf("add_bos_token is set but bos_token %q is not in the vocabulary", cfg.BOSToken.content)
		}
		tp.before = []int{t.bos}
	}
	if cfg.AddEOSToken != nil && *cfg.AddEOSToken {
		if t.eos < 0 {
			return fmt.Errorf("add_eos_token is set but eos_token %q is not in the vocabulary", cfg.EOSToken.content)
		}
		tp.after = []int{t.eos}
	}
	t.post = tp
	return nil
}

// VocabSize is the number of ids: the model vocabulary plus added tokens
// (one more than the largest id).
func (t *Tokenizer) VocabSize() int { return len(t.idToToken) }

// ID returns the id of a token string (vocabulary or added token).
func (t *Tokenizer) ID(token string) (int, bool) {
	if id, ok := t.addedIDs[token]; ok {
		return id, true
	}
	id, ok := t.model.vocab[token]
	return id, ok
}

// TokenString returns the token string of id, as stored in the
// vocabulary (byte-level tokens use the GPT-2 alphabet, e.g. "Ġthe").
func (t *Tokenizer) TokenString(id int) (string, bool) {
	if id < 0 || id >= len(t.idToToken) || !t.known[id] {
		return "", false
	}
	return t.idToToken[id], true
}

// BOS returns the id of tokenizer_config.json's bos_token, or -1.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS returns the id of tokenizer_config.json's eos_token, or -1.
func (t *Tokenizer) EOS() int { return t.eos }

// IsSpecial reports whether id is a special token (removed by Decode with
// skipSpecial).
func (t *Tokenizer) IsSpecial(id int) bool {
	return id >= 0 && id < len(t.special) && t.special[id]
}

// SpecialIDs returns the ids of all special tokens in increasing order.
func (t *Tokenizer) SpecialIDs() []int {
	var ids []int
	for id, s := range t.special {
		if s {
			ids = append(ids, id)
		}
	}
	return ids
}

// CheckVocab checks that every id the tokenizer can produce, special tokens
// included, is below a model's vocab_size: a larger one would index past
// the embedding table.
func (t *Tokenizer) CheckVocab(vocabSize int) error {
	if n := t.VocabSize(); n > vocabSize {
		s, _ := t.TokenString(n - 1)
		return fmt.Errorf("tokenizer has ids up to %d (token %q) but the model's vocab_size is %d: the tokenizer belongs to another model", n-1, s, vocabSize)
	}
	return nil
}
