package runtime

import (
	"context"
	"time"

	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/symb"
)

// Roofline relates decoding speed to memory bandwidth: decoding one token
// reads (nearly) every weight once, so tokens/s × bytes per token is the
// read bandwidth decoding achieves, to compare with what the machine's
// memory gives a plain read of a large buffer.
type Roofline struct {
	// WeightBytesPerToken is what one decoded token reads of the weights:
	// every tensor once, except the embedding table (one row, unless it is
	// also the LM head) and, in sparse layers, the experts a token does not
	// select (on average all but top_k of num_experts).
	WeightBytesPerToken int64   `json:"weight_bytes_per_token"`
	DecodeGBps          float64 `json:"decode_gb_per_second"` // mean tg rate × WeightBytesPerToken / 1e9
	ProbeGBps           float64 `json:"probe_gb_per_second"`  // the best read of a ProbeBytes buffer
	ProbeBytes          int64   `json:"probe_bytes"`
	Percent             float64 `json:"percent_of_probe"` // DecodeGBps / ProbeGBps × 100
}

// defaultProbeBytes is large enough to defeat any CPU cache.
const defaultProbeBytes = 512 << 20

// weightBytes is the size of t's data, scales and minimums.
func weightBytes(t *symb.Tensor) int64 {
	if t == nil {
		return 0
	}
	return int64(len(t.Data) + len(t.Scales) + len(t.Mins))
}

// decodeWeightBytes is Roofline.WeightBytesPerToken.
func (m *Model) decodeWeightBytes() int64 {
	n := m.sizeBytes
	if m.lmHead != m.emb {
		rows := int64(max(m.emb.Rows(), 1))
		n -= weightBytes(m.emb) - weightBytes(m.emb)/rows
	}
	if e := m.mc.MoE; e != nil && e.NumExperts > 0 {
		for _, L := range m.layers {
			if L.moe == nil {
				continue
			}
			var experts int64
			for _, x := range L.moe.experts {
				experts += weightBytes(x.gate) + weightBytes(x.up) + weightBytes(x.down)
			}
			n -= experts * int64(e.NumExperts-min(e.TopK, e.NumExperts)) / int64(e.NumExperts)
		}
	}
	return n
}

// probeReadBandwidth reads a buffer of size bytes with the model's threads
// (each its own contiguous part, with the vector kernels), reps times after
// one untimed pass that also makes its pages resident, and returns the best
// rate in GB/s.
func (m *Model) probeReadBandwidth(ctx context.Context, size int64, reps int) (float64, error) {
	buf := make([]float32, size/4)
	for i := range buf {
		buf[i] = 1
	}
	const chunk = 1 << 16 // floats per item
	items := (len(buf) + chunk - 1) / chunk
	sums := make([]float32, items)
	best := 0.0
	for rep := -1; rep < reps; rep++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		m.pool.Run(items, 1, int64(len(buf)), func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				c := buf[i*chunk : min((i+1)*chunk, len(buf))]
				sums[i] = kernels.Dot(c, c)
			}
		})
		if rep >= 0 {
			best = max(best, float64(len(buf))*4/time.Since(start).Seconds()/1e9)
		}
	}
	return best, nil
}

// roofline measures the bandwidth probe and relates the decode rate
// tokensPerSecond to it.
func (m *Model) roofline(ctx context.Context, tokensPerSecond float64, probeBytes int64) (*Roofline, error) {
	gbps, err := m.probeReadBandwidth(ctx, probeBytes, 5)
	if err != nil {
		return nil, err
	}
	r := &Roofline{WeightBytesPerToken: m.decodeWeightBytes(), ProbeGBps: gbps, ProbeBytes: probeBytes}
	r.DecodeGBps = tokensPerSecond * float64(r.WeightBytesPerToken) / 1e9
	if gbps > 0 {
		r.Percent = r.DecodeGBps / gbps * 100
	}
	return r, nil
}
