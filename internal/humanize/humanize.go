// Package humanize formats sizes for people, the same way in every command
// that prints one.
package humanize

import "fmt"

// Bytes writes a byte count in binary units with two decimals ("1.50 GiB"),
// or in plain bytes below 1 KiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.2f %ciB", v, "KMGTP"[i])
}
