package quantize

import (
	"fmt"

	"github.com/symbc/symbc/symb"
)

// Policy chooses the storage spec of each tensor. The fields are the
// requests; For applies the safety rules on top of them, so a Policy can be
// built straight from command-line flags.
type Policy struct {
	Linear    Spec // symb.RoleLinear
	Embedding Spec // symb.RoleEmbedding
	LMHead    Spec // symb.RoleLMHead
	Router    Spec // symb.RoleRouter; INT4 requests are raised to F16 by For
	Other     Spec // symb.RoleOther
}

// DefaultPolicy is what the converter uses without flags, the format's
// original choice: every linear weight (the LM head included) and the
// embeddings INT4 symmetric RTN with groups of 128; routers and other tensors
// F16. The LM head's error lands directly on the logits, so `--lm-head int8`
// is the cheapest quality upgrade for an untied model.
func DefaultPolicy() Policy {
	int4 := Spec{Type: INT4, Scheme: Symmetric, Method: RTN, GroupSize: DefaultGroupSize}
	return Policy{
		Linear:    int4,
		Embedding: int4,
		LMHead:    int4,
		Router:    Spec{Type: F16},
		Other:     Spec{Type: F16},
	}
}

// PolicyFromSpec is the policy meaning "--quantize X --scheme Y --group-size
// G": every weight matrix (linear, embedding, LM head, router) is requested
// as s. Tensors of unknown role stay float (F32 if s is F32, else F16)
// because nothing guarantees the runtime reads them through INT kernels.
func PolicyFromSpec(s Spec) Policy {
	other := s
	if s.Type.IsInt() {
		other = Spec{Type: F16}
	}
	return Policy{Linear: s, Embedding: s, LMHead: s, Router: s, Other: other}
}

// Validate checks every requested spec.
func (p Policy) Validate() error {
	for _, f := range []struct {
		name string
		s    Spec
	}{{"linear", p.Linear}, {"embedding", p.Embedding}, {"lm_head", p.LMHead}, {"router", p.Router}, {"other", p.Other}} {
		if err := f.s.Validate(); err != nil {
			return fmt.Errorf("policy %s: %w", f.name, err)
		}
	}
	return nil
}

// For returns the spec for a tensor of the given role stored as rows x cols
// (a 1-D tensor is rows = 1). Rules, applied on top of the requests:
//
//   - Norms and biases are never stored below F16: F32 when the linear
//     request is F32 (so "--quantize f32" is lossless everywhere), F16
//     otherwise. They are tiny and every activation is multiplied by them.
//   - Routers are never 4-bit: an INT4 request becomes F16. A router is
//     small ([experts, hidden]), and its output goes through a top-k choice,
//     so 4-bit noise can flip which experts run, an error the rest of the
//     network cannot absorb. INT8 would mostly be safe too, but F16 costs a
//     few kilobytes per layer and removes the question entirely.
//   - 1-D tensors (rows <= 1) are never INT: a single row gains little and
//     is usually a gain/scale vector whose error is systematic. An INT
//     request becomes F16 (or the float request is kept).
func (p Policy) For(role symb.Role, rows, cols int) Spec {
	var s Spec
	switch role {
	case symb.RoleNorm, symb.RoleBias:
		if p.Linear.Type == F32 {
			return Spec{Type: F32}
		}
		return Spec{Type: F16}
	case symb.RoleLinear:
		s = p.Linear
	case symb.RoleEmbedding:
		s = p.Embedding
	case symb.RoleLMHead:
		s = p.LMHead
	case symb.RoleRouter:
		s = p.Router
		if s.Type == INT4 {
			s = Spec{Type: F16}
		}
	default:
		s = p.Other
	}
	if s.Type.IsInt() && rows <= 1 {
		s = Spec{Type: F16}
	}
	if !s.Type.IsInt() {
		s = Spec{Type: s.Type} // drop fields that float types ignore, for stable comparisons
	}
	return s
}
