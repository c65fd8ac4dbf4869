package humanize

import "testing"

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0:             "0 B",
		1023:          "1023 B",
		1024:          "1.00 KiB",
		1536:          "1.50 KiB",
		700 << 20:     "700.00 MiB",
		3<<30 + 1<<29: "3.50 GiB",
		5 << 40:       "5.00 TiB",
		2048 << 50:    "2048.00 PiB",
		-5:            "-5 B",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
