package runtime

import (
	"context"
	"math"
	"testing"
)

// TestDecodeWeightBytes checks the bytes a decoded token reads against the
// model's size: all of it for a model whose embeddings are the LM head
// (stories260k), all but the embedding table less one row otherwise
// (llama3), and only top_k of num_experts of the experts in sparse layers
// (mixtral).
func TestDecodeWeightBytes(t *testing.T) {
	for _, name := range []string{"stories260k", "llama3", "mixtral"} {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, name)
			want := m.sizeBytes
			if m.lmHead != m.emb {
				e := weightBytes(m.emb)
				want -= e - e/int64(m.emb.Rows())
			}
			if moe := m.mc.MoE; moe != nil {
				for _, L := range m.layers {
					for _, x := range L.moe.experts {
						b := weightBytes(x.gate) + weightBytes(x.up) + weightBytes(x.down)
						want -= b * int64(moe.NumExperts-moe.TopK) / int64(moe.NumExperts)
					}
				}
			}
			got := m.decodeWeightBytes()
			// Integer division per layer versus per expert: a few bytes.
			if math.Abs(float64(got-want)) > float64(len(m.layers)*8) || got <= 0 || got > m.sizeBytes {
				t.Errorf("decode reads %d bytes, want %d (model %d)", got, want, m.sizeBytes)
			}
			if name == "stories260k" && m.lmHead == m.emb && got != m.sizeBytes {
				t.Errorf("tied model: decode reads %d bytes, want the whole %d", got, m.sizeBytes)
			}
		})
	}
}

// TestBenchRoofline checks that Bench fills the roofline from its tg test
// and a probe, and refuses it without a tg test.
func TestBenchRoofline(t *testing.T) {
	m := newTestModel(t, "stories260k", WithThreads(2))
	res, err := Bench(context.Background(), m, BenchOptions{PromptTokens: -1, GenTokens: 8, Repetitions: 1, Roofline: true, ProbeBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Roofline
	if r == nil || r.ProbeGBps <= 0 || r.ProbeBytes != 8<<20 || r.WeightBytesPerToken != m.decodeWeightBytes() {
		t.Fatalf("roofline %+v", r)
	}
	tg := res.Tests[0].Mean
	if d := r.DecodeGBps - tg*float64(r.WeightBytesPerToken)/1e9; math.Abs(d) > 1e-9 || math.Abs(r.Percent-r.DecodeGBps/r.ProbeGBps*100) > 1e-9 {
		t.Errorf("roofline %+v does not follow from tg %.2f t/s", r, tg)
	}
	if _, err := Bench(context.Background(), m, BenchOptions{GenTokens: -1, Roofline: true}); err == nil {
		t.Error("a roofline without the tg test was accepted")
	}
}
