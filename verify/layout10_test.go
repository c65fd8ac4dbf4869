package verify

import (
	"context"
	"io/fs"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// TestFormat10LayoutStillReads: a folder whose tensor files use the format
// 1.0 layout (tail groups padded to a whole group, as converters before 1.1
// wrote them) passes the integrity checks and computes what the same codes
// in the 1.1 packed layout compute. stories260k at INT4 g128 packs every
// 64- and 172-wide row.
func TestFormat10LayoutStillReads(t *testing.T) {
	ctx := context.Background()
	src := sharedModel(t, "stories260k")
	dir := filepath.Join(t.TempDir(), "m")
	spec := quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, Method: quantize.RTN, GroupSize: 128}
	if _, err := convert.Convert(ctx, src, dir, convert.WithPolicy(quantize.PolicyFromSpec(spec))); err != nil {
		t.Fatal(err)
	}
	packed, err := Numerics(ctx, dir, WithSource(src), WithPrompts(heldOut(t)))
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite every packed tensor in the 1.0 layout, then the manifest.
	rewritten := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, symb.Ext) {
			return err
		}
		f, err := symb.Open(p)
		if err != nil {
			return err
		}
		tn := f.Tensor()
		if !tn.PackedTail {
			return f.Close()
		}
		old, err := symb.PadTailGroups(tn)
		if err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		rewritten++
		return symb.WriteFile(p, old)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rewritten < 30 {
		t.Fatalf("rewrote %d tensors in the 1.0 layout; stories260k at g128 should have every matrix packed", rewritten)
	}
	m, err := symb.BuildManifest(ctx, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := symb.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	ir, err := Integrity(ctx, dir)
	if err != nil || !ir.Pass {
		t.Fatalf("1.0 layout folder fails integrity: %v %+v", err, ir)
	}
	old, err := Numerics(ctx, dir, WithSource(src), WithPrompts(heldOut(t)))
	if err != nil {
		t.Fatal(err)
	}
	a, b := packed.Overall.MeanKLD, old.Overall.MeanKLD
	t.Logf("%d tensors rewritten; mean KL packed %.6f, 1.0 layout %.6f", rewritten, a, b)
	if !(math.Abs(a-b) <= 1e-4*a) || packed.Overall.Top1Agreement != old.Overall.Top1Agreement {
		t.Errorf("1.0 layout reads to mean KL %.6f (top-1 %.4f), packed %.6f (top-1 %.4f): want the same model", b, old.Overall.Top1Agreement, a, packed.Overall.Top1Agreement)
	}
}
