package verify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/symbc/symbc/symb"
)

// TestReportSummary: the report verify writes carries, under the names
// FORMAT.md §6 promises, what other tools read through symb.VerifySummary
// (the registry's annotations, the store's list). A renamed field here would
// silently drop them.
func TestReportSummary(t *testing.T) {
	t.Parallel()
	rep := &Report{Pass: true, ToolVersion: "v1.2.3", Reference: "org/model@abc",
		Overall: &Metrics{MeanKLD: 0.0125, Top1Agreement: 0.97}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), symb.ReportFile)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := symb.ReadVerifySummary(p)
	if err != nil {
		t.Fatal(err)
	}
	var tool, ref string
	json.Unmarshal(s.ToolVersion, &tool)
	json.Unmarshal(s.Reference, &ref)
	m := s.Metrics()
	if s.Pass == nil || !*s.Pass || tool != "v1.2.3" || ref != "org/model@abc" ||
		m == nil || m.MeanKLD == nil || *m.MeanKLD != 0.0125 || m.Top1Agreement == nil || *m.Top1Agreement != 0.97 {
		t.Errorf("summary %+v (metrics %+v) of %s", s, m, b)
	}
}
