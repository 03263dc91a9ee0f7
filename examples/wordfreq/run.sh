#!/usr/bin/env bash
# run.sh — the word-frequency example in one command (`make wordfreq`).
#
# Builds the node (unless M31_BIN names one), makes a corpus of
# WORDFREQ_SIZE (default 4M) of zipped books in build/wordfreq/ unless it is
# there, serves it and starts a node on free ports (the node's data in a
# temporary directory), runs wordfreq.rb as a fibril, shows progress, and
# prints the answer for "pi", the top 10 words and a check of every count
# against `tr -cs A-Za-z '\n' | tr A-Z a-z | sort | uniq -c`. Both servers
# are stopped at the end. Extra arguments go to run.mjs (e.g. --books 40,
# --shelves 0, --nuclei 2, --keep; see its header).
#
# Env: WORDFREQ_SIZE, BUILD (the build directory, default build), M31_BIN.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
SIZE=${WORDFREQ_SIZE:-4M}

command -v node >/dev/null || { echo "wordfreq: node is missing (make deps)" >&2; exit 1; }
if [ -z "${M31_BIN:-}" ]; then
  make -C "$ROOT" --no-print-directory BUILD="$BUILD" all >/dev/null
  M31_BIN=$ROOT/$BUILD/m31
fi

exec node "$ROOT/examples/wordfreq/run.mjs" --bin "$M31_BIN" \
  --corpus "$ROOT/$BUILD/wordfreq/corpus-$SIZE" --size "$SIZE" --check "$@"
