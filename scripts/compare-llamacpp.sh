#!/usr/bin/env bash
# compare-llamacpp.sh: symbc bench and llama-bench on the same cores, interleaved.
#
# usage: scripts/compare-llamacpp.sh SYMBC SYMB_DIR GGUF [ROUNDS] [THREADS...]
#
#   SYMBC     the symbc binary (go build -o symbc ./cmd/symbc)
#   SYMB_DIR  a .symb model folder (e.g. go run ./tools/synth -shape llama-3.2-1b, then symbc convert)
#   GGUF      the llama.cpp model of the same shape (gen_gguf.py + llama-quantize --pure Q4_0)
#   ROUNDS    alternations of the two programs per thread count [3]
#   THREADS   thread counts to test [1 2]
#
# Environment: LLAMA_BENCH (default /tmp/llamacpp/build/bin/llama-bench), PP [128], TG [64], REPS [3],
# SYMBC_FLAGS (extra flags for symbc bench, e.g. --kernels avx2).
#
# Each round runs llama-bench then symbc bench (each with REPS timed repetitions) for every thread
# count, so both see the same machine load; the table gives the median over rounds of each program's
# mean t/s and the ratio of the medians. Other jobs on a shared machine move absolute figures a lot:
# compare the ratios, and rerun when the per-round figures scatter.
set -euo pipefail

if [[ $# -lt 3 ]]; then
	sed -n '2,20s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
symbc=$1 symb=$2 gguf=$3
rounds=${4:-3}
shift $(($# < 4 ? $# : 4))
threads=("$@")
[[ ${#threads[@]} -gt 0 ]] || threads=(1 2)
llama=${LLAMA_BENCH:-/tmp/llamacpp/build/bin/llama-bench}
pp=${PP:-128} tg=${TG:-64} reps=${REPS:-3}
for f in "$symbc" "$llama"; do
	[[ -x $f ]] || { echo "compare-llamacpp: $f is not an executable" >&2; exit 2; }
done
[[ -d $symb ]] || { echo "compare-llamacpp: $symb is not a .symb folder" >&2; exit 2; }
[[ -f $gguf ]] || { echo "compare-llamacpp: $gguf is not a file" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# samples: one line per measurement, "program threads test t/s"
samples=$tmp/samples
: >"$samples"

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$symbc" version >&2 || true
for ((r = 1; r <= rounds; r++)); do
	for t in "${threads[@]}"; do
		"$llama" -m "$gguf" -p "$pp" -n "$tg" -t "$t" -r "$reps" -o json 2>/dev/null >"$tmp/l.json"
		jq -r --arg t "$t" '.[] | "llama.cpp \($t) " + (if .n_prompt > 0 then "pp\(.n_prompt)" else "tg\(.n_gen)" end) + " \(.avg_ts)"' \
			"$tmp/l.json" >>"$samples"
		# shellcheck disable=SC2086
		"$symbc" bench "$symb" -p "$pp" -n "$tg" -t "$t" -r "$reps" --json ${SYMBC_FLAGS:-} >"$tmp/s.json"
		jq -r --arg t "$t" '.tests[] | "symbc \($t) \(.test) \(.mean_tokens_per_second)"' "$tmp/s.json" >>"$samples"
		echo "# round $r, $t threads (load $(cut -d' ' -f1 /proc/loadavg)):" >&2
		grep " $t " "$samples" | tail -4 | sed 's/^/#   /' >&2
	done
done

# Median per (program, threads, test), then one row per (threads, test).
python3 - "$samples" <<'EOF'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    prog, t, test, ts = line.split()
    runs[(prog, int(t), test)].append(float(ts))
print("| test | threads | symbc t/s (median) | llama.cpp t/s (median) | ratio | symbc per round | llama.cpp per round |")
print("|---|---|---|---|---|---|---|")
keys = sorted({(t, test) for _, t, test in runs}, key=lambda k: (k[1][:2] != "tg", k[0], k[1]))
for t, test in keys:
    s, l = runs.get(("symbc", t, test), []), runs.get(("llama.cpp", t, test), [])
    if not s or not l:
        continue
    ms, ml = statistics.median(s), statistics.median(l)
    fmt = lambda xs: " ".join(f"{x:.1f}" for x in xs)
    print(f"| {test} | {t} | {ms:.2f} | {ml:.2f} | {ms/ml:.2f} | {fmt(s)} | {fmt(l)} |")
EOF
