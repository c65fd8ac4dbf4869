package symb

import (
	"encoding/json"
	"fmt"

	"github.com/symbc/symbc/internal/fileio"
)

// MaxReportBytes bounds what ReadVerifySummary reads of verify.json.
const MaxReportBytes = 16 << 20

// VerifySummary is the part of verify.json (FORMAT.md §6) that tools other
// than `symbc verify` may read; every field is optional. The full report is
// verify.Report, which writes a superset of these fields. Reference and
// ToolVersion are kept raw because other writers spell them as objects.
type VerifySummary struct {
	Pass        *bool           `json:"pass,omitempty"`
	ToolVersion json.RawMessage `json:"tool_version,omitempty"`
	Reference   json.RawMessage `json:"reference,omitempty"`
	Overall     *VerifyMetrics  `json:"overall,omitempty"`
	// Numerics.Overall is read when the top-level overall is absent.
	Numerics *struct {
		Overall *VerifyMetrics `json:"overall,omitempty"`
	} `json:"numerics,omitempty"`
}

// VerifyMetrics are the summary figures of verify.json's "overall" object.
type VerifyMetrics struct {
	MeanKLD       *float64 `json:"mean_kld,omitempty"`
	Top1Agreement *float64 `json:"top1_agreement,omitempty"`
}

// Metrics returns the overall figures, from the top level or from
// numerics.overall; nil when the report has none.
func (s *VerifySummary) Metrics() *VerifyMetrics {
	if s.Overall != nil {
		return s.Overall
	}
	if s.Numerics != nil {
		return s.Numerics.Overall
	}
	return nil
}

// ReadVerifySummary reads the summary fields of the verify.json at path,
// refusing a file larger than MaxReportBytes or one that is not a JSON
// object.
func ReadVerifySummary(path string) (*VerifySummary, error) {
	b, err := fileio.ReadLimited(path, MaxReportBytes)
	if err != nil {
		return nil, err
	}
	var s VerifySummary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: not a verify report: %w", path, err)
	}
	return &s, nil
}
