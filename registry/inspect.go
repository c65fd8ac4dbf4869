package registry

import (
	"context"
	"strconv"
)

// Summary is what a registry says about a model without any weight being
// downloaded: the manifest, its annotations and the ModelPack config.
type Summary struct {
	Ref           string            `json:"ref"`    // repository, and tag when given one
	Digest        string            `json:"digest"` // of the manifest
	Name          string            `json:"name,omitempty"`
	Architecture  string            `json:"architecture,omitempty"`
	Params        int64             `json:"params,omitempty"`
	ParamSize     string            `json:"param_size,omitempty"`
	Precision     string            `json:"precision,omitempty"`
	Quantization  string            `json:"quantization,omitempty"`
	Source        string            `json:"source,omitempty"`
	FormatVersion string            `json:"format_version,omitempty"`
	Size          int64             `json:"size"` // bytes of all layers
	Layers        []LayerSummary    `json:"layers"`
	Quality       *Quality          `json:"quality,omitempty"` // from verify.json, when it was pushed
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// LayerSummary is one layer: a file, or a folder packed as a tar.
type LayerSummary struct {
	Title     string `json:"title"`
	MediaType string `json:"media_type"`
	Size      int64  `json:"size"`
	Digest    string `json:"digest"`
}

// Quality is the summary of verify.json that Push put on the manifest.
// Fields the report did not have are nil or empty.
type Quality struct {
	Pass          *bool    `json:"pass,omitempty"`
	MeanKLD       *float64 `json:"mean_kld,omitempty"`
	Top1Agreement *float64 `json:"top1_agreement,omitempty"`
	Reference     string   `json:"reference,omitempty"`
	ToolVersion   string   `json:"tool_version,omitempty"`
}

// Inspect reads the manifest and config of the model at ref (two requests
// after authentication; no layer blob) and summarises them.
func Inspect(ctx context.Context, ref string, opts ...Option) (*Summary, error) {
	_, r, c, err := connect(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	m, err := c.fetchModel(ctx, r)
	if err != nil {
		return nil, err
	}
	return summarise(m), nil
}

func summarise(m *remoteModel) *Summary {
	an := m.manifest.Annotations
	cfg := m.config
	s := &Summary{
		Ref:           refName(m.ref),
		Digest:        m.digest.String(),
		Name:          cfg.Descriptor.Name,
		Architecture:  an[AnnotationArchitecture],
		ParamSize:     cfg.Config.ParamSize,
		Precision:     cfg.Config.Precision,
		Quantization:  an[AnnotationQuantization],
		Source:        an[AnnotationSource],
		FormatVersion: an[AnnotationFormatVersion],
		Annotations:   an,
	}
	if s.Architecture == "" {
		s.Architecture = cfg.Descriptor.Family
	}
	if s.Quantization == "" {
		s.Quantization = cfg.Config.Quantization
	}
	if s.ParamSize == "" {
		s.ParamSize = an[AnnotationParamSize]
	}
	s.Params, _ = strconv.ParseInt(an[AnnotationParams], 10, 64)
	for _, l := range m.manifest.Layers {
		title := l.Annotations[AnnotationTitle]
		if title == "" {
			title = l.Annotations[AnnotationFilepath]
		}
		s.Size += l.Size
		s.Layers = append(s.Layers, LayerSummary{Title: title, MediaType: string(l.MediaType), Size: l.Size, Digest: l.Digest.String()})
	}
	s.Quality = quality(an)
	return s
}

func quality(an map[string]string) *Quality {
	var q Quality
	found := false
	if v, err := strconv.ParseBool(an[AnnotationVerifyPass]); err == nil {
		q.Pass, found = &v, true
	}
	if v, err := strconv.ParseFloat(an[AnnotationVerifyKLD], 64); err == nil {
		q.MeanKLD, found = &v, true
	}
	if v, err := strconv.ParseFloat(an[AnnotationVerifyTop1], 64); err == nil {
		q.Top1Agreement, found = &v, true
	}
	if v := an[AnnotationVerifyRef]; v != "" {
		q.Reference, found = v, true
	}
	if v := an[AnnotationVerifyTool]; v != "" {
		q.ToolVersion, found = v, true
	}
	if !found {
		return nil
	}
	return &q
}
