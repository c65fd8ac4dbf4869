package kernels

import "math"

// Input vectors for the AVX-512 INT4 kernels (vnni_amd64.s) are quantized to
// int8 per block of q8Block elements, as llama.cpp's Q8_0 is: each element
// moves by at most half a step, max|x_block|/254. Blocks are stored in chunks
// of q8Chunk elements in the order the kernels unpack INT4 codes (see the
// comment at the top of vnni_amd64.s).
const (
	q8Block = 32
	q8Chunk = 128
	q8Lanes = 16 // int32 lanes per chunk: lane l holds block l/4
)

// q8Input is one or more input vectors quantized for the INT4 VNNI kernels.
// Vector i of a batch occupies chunks [i·chunks, (i+1)·chunks).
type q8Input struct {
	chunks int       // chunks per vector
	q      []int8    // chunks·128 per vector, in kernel order
	d      []float32 // per chunk, the scale of each lane's block
	c      []int32   // per chunk, each lane's start value (−8·Σx over its 8 elements for sym weights, else 0)
}

// q8Chunks is the number of chunks a padded row of kp elements spans.
func q8Chunks(kp int) int { return (kp + q8Chunk - 1) / q8Chunk }

// size sets the buffers for n vectors of kp elements from the scratch s.
func (in *q8Input) size(s *scratch, n, kp int) {
	in.chunks = q8Chunks(kp)
	nc := n * in.chunks
	in.q = s.bytes(nc * q8Chunk)
	if cap(s.d) < nc*q8Lanes {
		s.d = make([]int32, nc*q8Lanes)
	}
	if cap(s.g) < nc*q8Lanes {
		s.g = make([]float32, nc*q8Lanes)
	}
	s.d, s.g = s.d[:nc*q8Lanes], s.g[:nc*q8Lanes]
	in.c, in.d = s.d, s.g
}

// vector returns the quantized data of vector i.
func (in *q8Input) vector(i int) (q []int8, d []float32, c []int32) {
	nc := in.chunks
	return in.q[i*nc*q8Chunk : (i+1)*nc*q8Chunk], in.d[i*nc*q8Lanes : (i+1)*nc*q8Lanes], in.c[i*nc*q8Lanes : (i+1)*nc*q8Lanes]
}

// loadQ8Block returns block b of x (zero past its end) and the block's
// largest magnitude, which is Inf or NaN when the block holds one.
func loadQ8Block(x []float32, b int) (blk [q8Block]float32, amax float32) {
	if b*q8Block < len(x) {
		copy(blk[:], x[b*q8Block:])
	}
	for _, e := range blk {
		amax = max(amax, abs32(e))
	}
	return blk, amax
}

// q8Code rounds e·inv half away from zero to an int8 code in [-127, 127]
// (|e·inv| ≤ 127 up to rounding, so the clamp only absorbs that rounding).
func q8Code(e, inv float32) int32 {
	return min(max(int32(e*inv+copysign05(e)), -127), 127)
}

// quantize fills vector i from x (len ≤ chunks·128; the rest is zero). sym
// selects the start values of INT4 sym weights. It returns false, leaving
// the vector unusable, when x holds Inf or NaN.
func (in *q8Input) quantize(i int, x []float32, sym bool) bool {
	q, d, c := in.vector(i)
	for b := 0; b < in.chunks*4; b++ {
		blk, m := loadQ8Block(x, b)
		if !(m <= math.MaxFloat32) {
			return false
		}
		ch, j := b/4, b%4
		lo := q[ch*q8Chunk+16*j : ch*q8Chunk+16*j+16]
		hi := q[ch*q8Chunk+64+16*j : ch*q8Chunk+64+16*j+16]
		var scale, inv float32
		if m > 0 {
			scale, inv = m/127, 127/m
		}
		var lane [4]int32
		for k, e := range blk {
			r := q8Code(e, inv)
			if k < 16 {
				lo[k] = int8(r)
			} else {
				hi[k-16] = int8(r)
			}
			lane[(k%16)/4] += r
		}
		for m := range 4 {
			d[ch*q8Lanes+4*j+m] = scale
			c[ch*q8Lanes+4*j+m] = 0
			if sym {
				c[ch*q8Lanes+4*j+m] = -8 * lane[m]
			}
		}
	}
	return true
}
