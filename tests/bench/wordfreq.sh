#!/usr/bin/env bash
# wordfreq.sh — section 5 of `make bench`: word frequencies of a corpus of
# BENCH_WORDFREQ_SIZE (default 100M) of text, by M31 running the example of
# examples/wordfreq (Figure 2 of the paper) vs McIlroy's pipeline
#
#   LC_ALL=C tr -cs A-Za-z '\n' | tr A-Z a-z | sort | uniq -c | sort -rn
#
# over the same texts, unzipped, on the same machine. The corpus is made
# once by examples/wordfreq/corpus.mjs and kept in
# build/bench-corpus/<size>/ (BENCH_CORPUS_DIR to move it). M31's time is
# from POST /fibrils to the root fibril's end: fetching every page and zip
# from a loopback server, unzipping, splitting and storing the counts
# durably. The program is tests/bench/wordfreq_timed.rb, wordfreq.rb with
# clocks, whose sums say where the time goes. Each run gets a fresh node;
# the two are run in alternation, BENCH_RUNS times (default 3), and the
# medians compared. Every M31 run's totals (distinct words, words, "pi")
# are checked against the pipeline's.
#
# Sourced by run.sh, it defines wordfreq_section and uses run.sh's median,
# ratio, OUT, TMP, RUNS and M31. Run alone (tests/bench/wordfreq.sh), it
# defines those itself and prints the section. Env: BENCH_WORDFREQ_SIZE,
# BENCH_WORDFREQ_TIMEOUT (s per M31 run, default 1800; a run in which
# nothing moves for 120 s is stopped sooner), BENCH_WORDFREQ_NUCLEI (the
# node's --nuclei, default its own), BENCH_RUNS, BENCH_CORPUS_DIR,
# M31_BUILD (the build directory, default build).
# `make bench` skips it with BENCH_SKIP_WORDFREQ=1.

WF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WF_SIZE=${BENCH_WORDFREQ_SIZE:-100M}
WF_TIMEOUT=${BENCH_WORDFREQ_TIMEOUT:-1800}
WF_CORPUS=${BENCH_CORPUS_DIR:-$WF_ROOT/build/bench-corpus}/$WF_SIZE
WF_PROGRAM=$WF_ROOT/tests/bench/wordfreq_timed.rb
WF_RUNNER=$WF_ROOT/examples/wordfreq/run.mjs
WF_NUCLEI=${BENCH_WORDFREQ_NUCLEI:-} # the node's --nuclei; empty: its default

# wf_field JSONFILE EXPR: a value of the JSON in the file (node, as jq may
# be missing); EXPR is JavaScript over `j`.
wf_field() { node -e "const j = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')); const v = ($2); console.log(v === undefined || v === null ? '' : v)" "$1"; }

wf_s() { awk -v ms="$1" 'BEGIN { if (ms == "") print "n/a"; else printf "%.2f", ms / 1000 }'; }
wf_num() { awk -v n="$1" 'BEGIN { s = sprintf("%.0f", n); r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } print s r }'; }
wf_sec() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.2f", v }'; }
wf_share() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f %%", 100 * a / b; else print "n/a" }'; }

# The McIlroy pipeline once: "wall_ms cpu_ms", its output in $1.
wf_pipeline_once() {
  local out=$1 t
  t=$({ TIMEFORMAT='%R %U %S'; time (cd "$WF_CORPUS" && LC_ALL=C sh -c \
    "cat \"\$@\" | tr -cs A-Za-z '\\n' | tr A-Z a-z | sort | uniq -c | sort -rn" sh "${WF_TEXTS[@]}" >"$out"); } 2>&1)
  awk '{ printf "%.0f %.0f\n", $1 * 1000, ($2 + $3) * 1000 }' <<<"$t"
}

# One M31 run (a fresh node, corpus server and temporary data, by run.mjs):
# its JSON in $1; 0 when the root fibril ended done.
wf_m31_once() {
  timeout -k 30 $((WF_TIMEOUT + 120)) node "$WF_RUNNER" --json --bin "$M31" --corpus "$WF_CORPUS" \
    --size "$WF_SIZE" --program "$WF_PROGRAM" --cpu-ms 3600000 --timeout "$WF_TIMEOUT" \
    ${WF_NUCLEI:+--nuclei "$WF_NUCLEI"} >"$1" 2>>"$OUT/wordfreq.log"
}

wordfreq_section() {
  local run pl_ms=() pl_cpu=() m_ms=() j ms cpu ok=1 i best
  mkdir -p "$(dirname "$WF_CORPUS")" "$OUT"
  : >"$OUT/wordfreq.log"
  echo "wordfreq: corpus of $WF_SIZE in $WF_CORPUS..." >&2
  node "$WF_ROOT/examples/wordfreq/corpus.mjs" --dir "$WF_CORPUS" --size "$WF_SIZE" >&2 ||
    { echo "wordfreq: cannot make the corpus" >&2; return 1; }
  mapfile -t WF_TEXTS < <(wf_field "$WF_CORPUS/corpus.json" "j.books.flatMap((b) => b.texts).join('\\n')")
  for run in $(seq "$RUNS"); do
    read -r ms cpu <<<"$(wf_pipeline_once "$TMP/wf-pipeline.txt")"
    pl_ms+=("$ms") pl_cpu+=("$cpu")
    echo "  run $run  pipeline: $(wf_s "$ms") s" >&2
    j=$TMP/wf-m31-$run.json
    if wf_m31_once "$j" && [ -s "$j" ]; then
      m_ms+=("$(wf_field "$j" j.wallMs)")
      echo "  run $run  M31: $(wf_s "${m_ms[-1]}") s ($(wf_field "$j" j.fibrils) fibrils)" >&2
    else
      echo "  run $run  M31: failed (see $OUT/wordfreq.log)" >&2
      ok=0
      tail -5 "$OUT/wordfreq.log" >&2
      break
    fi
  done

  # The pipeline's answer, for the check of every M31 run.
  local p_distinct p_total p_pi
  p_distinct=$(wc -l <"$TMP/wf-pipeline.txt")
  p_total=$(awk '{ s += $1 } END { print s + 0 }' "$TMP/wf-pipeline.txt")
  p_pi=$(awk '$2 == "pi" { print $1 }' "$TMP/wf-pipeline.txt")
  local same=yes
  [ ${#m_ms[@]} -gt 0 ] || same=n/a
  for i in $(seq "${#m_ms[@]}"); do
    j=$TMP/wf-m31-$i.json
    [ "$(wf_field "$j" "[j.distinct, j.total, j.pi[0].attrs.freq].join(' ')")" = "$p_distinct $p_total ${p_pi:-0}" ] || same="**no**"
  done
  # The run of median time gives the breakdown.
  local med=n/a
  if [ ${#m_ms[@]} -gt 0 ]; then
    med=$(median "${m_ms[@]}")
    for i in $(seq "${#m_ms[@]}"); do [ "${m_ms[$((i - 1))]}" = "$med" ] && best=$TMP/wf-m31-$i.json; done
  fi
  local pmed
  pmed=$(median "${pl_ms[@]}")

  echo "### 5. Word frequencies: the paper's Figure 2 on M31 vs McIlroy's pipeline"
  echo
  echo "Corpus: $(wf_field "$WF_CORPUS/corpus.json" "j.books.length") books, $(wf_field "$WF_CORPUS/corpus.json" "(j.bytes / 1048576).toFixed(1)") MB of text ($(wf_field "$WF_CORPUS/corpus.json" "(j.zipBytes / 1048576).toFixed(1)") MB zipped) on $(wf_field "$WF_CORPUS/corpus.json" "j.options.shelves") shelf pages, made by \`examples/wordfreq/corpus.mjs --size $WF_SIZE\`; $(wf_num "$p_total") words, $(wf_num "$p_distinct") distinct. Median of $RUNS runs each, in alternation."
  echo
  if [ $ok = 0 ]; then
    echo "**An M31 run failed or timed out (after ${WF_TIMEOUT} s at most): see $OUT/wordfreq.log.**"
    echo
  fi
  echo "| run | seconds | words/s |"
  echo "|---|---:|---:|"
  # shellcheck disable=SC2028 # the \n is meant literally
  echo "| McIlroy: \`LC_ALL=C tr -cs A-Za-z '\\n' \\| tr A-Z a-z \\| sort \\| uniq -c \\| sort -rn\` over the unzipped texts (CPU $(wf_s "$(median "${pl_cpu[@]}")") s) | $(wf_s "$pmed") | $(wf_num "$(awk -v n="$p_total" -v ms="$pmed" 'BEGIN { print n / ms * 1000 }')") |"
  if [ -n "${best:-}" ]; then
    echo "| M31: \`wordfreq_timed.rb\`, POST /fibrils to the root's end: every page and zip fetched over loopback HTTP, counts stored durably ($(wf_field "$best" j.fibrils) fibrils, ${WF_NUCLEI:-the default number of} worker processes) | $(wf_s "$med") | $(wf_num "$(awk -v n="$p_total" -v ms="$med" 'BEGIN { print n / ms * 1000 }')") |"
  fi
  echo
  echo "| ratio | value | target | met |"
  echo "|---|---:|---:|---|"
  local r=n/a
  [ "$med" = n/a ] || r=$(ratio "$med" "$pmed")
  echo "| M31 time / McIlroy time | $r | | |"
  echo "| M31's counts equal the pipeline's (distinct words, words, \"pi\"), every run | $same | | |"
  echo
  [ -n "${best:-}" ] || return 0
  local f u sp st fl all
  f=$(wf_field "$best" j.timings.fetch) u=$(wf_field "$best" j.timings.unzip) sp=$(wf_field "$best" j.timings.split)
  st=$(wf_field "$best" j.timings.store) fl=$(wf_field "$best" j.timings.flush)
  all=$(awk -v a="$f" -v b="$u" -v c="$sp" -v d="$st" -v e="$fl" 'BEGIN { print a + b + c + d + e }')
  echo "Where M31's time goes (the median run): seconds of wall time inside the fibrils, measured with"
  echo "\`Time.now\` around each phase and summed over all $(wf_field "$best" j.fibrils) fibrils. Fibrils overlap on the node's"
  echo "workers, so the sums are CPU-ish, not a split of the run's $(wf_s "$med") s: unzip, split and store are work"
  echo "in the VM (plus any wait for a core), fetch and flush are waits for the node."
  echo
  echo "| phase | seconds, summed | share |"
  echo "|---|---:|---:|"
  echo "| fetch: \`http.req\` (pages and zips; libcurl in the node) | $(wf_sec "$f") | $(wf_share "$f" "$all") |"
  echo "| unzip: \`jam.unzip\` | $(wf_sec "$u") | $(wf_share "$u" "$all") |"
  echo "| split: \`jam.words\` | $(wf_sec "$sp") | $(wf_share "$sp" "$all") |"
  echo "| store: the \`fs.invoke\` loop (increments combined in the VM) | $(wf_sec "$st") | $(wf_share "$st" "$all") |"
  echo "| flush: \`fs.flush\` (one \`fs.incr_many\` per book, durable) | $(wf_sec "$fl") | $(wf_share "$fl" "$all") |"
  echo "| CPU of the fibrils (the node's \`cpu_ms\`, summed) | $(wf_s "$(wf_field "$best" j.fibrilCpuMs)") | |"
  echo "| CPU of the node process, and of its zygote and workers (/proc) | $(wf_sec "$(wf_field "$best" "j.cpu ? j.cpu.node : ''")"), $(wf_sec "$(wf_field "$best" "j.cpu ? j.cpu.workers : ''")") | |"
  echo
}

# ------------------------------------------------------------- run alone

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  BUILD_DIR=${M31_BUILD:-$WF_ROOT/build}
  M31=$BUILD_DIR/m31
  OUT=$BUILD_DIR/bench
  RUNS=${BENCH_RUNS:-3}
  [ -x "$M31" ] || { echo "wordfreq: $M31 is missing: run make first" >&2; exit 1; }
  TMP=$(mktemp -d /tmp/m31-bench-wf.XXXXXX)
  trap 'rm -rf "$TMP"' EXIT
  median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  wordfreq_section
fi
