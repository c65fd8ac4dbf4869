package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/symbc/symbc/internal/humanize"
	"github.com/symbc/symbc/runtime"
)

// The tables bench prints; the runtime returns figures only.

// benchTable prints a Bench result in llama-bench's style.
func benchTable(w io.Writer, r *runtime.BenchResult) error {
	rows := [][]string{{"model", "weights", "size", "params", "engine", "kernels", "threads", "test", "t/s"}}
	for _, t := range r.Tests {
		rows = append(rows, []string{r.Model, r.Weights, humanize.Bytes(r.SizeBytes), humanize.Count(r.Params), r.Engine.String(),
			r.Kernels, fmt.Sprint(r.Threads), t.Name, fmt.Sprintf("%.2f ± %.2f", t.Mean, t.StdDev)})
	}
	if err := markdownTable(w, rows, []bool{true, true, false, false, true, true, false, true, false}); err != nil {
		return err
	}
	if rf := r.Roofline; rf != nil {
		_, err := fmt.Fprintf(w, "\nroofline: %s of weights read per decoded token; tg reads %.1f GB/s, %.0f %% of a %.1f GB/s read probe (%s buffer, %d threads)\n",
			humanize.Bytes(rf.WeightBytesPerToken), rf.DecodeGBps, rf.Percent, rf.ProbeGBps, humanize.Bytes(rf.ProbeBytes), r.Threads)
		return err
	}
	return nil
}

// parallelTable prints a BenchParallel result under a line naming the model.
func parallelTable(w io.Writer, r *runtime.ParallelBenchResult) error {
	if _, err := fmt.Fprintf(w, "%s, %s, %s, %d threads\n\n", r.Model, r.Weights, humanize.Bytes(r.SizeBytes), r.Threads); err != nil {
		return err
	}
	rows := [][]string{{"streams", "TTFT mean ms", "TTFT max ms", "per-stream t/s", "aggregate t/s"}}
	for _, t := range r.Tests {
		rows = append(rows, []string{fmt.Sprint(t.Streams), fmt.Sprintf("%.0f", t.TTFTMillis), fmt.Sprintf("%.0f", t.TTFTMaxMillis),
			fmt.Sprintf("%.2f", t.PerStreamTokensPerSecond), fmt.Sprintf("%.2f ± %.2f", t.AggregateTokensPerSecond, t.AggregateStdDev)})
	}
	return markdownTable(w, rows, make([]bool, 5))
}

// chatTurnTable prints the two turns of a BenchChatTurn result.
func chatTurnTable(w io.Writer, r *runtime.ChatTurnResult) error {
	rows := [][]string{{"turn", "prompt tokens", "cached tokens", "TTFT ms"},
		{"1", fmt.Sprint(r.FirstPromptTokens), "0", fmt.Sprintf("%.0f", r.FirstTTFTMillis)},
		{"2", fmt.Sprint(r.SecondPromptTokens), fmt.Sprint(r.SecondCachedTokens), fmt.Sprintf("%.0f", r.SecondTTFTMillis)}}
	return markdownTable(w, rows, make([]bool, 4))
}

// markdownTable writes rows (the first is the header) as a Markdown table
// with padded columns: left[i] aligns column i left (text), otherwise right
// (numbers).
func markdownTable(w io.Writer, rows [][]string, left []bool) error {
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(row []string) {
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if left[i] {
				fmt.Fprintf(&b, "| %s%s ", c, pad)
			} else {
				fmt.Fprintf(&b, "| %s%s ", pad, c)
			}
		}
		b.WriteString("|\n")
	}
	line(rows[0])
	for i, wd := range width {
		if left[i] {
			fmt.Fprintf(&b, "| %s ", strings.Repeat("-", wd))
		} else {
			fmt.Fprintf(&b, "| %s: ", strings.Repeat("-", wd-1))
		}
	}
	b.WriteString("|\n")
	for _, row := range rows[1:] {
		line(row)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
