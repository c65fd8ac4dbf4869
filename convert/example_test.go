package convert_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/symb"
)

// Convert a Hugging Face checkpoint folder with the default recipe and read
// back what the folder records. A Hub id ("org/name") works the same way,
// downloading into the Hugging Face cache first.
func ExampleConvert() {
	tmp, err := os.MkdirTemp("", "convert-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "stories260k-int4")

	sum, err := convert.Convert(context.Background(), "../testdata/models/stories260k", out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d tensors, %d parameters\n", sum.Architecture, sum.Tensors, sum.Params)

	c, err := symb.ReadConfig(out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("linear weights:", c.Quantization.Weights, c.Quantization.Scheme, "group", c.Quantization.GroupSize)
	// Output:
	// llama: 47 tensors, 260032 parameters
	// linear weights: int4 sym group 128
}
