package tokenizer

import (
	"encoding/json"
	"fmt"
)

// postProcessor adds the special tokens of a single sequence.
type postProcessor interface {
	process(ids []int) []int
}

type postProcessorSeq []postProcessor

func (seq postProcessorSeq) process(ids []int) []int {
	for _, p := range seq {
		ids = p.process(ids)
	}
	return ids
}

// templateProcessor is TemplateProcessing's "single" template, resolved to
// ids: before, the sequence, after.
type templateProcessor struct {
	before, after []int
}

func (t templateProcessor) process(ids []int) []int {
	out := make([]int, 0, len(t.before)+len(ids)+len(t.after))
	out = append(out, t.before...)
	out = append(out, ids...)
	return append(out, t.after...)
}

// buildPostProcessor returns nil for processors that change no ids
// (ByteLevel only trims offsets).
func buildPostProcessor(raw json.RawMessage) (postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, fmt.Errorf("post_processor: %w", err)
	}
	switch c.Type {
	case "Sequence":
		var seq postProcessorSeq
		for i, r := range c.Processors {
			p, err := buildPostProcessor(r)
			if err != nil {
				return nil, fmt.Errorf("post_processor Sequence[%d]: %w", i, err)
			}
			if p != nil {
				seq = append(seq, p)
			}
		}
		if len(seq) == 0 {
			return nil, nil
		}
		return seq, nil
	case "ByteLevel":
		return nil, nil
	case "TemplateProcessing":
		var t templateProcessor
		seen := false
		for i, piece := range c.Single {
			switch {
			case piece.Sequence != nil:
				if seen {
					return nil, fmt.Errorf("post_processor TemplateProcessing: single[%d]: a second sequence", i)
				}
				seen = true
			case piece.SpecialToken != nil:
				st, ok := c.SpecialTokens[piece.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("post_processor TemplateProcessing: special token %q is not in special_tokens", piece.SpecialToken.ID)
				}
				if seen {
					t.after = append(t.after, st.IDs...)
				} else {
					t.before = append(t.before, st.IDs...)
				}
			default:
				return nil, fmt.Errorf("post_processor TemplateProcessing: single[%d] is neither SpecialToken nor Sequence", i)
			}
		}
		if !seen {
			return nil, fmt.Errorf("post_processor TemplateProcessing: single has no sequence")
		}
		return t, nil
	case "BertProcessing", "RobertaProcessing":
		cls, err := pairTokenID(c.Cls)
		if err != nil {
			return nil, fmt.Errorf("post_processor %s cls: %w", c.Type, err)
		}
		sep, err := pairTokenID(c.Sep)
		if err != nil {
			return nil, fmt.Errorf("post_processor %s sep: %w", c.Type, err)
		}
		return templateProcessor{before: []int{cls}, after: []int{sep}}, nil
	default:
		return nil, fmt.Errorf("post_processor: unsupported type %q", c.Type)
	}
}

// pairTokenID reads a ["token", id] pair.
func pairTokenID(pair []json.RawMessage) (int, error) {
	if len(pair) != 2 {
		return 0, fmt.Errorf("expected [token, id]")
	}
	var id int
	if err := json.Unmarshal(pair[1], &id); err != nil {
		return 0, fmt.Errorf("id: %w", err)
	}
	return id, nil
}
