package quantize

import (
	"encoding/json"
	"testing"
)

func TestParseAndString(t *testing.T) {
	types := map[string]Type{"f32": F32, "FP32": F32, "fp16": F16, "f16": F16, "bf16": BF16, "int8": INT8, " Int4 ": INT4}
	for in, want := range types {
		got, err := ParseType(in)
		if err != nil || got != want {
			t.Errorf("ParseType(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, _ := ParseType(got.String()); back != got {
			t.Errorf("%v does not round-trip through String", got)
		}
	}
	for _, bad := range []string{"", "int2", "q4_k", "f64"} {
		if _, err := ParseType(bad); err == nil {
			t.Errorf("ParseType(%q): want error", bad)
		}
	}
	if s, err := ParseScheme("asym"); err != nil || s != Asymmetric || s.String() != "asym" {
		t.Errorf("ParseScheme(asym) = %v, %v", s, err)
	}
	if s, err := ParseScheme("SYM"); err != nil || s != Symmetric {
		t.Errorf("ParseScheme(SYM) = %v, %v", s, err)
	}
	if _, err := ParseScheme("both"); err == nil {
		t.Error("ParseScheme(both): want error")
	}
	if m, err := ParseMethod("mse"); err != nil || m != MSE || m.String() != "mse" {
		t.Errorf("ParseMethod(mse) = %v, %v", m, err)
	}
	if m, err := ParseMethod("RTN"); err != nil || m != RTN {
		t.Errorf("ParseMethod(RTN) = %v, %v", m, err)
	}
	if m, err := ParseMethod("gptq"); err != nil || m != GPTQ || m.String() != "gptq" {
		t.Errorf("ParseMethod(gptq) = %v, %v", m, err)
	}
	if _, err := ParseMethod("awq"); err == nil {
		t.Error("ParseMethod(awq): want error")
	}
	if got := (Spec{Type: INT4, Scheme: Asymmetric, Method: MSE, GroupSize: 64}).String(); got != "int4-asym-mse-g64" {
		t.Errorf("Spec.String = %q", got)
	}
	if got := (Spec{Type: BF16, GroupSize: 64}).String(); got != "bf16" {
		t.Errorf("Spec.String = %q", got)
	}
}

func TestSpecJSON(t *testing.T) {
	in := Spec{Type: INT8, Scheme: Asymmetric, Method: MSE, GroupSize: 32}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"Type":"int8","Scheme":"asym","Method":"mse","GroupSize":32}` {
		t.Errorf("json = %s", b)
	}
	var out Spec
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("unmarshal = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"Type":"int3"}`), &out); err == nil {
		t.Error("unknown type should fail to unmarshal")
	}
	if _, err := json.Marshal(Spec{}); err == nil {
		t.Error("unset type should fail to marshal")
	}
}

func TestSpecValidate(t *testing.T) {
	valid := []Spec{
		{Type: F32}, {Type: F16}, {Type: BF16},
		{Type: INT4, GroupSize: 32}, {Type: INT4, Scheme: Asymmetric, Method: MSE, GroupSize: 256},
		{Type: INT8, GroupSize: 64}, {Type: INT8, GroupSize: 128},
	}
	for _, s := range valid {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	invalid := []Spec{
		{}, {Type: Type(9)}, {Type: INT4}, {Type: INT4, GroupSize: 16}, {Type: INT8, GroupSize: 512},
		{Type: INT4, GroupSize: 128, Scheme: Scheme(2)}, {Type: INT4, GroupSize: 128, Method: Method(5)},
	}
	for _, s := range invalid {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: want error", s)
		}
	}
}
