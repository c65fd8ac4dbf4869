package verify

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Prompt is one input for comparing against a source model: text (tokenized
// with the model's tokenizer) or raw token ids.
type Prompt struct {
	Name string `json:"name,omitempty"`
	Text string `json:"text,omitempty"`
	IDs  []int  `json:"ids,omitempty"`
}

// DefaultPrompts are the texts a source comparison runs when none are given:
// plain English of the kinds the converter's built-in calibration text holds
// (short stories, simple facts, an instruction, a dialogue) but none of its
// sentences, so a calibrated conversion is judged on text it was not tuned
// on. They are deliberately simple: small models are trained on simple
// English, and text a model cannot predict at all (code in a story model)
// measures noise in its guesses rather than the conversion (docs/VERIFY.md).
func DefaultPrompts() []Prompt {
	return []Prompt{
		{Name: "story", Text: "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day she found a small puppy sitting alone under a bench. The puppy looked hungry and sad, so Lily shared her sandwich with him and took him home to meet her mom."},
		{Name: "story2", Text: "Tom and his dad went to the lake to fish. They sat on the dock and waited for a long time. Tom was getting bored when his line began to pull. He held on tight and pulled with all his might. Out came a big silver fish, and Tom shouted with joy."},
		{Name: "facts", Text: "The sun is a star at the center of our solar system. It gives the Earth light and heat. Without the sun, plants could not grow and the oceans would freeze. The Earth goes around the sun once a year, and it spins once a day, which is why we have day and night."},
		{Name: "howto", Text: "To wash your hands well, turn on the water and wet your hands. Put some soap on them and rub your palms, the backs of your hands and between your fingers. Keep rubbing for as long as it takes to sing a short song. Then rinse the soap away and dry your hands with a clean towel."},
		{Name: "dialogue", Text: "\"Can you help me find my cat?\" asked Sue. \"Of course,\" said the old man. \"Where did you see him last?\" \"He was sleeping on the wall by the garden,\" said Sue. They walked to the garden together and found the cat chasing a butterfly."},
	}
}

// maxPromptLine bounds one line of a prompts file.
const maxPromptLine = 1 << 20

// ReadPrompts reads a prompts file: one prompt per line, or JSON Lines with
// objects {"text": ...} or {"ids": [...]} (optionally "name"). Blank lines are skipped.
func ReadPrompts(path string) ([]Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parsePrompts(f, path)
}

func parsePrompts(r io.Reader, path string) ([]Prompt, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxPromptLine)
	var out []Prompt
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" {
			continue
		}
		p := Prompt{Name: fmt.Sprintf("line %d", line), Text: s}
		if strings.HasPrefix(strings.TrimSpace(s), "{") {
			var j Prompt
			if err := json.Unmarshal([]byte(s), &j); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, line, err)
			}
			if (j.Text == "") == (len(j.IDs) == 0) {
				return nil, fmt.Errorf("%s:%d: want exactly one of \"text\" or \"ids\"", path, line)
			}
			if j.Name == "" {
				j.Name = p.Name
			}
			p = j
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts", path)
	}
	return out, nil
}
