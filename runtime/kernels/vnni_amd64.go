package kernels

// Declarations of vnni_amd64.s; the wrappers check bounds.

//go:noescape
func dotQ4VNNIAsm(codes *byte, scales *uint16, xq *int8, xd *float32, xc *int32, nfull, cpg int, tail uint64) float32

//go:noescape
func dotQ4VNNI4Asm(codes *byte, scales *uint16, xq *int8, xd *float32, xc *int32, xstride, nfull, cpg int, tail uint64, out *float32)

// vnniShape splits a padded row of kp elements (a multiple of 32) into whole
// chunks and the byte mask of the codes of a final partial chunk (0: none).
func vnniShape(kp int) (nfull int, tail uint64) {
	nfull = kp / q8Chunk
	if tb := kp % q8Chunk / q8Block; tb > 0 {
		tail = 1<<(16*tb) - 1
	}
	return nfull, tail
}

// rowDotVNNI is Σ_k W[r,k]·x_i[k] for INT4 row r of v (group size a multiple
// of 128) and vector i of in, without the asym min term.
func rowDotVNNI(v *wview, r int, in *q8Input, i int) float32 {
	rb := v.rowBytes()
	codes := v.data[r*rb : (r+1)*rb]
	sc := v.scales[r*v.gpr : (r+1)*v.gpr]
	q, d, c := in.vector(i)
	if q8Chunks(v.kp) > in.chunks {
		panic("kernels: rowDotVNNI: input shorter than the row")
	}
	nfull, tail := vnniShape(v.kp)
	return dotQ4VNNIAsm(&codes[0], &sc[0], &q[0], &d[0], &c[0], nfull, v.g/q8Chunk, tail)
}

// rowDotVNNI4 is rowDotVNNI for vectors i..i+3 at once, into out.
func rowDotVNNI4(v *wview, r int, in *q8Input, i int, out *[4]float32) {
	rb := v.rowBytes()
	codes := v.data[r*rb : (r+1)*rb]
	sc := v.scales[r*v.gpr : (r+1)*v.gpr]
	nc := in.chunks
	q := in.q[i*nc*q8Chunk : (i+4)*nc*q8Chunk]
	d := in.d[i*nc*q8Lanes : (i+4)*nc*q8Lanes]
	c := in.c[i*nc*q8Lanes : (i+4)*nc*q8Lanes]
	if q8Chunks(v.kp) > nc {
		panic("kernels: rowDotVNNI4: input shorter than the row")
	}
	nfull, tail := vnniShape(v.kp)
	dotQ4VNNI4Asm(&codes[0], &sc[0], &q[0], &d[0], &c[0], nc*q8Chunk, nfull, v.g/q8Chunk, tail, &out[0])
}
