package arch

import (
	"slices"
	"strings"
	"testing"
)

// mem is an in-memory Reader over a row-major float32 matrix.
type mem struct {
	shape []int
	v     []float32
}

func (m mem) Shape() []int { return m.shape }

func (m mem) Read(dst []float32, r0, r1, c0, c1 int) error {
	if err := CheckWindow(m.shape, dst, r0, r1, c0, c1); err != nil {
		return err
	}
	cols := m.shape[len(m.shape)-1]
	for r := r0; r < r1; r++ {
		copy(dst[(r-r0)*(c1-c0):], m.v[r*cols+c0:r*cols+c1])
	}
	return nil
}

// counting returns a rows×cols matrix whose element (r, c) is 100r + c, so
// any misplaced element is visible in the value itself.
func counting(rows, cols int) mem {
	m := mem{shape: []int{rows, cols}, v: make([]float32, rows*cols)}
	for r := range rows {
		for c := range cols {
			m.v[r*cols+c] = float32(100*r + c)
		}
	}
	return m
}

func readAll(t *testing.T, r Reader) []float32 {
	t.Helper()
	s := r.Shape()
	out := make([]float32, s[0]*s[1])
	if err := r.Read(out, 0, s[0], 0, s[1]); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRowSlice(t *testing.T) {
	t.Parallel()
	// A fused [q | k | v] tensor of 2+1+1 rows: k is row 2.
	r, err := RowSlice{Start: 2, Rows: 1}.Apply([]Reader{counting(4, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readAll(t, r), []float32{200, 201, 202}; !slices.Equal(got, want) {
		t.Fatalf("rows[2:3] = %v, want %v", got, want)
	}
	win := make([]float32, 1)
	if err := r.Read(win, 0, 1, 1, 2); err != nil || win[0] != 201 {
		t.Fatalf("window (0,1) = %v, %v; want 201", win, err)
	}
	if _, err := (RowSlice{Start: 3, Rows: 2}).Apply([]Reader{counting(4, 3)}); err == nil {
		t.Fatal("slice past the end accepted")
	}
	if err := r.Read(make([]float32, 3), 1, 2, 0, 3); err == nil {
		t.Fatal("read past the slice accepted")
	}
}

func TestTranspose(t *testing.T) {
	t.Parallel()
	src := counting(3, 5)
	r, err := Transpose{}.Apply([]Reader{src})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Shape(), []int{5, 3}) {
		t.Fatalf("shape %v", r.Shape())
	}
	got := readAll(t, r)
	for i := range 5 {
		for j := range 3 {
			if got[i*3+j] != float32(100*j+i) {
				t.Fatalf("out[%d][%d] = %v, want %v", i, j, got[i*3+j], 100*j+i)
			}
		}
	}
	// A window: output rows 1..3, columns 1..2 = source rows 1..2, columns 1..3.
	win := make([]float32, 3*2)
	if err := r.Read(win, 1, 4, 1, 3); err != nil {
		t.Fatal(err)
	}
	if want := []float32{101, 201, 102, 202, 103, 203}; !slices.Equal(win, want) {
		t.Fatalf("window = %v, want %v", win, want)
	}
}

func TestPermuteRowsAndDeinterleave(t *testing.T) {
	t.Parallel()
	// Two heads of 6 rows, the last 4 of each are rope rows in pair order.
	perm, err := DeinterleavePerm(12, 6, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 4, 3, 5, 6, 7, 8, 10, 9, 11}; !slices.Equal(perm, want) {
		t.Fatalf("perm = %v, want %v", perm, want)
	}
	r, err := PermuteRows{Perm: perm}.Apply([]Reader{counting(12, 2)})
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	for i, p := range perm {
		if got[2*i] != float32(100*p) {
			t.Fatalf("row %d = %v, want source row %d", i, got[2*i:2*i+2], p)
		}
	}
	for _, bad := range [][]int{{0, 0, 1}, {0, 1, 3}, {0, 1}} {
		if _, err := (PermuteRows{Perm: bad}).Apply([]Reader{counting(3, 2)}); err == nil {
			t.Fatalf("permutation %v accepted", bad)
		}
	}
	if _, err := DeinterleavePerm(12, 6, 3, 4); err == nil {
		t.Fatal("rope block past the stride accepted")
	}
}

func TestBlockScaleAndChain(t *testing.T) {
	t.Parallel()
	w := mem{shape: []int{3, 5}, v: make([]float32, 15)}
	for i := range w.v {
		w.v[i] = 1
	}
	// Blocks of 2: scales [2, 3] → rows {0,1},{2} × cols {0,1},{2,3},{4}.
	s := mem{shape: []int{2, 3}, v: []float32{1, 2, 3, 4, 5, 6}}
	r, err := BlockScale{Rows: 2, Cols: 2}.Apply([]Reader{w, s})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 1, 2, 2, 3, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6}
	if got := readAll(t, r); !slices.Equal(got, want) {
		t.Fatalf("scaled = %v, want %v", got, want)
	}
	win := make([]float32, 2*2)
	if err := r.Read(win, 1, 3, 3, 5); err != nil {
		t.Fatal(err)
	}
	if want := []float32{2, 3, 5, 6}; !slices.Equal(win, want) {
		t.Fatalf("window = %v, want %v", win, want)
	}
	if _, err := (BlockScale{Rows: 2, Cols: 2}).Apply([]Reader{w, mem{shape: []int{2, 2}, v: make([]float32, 4)}}); err == nil {
		t.Fatal("scales of the wrong shape accepted")
	}

	// Dequantize, then take the last row, then transpose it into a column.
	c := Chain{BlockScale{Rows: 2, Cols: 2}, RowSlice{Start: 2, Rows: 1}, Transpose{}}
	r, err = c.Apply([]Reader{w, s})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); !slices.Equal(got, []float32{4, 4, 5, 5, 6}) || !slices.Equal(r.Shape(), []int{5, 1}) {
		t.Fatalf("chain = %v shape %v", got, r.Shape())
	}
	if !strings.Contains(c.String(), "transpose") {
		t.Fatalf("chain name %q", c.String())
	}
}
