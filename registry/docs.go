package registry

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/symbc/symbc/symb"
)

// Standard OCI annotation keys that Push fills from the model's documents
// and source record, so that registry UIs and generic tools show them.
const (
	AnnotationImageSource      = "org.opencontainers.image.source"
	AnnotationImageLicenses    = "org.opencontainers.image.licenses"
	AnnotationImageDescription = "org.opencontainers.image.description"
	AnnotationImageRevision    = "org.opencontainers.image.revision"
)

// hubURL is where a Hub id's model card lives; sources record the id only.
const hubURL = "https://huggingface.co/"

// maxDocBytes bounds what Push reads of README.md and LICENSE.
const maxDocBytes = 1 << 20

// maxDescription bounds the description taken from the model card.
const maxDescription = 512

// provenance is what the manifest and config say about the model's origin,
// licence and purpose.
type provenance struct {
	licenses    []string // SPDX ids as the model card spells them
	sourceURL   string
	docURL      string
	description string
	revision    string
}

// readProvenance gathers the provenance of the folder dir: the Hub id and
// revision from its config, the licence from the model card's metadata
// (README.md front matter, as the Hub reads it) or else from the first
// line of a LICENSE file, and the description from the card's first
// paragraph of text.
func readProvenance(dir string, cfg *symb.Config) provenance {
	p := provenance{revision: cfg.Source.Revision}
	if id := cfg.Source.ID; id != "" && !IsReference(id) { // a Hub id, not a registry source
		p.docURL = hubURL + id
		p.sourceURL = p.docURL
		if p.revision != "" {
			p.sourceURL += "/tree/" + p.revision
		}
	}
	if card, err := readDoc(dir, "README.md"); err == nil {
		meta, body := splitFrontMatter(card)
		p.licenses = frontMatterList(meta, "license")
		p.description = firstParagraph(body)
	}
	if len(p.licenses) == 0 {
		for _, n := range []string{"LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "LICENCE.md"} {
			if b, err := readDoc(dir, n); err == nil {
				if id := licenseFromText(b); id != "" {
					p.licenses = []string{id}
				}
				break
			}
		}
	}
	return p
}

func readDoc(dir, name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxDocBytes))
}

// annotations are the standard OCI keys for p; empty values are left out.
func (p provenance) annotations() map[string]string {
	a := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			a[k] = v
		}
	}
	set(AnnotationImageSource, p.sourceURL)
	set(AnnotationImageLicenses, strings.Join(p.licenses, " AND "))
	set(AnnotationImageDescription, p.description)
	set(AnnotationImageRevision, p.revision)
	return a
}

// splitFrontMatter separates a model card's YAML metadata block (between
// two "---" lines at the very top) from its Markdown body.
func splitFrontMatter(b []byte) (meta []string, body []byte) {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	rest, ok := strings.CutPrefix(s, "---\n")
	if !ok {
		return nil, []byte(s)
	}
	block, after, ok := strings.Cut(rest, "\n---")
	if !ok {
		return nil, []byte(s)
	}
	_, after, _ = strings.Cut(after, "\n")
	return strings.Split(block, "\n"), []byte(after)
}

// frontMatterList reads a top-level key of the metadata block, written as a
// scalar ("license: mit") or a block list ("license:\n- mit\n- cc-by-4.0").
// It reads the subset of YAML that model cards use for this key, no more.
func frontMatterList(meta []string, key string) []string {
	var out []string
	for i := 0; i < len(meta); i++ {
		k, v, ok := strings.Cut(meta[i], ":")
		if !ok || k != key {
			continue
		}
		if v = unquote(strings.TrimSpace(v)); v != "" {
			if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
				for _, item := range strings.Split(v[1:len(v)-1], ",") {
					if item = unquote(strings.TrimSpace(item)); item != "" {
						out = append(out, item)
					}
				}
				return out
			}
			return []string{v}
		}
		for _, l := range meta[i+1:] {
			item, ok := strings.CutPrefix(strings.TrimSpace(l), "- ")
			if !ok {
				break
			}
			if item = unquote(strings.TrimSpace(item)); item != "" {
				out = append(out, item)
			}
		}
		return out
	}
	return nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

var (
	mdLink  = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	mdMarks = strings.NewReplacer("**", "", "__", "", "`", "")
)

// firstParagraph is the first paragraph of prose in a Markdown body:
// headings, HTML, images, tables, code and lists are skipped, links keep
// their text, and the result is one line of at most maxDescription bytes.
func firstParagraph(body []byte) string {
	var para []string
	inCode := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), maxDocBytes)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "```") || strings.HasPrefix(l, "~~~") {
			inCode = !inCode
			continue
		}
		prose := !inCode && strings.Trim(l, "-=*_ ") != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "<") &&
			!strings.HasPrefix(l, "|") && !strings.HasPrefix(l, "!") && !strings.HasPrefix(l, "- ") &&
			!strings.HasPrefix(l, "* ") && !strings.HasPrefix(l, ">")
		if prose {
			para = append(para, l)
			continue
		}
		if len(para) > 0 {
			break
		}
	}
	s := mdMarks.Replace(mdLink.ReplaceAllString(strings.Join(para, " "), "$1"))
	if len(s) > maxDescription {
		s = strings.ToValidUTF8(s[:maxDescription-3], "") + "..."
	}
	return s
}

// licenseFromText recognises the two licences whose first lines name them
// unambiguously; anything else is left to the model card.
func licenseFromText(b []byte) string {
	head := strings.ToLower(string(b[:min(len(b), 400)]))
	switch {
	case strings.Contains(head, "apache license") && strings.Contains(head, "version 2.0"):
		return "Apache-2.0"
	case strings.HasPrefix(strings.TrimSpace(head), "mit license"):
		return "MIT"
	}
	return ""
}
