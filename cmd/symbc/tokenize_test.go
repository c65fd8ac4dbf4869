package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var storiesTokenizerDir = filepath.Join("..", "..", "testdata", "tokenizers", "stories260k")

type tokenizeGolden struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

// storiesGoldens reads the stories260k goldens; their ids include BOS.
func storiesGoldens(t *testing.T) []tokenizeGolden {
	t.Helper()
	f, err := os.Open(filepath.Join(storiesTokenizerDir, "tokenizer_goldens.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tokenizeGolden
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var g tokenizeGolden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("goldens line %d: %v", len(out)+1, err)
		}
		if len(g.IDs) == 0 || g.IDs[0] != 1 {
			t.Fatalf("golden %q: ids %v do not start with BOS (1)", g.Text, g.IDs)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("only %d goldens", len(out))
	}
	return out
}

// parseSpaceIDs parses the default output: one line of space-separated ids.
func parseSpaceIDs(t *testing.T, out string) []int {
	t.Helper()
	line, ok := strings.CutSuffix(out, "\n")
	if !ok || strings.Contains(line, "\n") {
		t.Fatalf("want exactly one line, got %q", out)
	}
	ids := []int{}
	for _, f := range strings.Fields(line) {
		id, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestTokenizeTextMatchesGoldens(t *testing.T) {
	for _, g := range storiesGoldens(t) {
		// --text=... keeps a text that starts with "-" from reading as a flag.
		out, err := runCLI(t, "tokenize", storiesTokenizerDir, "--text="+g.Text)
		if err != nil {
			t.Fatalf("%q: %v\n%s", g.Text, err, out)
		}
		if got := parseSpaceIDs(t, out); !slices.Equal(got, g.IDs) {
			t.Errorf("%q:\n got %v\nwant %v", g.Text, got, g.IDs)
		}
	}
}

func TestTokenizeJSONAndNoSpecial(t *testing.T) {
	g := storiesGoldens(t)[1]
	for _, c := range []struct {
		flags []string
		want  []int
	}{
		{[]string{"--json"}, g.IDs},
		{[]string{"--json", "--no-special"}, g.IDs[1:]},
	} {
		out, err := runCLI(t, append([]string{"tokenize", storiesTokenizerDir, "--text", g.Text}, c.flags...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.flags, err, out)
		}
		if !strings.HasPrefix(out, "[") || !strings.HasSuffix(out, "]\n") || strings.Count(out, "\n") != 1 {
			t.Errorf("%v: want one JSON array line, got %q", c.flags, out)
		}
		var got []int
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %v in %q", c.flags, err, out)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v:\n got %v\nwant %v", c.flags, got, c.want)
		}
	}
	// --no-special alone: the plain form without BOS.
	out, err := runCLI(t, "tokenize", storiesTokenizerDir, "--text", g.Text, "--no-special")
	if err != nil {
		t.Fatal(err)
	}
	if got := parseSpaceIDs(t, out); !slices.Equal(got, g.IDs[1:]) {
		t.Errorf("--no-special:\n got %v\nwant %v", got, g.IDs[1:])
	}
}

func TestTokenizeJSONL(t *testing.T) {
	goldens := storiesGoldens(t)
	var in strings.Builder
	for i, g := range goldens {
		b, err := json.Marshal(map[string]string{"text": g.Text})
		if err != nil {
			t.Fatal(err)
		}
		in.Write(b)
		in.WriteByte('\n')
		if i == 3 {
			in.WriteByte('\n') // blank lines are skipped, not answered
		}
	}
	path := filepath.Join(t.TempDir(), "texts.jsonl")
	if err := os.WriteFile(path, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "tokenize", storiesTokenizerDir, "--jsonl", path)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(goldens) {
		t.Fatalf("%d output lines for %d texts", len(lines), len(goldens))
	}
	for i, line := range lines {
		var got []int
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		if !slices.Equal(got, goldens[i].IDs) {
			t.Errorf("line %d (%q):\n got %v\nwant %v", i+1, goldens[i].Text, got, goldens[i].IDs)
		}
	}

	// --no-special applies to every line.
	out, err = runCLI(t, "tokenize", storiesTokenizerDir, "--jsonl", path, "--no-special")
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(out, "\n")
	var got []int
	if err := json.Unmarshal([]byte(first), &got); err != nil || !slices.Equal(got, goldens[0].IDs[1:]) {
		t.Errorf("--no-special first line %q (%v), want %v", first, err, goldens[0].IDs[1:])
	}
}

func TestTokenizeJSONLBadLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(path, []byte("{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runCLI(t, "tokenize", storiesTokenizerDir, "--jsonl", path)
	if err == nil || !strings.Contains(err.Error(), path+":2") || !strings.Contains(err.Error(), `"text"`) {
		t.Errorf("got %v, want an error naming %s:2 and the missing \"text\" field", err, path)
	}
	if code := exitCode(err); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

func TestTokenizeMissingTokenizerJSON(t *testing.T) {
	dir := t.TempDir()
	_, err := runCLI(t, "tokenize", dir, "--text", "hi")
	if err == nil {
		t.Fatal("tokenize succeeded on a folder without tokenizer.json")
	}
	if msg := err.Error(); !strings.Contains(msg, filepath.Join(dir, "tokenizer.json")) {
		t.Errorf("error %q does not name the missing tokenizer.json", msg)
	}
	if code := exitCode(err); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

func TestTokenizeUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no text":       {"tokenize", storiesTokenizerDir},
		"text and file": {"tokenize", storiesTokenizerDir, "--text", "a", "--jsonl", "x.jsonl"},
		"no folder":     {"tokenize", "--text", "a"},
		"bad flag":      {"tokenize", storiesTokenizerDir, "--txt", "a"},
	} {
		_, err := runCLI(t, args...)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if code := exitCode(err); code != 2 {
			t.Errorf("%s: exit code %d (%v), want 2", name, code, err)
		}
	}
}
