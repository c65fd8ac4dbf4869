// Command synth writes a synthetic Hugging Face Llama checkpoint (random
// weights, real shapes) for benchmarking and testing the converter. See
// README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/symbc/symbc/convert/synth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "synth: "+err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	var names []string
	for _, s := range synth.Shapes() {
		names = append(names, s.Name)
	}
	shape := fs.String("shape", "tiny", "model shape: "+strings.Join(names, ", "))
	dtype := fs.String("dtype", "BF16", "weight dtype: BF16, F16 or F32")
	seed := fs.Uint64("seed", 1, "random seed")
	shard := fs.Int64("shard-bytes", synth.DefaultShardBytes, "largest shard in bytes (transformers' default 5 GB)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: synth [flags] OUT\n\nWrites a Llama checkpoint with random weights into the new folder OUT.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want exactly one output folder, got %d arguments", fs.NArg())
	}
	s, err := synth.Lookup(*shape)
	if err != nil {
		return err
	}
	d := synth.DType(strings.ToUpper(*dtype))
	out := fs.Arg(0)
	start := time.Now()
	err = synth.Write(ctx, out, s, synth.WithDType(d), synth.WithSeed(*seed), synth.WithShardBytes(*shard))
	if err != nil {
		os.RemoveAll(out)
		return err
	}
	fmt.Printf("wrote %s: %s, %.2f GB of %s weights in %.1fs\n", out, s.Name, float64(s.Bytes(d))/1e9, d, time.Since(start).Seconds())
	return nil
}
