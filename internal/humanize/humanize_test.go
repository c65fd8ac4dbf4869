package humanize

import "testing"

func TestBytes(t *testing.T) {
	t.Parallel()
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

func TestParseBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "512MiB": 512 << 20, "512M": 512 << 20, "2g": 2 << 30, "1.5GiB": 3 << 29,
		"1GB": 1e9, "10 kB": 10e3, "7B": 7,
	} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1G", "1XB", "1e400", "GB", "9999999999T"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q): no error", in)
		}
	}
}

func TestCount(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1.00K", 10592: "10.59K", 260032: "260.03K",
		1_235_814_400: "1.24B", 7_000_000: "7.00M"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
