package quantize

import (
	"testing"

	"github.com/symbc/symbc/symb"
)

func TestPolicyFor(t *testing.T) {
	int4 := Spec{Type: INT4, Scheme: Symmetric, Method: RTN, GroupSize: 128}
	int8 := Spec{Type: INT8, Scheme: Asymmetric, Method: MSE, GroupSize: 64}
	f16 := Spec{Type: F16}
	f32 := Spec{Type: F32}
	bf16 := Spec{Type: BF16}
	tests := []struct {
		name       string
		p          Policy
		role       symb.Role
		rows, cols int
		want       Spec
	}{
		{"default linear", DefaultPolicy(), symb.RoleLinear, 4096, 4096, int4},
		{"default embedding", DefaultPolicy(), symb.RoleEmbedding, 32000, 4096, int4},
		{"default lm head", DefaultPolicy(), symb.RoleLMHead, 32000, 4096, Spec{Type: INT4, GroupSize: 128}},
		{"default norm", DefaultPolicy(), symb.RoleNorm, 1, 4096, f16},
		{"default bias", DefaultPolicy(), symb.RoleBias, 1, 4096, f16},
		{"default router", DefaultPolicy(), symb.RoleRouter, 8, 4096, f16},
		{"default other", DefaultPolicy(), symb.RoleOther, 64, 64, f16},
		{"int4 router raised to f16", PolicyFromSpec(int4), symb.RoleRouter, 64, 2048, f16},
		{"int8 router kept", PolicyFromSpec(int8), symb.RoleRouter, 64, 2048, int8},
		{"f32 router kept", PolicyFromSpec(f32), symb.RoleRouter, 64, 2048, f32},
		{"f32 request keeps norms f32", PolicyFromSpec(f32), symb.RoleNorm, 1, 4096, f32},
		{"f32 request keeps biases f32", PolicyFromSpec(f32), symb.RoleBias, 1, 4096, f32},
		{"f32 everywhere", PolicyFromSpec(f32), symb.RoleLinear, 4096, 4096, f32},
		{"f32 other", PolicyFromSpec(f32), symb.RoleOther, 4, 4, f32},
		{"bf16 request: norms not below f16", PolicyFromSpec(bf16), symb.RoleNorm, 1, 4096, f16},
		{"int8 request: norms f16", PolicyFromSpec(int8), symb.RoleNorm, 1, 4096, f16},
		{"2-D norm still float", PolicyFromSpec(int4), symb.RoleNorm, 32, 128, f16},
		{"1-D linear never INT", PolicyFromSpec(int4), symb.RoleLinear, 1, 4096, f16},
		{"1-D other never INT", PolicyFromSpec(int8), symb.RoleOther, 1, 4096, f16},
		{"1-D bf16 kept", PolicyFromSpec(bf16), symb.RoleLinear, 1, 4096, bf16},
		{"from spec linear", PolicyFromSpec(int8), symb.RoleLinear, 10, 10, int8},
		{"from spec lm head", PolicyFromSpec(int4), symb.RoleLMHead, 10, 4096, int4},
		{"from spec int other float", PolicyFromSpec(int4), symb.RoleOther, 10, 4096, f16},
		{"float spec drops ignored fields", Policy{Linear: Spec{Type: F16, GroupSize: 64, Method: MSE}}, symb.RoleLinear, 8, 8, f16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.For(tc.role, tc.rows, tc.cols); got != tc.want {
				t.Errorf("For(%s, %d, %d) = %s, want %s", tc.role, tc.rows, tc.cols, got, tc.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Errorf("default policy: %v", err)
	}
	if err := PolicyFromSpec(Spec{Type: INT4, GroupSize: 64}).Validate(); err != nil {
		t.Errorf("from spec: %v", err)
	}
	if err := (Policy{}).Validate(); err == nil {
		t.Error("zero policy should not validate")
	}
	bad := DefaultPolicy()
	bad.LMHead.GroupSize = 100
	if err := bad.Validate(); err == nil {
		t.Error("bad group size should not validate")
	}
	// Every spec For returns from a valid policy is itself valid.
	for _, p := range []Policy{DefaultPolicy(), PolicyFromSpec(Spec{Type: INT8, GroupSize: 32})} {
		for role := symb.RoleLinear; role <= symb.RoleOther; role++ {
			for _, rows := range []int{1, 7} {
				if err := p.For(role, rows, 100).Validate(); err != nil {
					t.Errorf("For(%s, %d): %v", role, rows, err)
				}
			}
		}
	}
}
