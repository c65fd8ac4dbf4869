// Command gen writes a random-weight .symb model folder (see package
// testmodel): go run ./internal/testmodel/gen -preset tiny DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/symbc/symbc/internal/testmodel"
)

func main() {
	preset := flag.String("preset", "tiny", "tiny, moe or 1b")
	verify := flag.String("verify", "", "verify.json content to include")
	flag.Parse()
	specs := map[string]testmodel.Spec{"tiny": testmodel.Tiny, "moe": testmodel.MoE, "1b": testmodel.OneB}
	s, ok := specs[*preset]
	if !ok || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gen [-preset tiny|moe|1b] [-verify JSON] DIR")
		os.Exit(2)
	}
	s.Verify = *verify
	if err := testmodel.Write(context.Background(), flag.Arg(0), s); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
