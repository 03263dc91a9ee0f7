#!/usr/bin/env bash
# run.sh — M31's benchmarks (`make bench`). Prints the machine, then markdown
# tables of requests/s and p99 latency (wrk --latency, 32 connections, median
# of BENCH_RUNS runs of BENCH_DURATION seconds, the compared servers measured
# in alternation) and the ratios against their targets:
#
#   1. GET /fs/{space}/{key} on M31 vs bare_mhd (the same bytes from a bare
#      libmicrohttpd server with M31's threading model): the ceiling, >= 0.75.
#   2. durable PUT and PATCH $incr on M31 vs etcd's v3 JSON gateway put
#      (>= 2x), GET on M31 vs etcd range (>= 8x).
#   3. a selective indexed search on a space of BENCH_OBJECTS objects
#      (default 1,000,000; loaded by load_space into a stopped node's store)
#      vs the same predicate answered by a full scan: time and keys read.
#   4. fibrils: a switch (runtime_switch.c, in one VM) vs an mruby method
#      call (aim: within 4x); a spawn in one VM, from Ruby in a node
#      (sys.spawn + sys.collect) and in Erlang (spawn_erlang.erl) (aim:
#      under 5 us); POST /fibrils and a channel round trip over HTTP vs
#      bare_mhd.
#   5. word frequencies: the paper's Figure 2 (examples/wordfreq) over a
#      generated corpus of zipped books vs McIlroy's pipeline on the same
#      texts; where M31's time goes (tests/bench/wordfreq.sh).
#
# Absolute numbers depend on the machine (and wrk shares its cores with the
# servers); the ratios measured in one run are what to compare.
#
# Env: BENCH_DURATION (s, default 4), BENCH_RUNS (default 3), BENCH_OBJECTS
# (default 1000000; lowered, and said, when the machine would need more than
# about 3 minutes to load them), BENCH_SKIP_ETCD=1, BENCH_SKIP_SEARCH=1,
# BENCH_SKIP_STORE=1 (sections 1 and 2), BENCH_SKIP_RUNTIME=1 (all of 4),
# or parts of 4: BENCH_SKIP_SWITCH=1, BENCH_SKIP_SPAWN=1 (the node's
# sys.spawn), BENCH_SKIP_ERLANG=1, BENCH_SKIP_FIBRILS_HTTP=1,
# BENCH_SKIP_CHANNELS=1; BENCH_SPAWN_N (children per local-spawn run,
# default 1000), BENCH_ERLANG_N (processes, default 100000),
# BENCH_SEQ_CONNS (connections of the sequential client, default 4).
# Section 5 (tests/bench/wordfreq.sh: the word-frequency example on a
# BENCH_WORDFREQ_SIZE corpus, default 100M, vs McIlroy's pipeline):
# BENCH_SKIP_WORDFREQ=1 skips it; see that file for its other variables.
# M31_BUILD: the build directory (default build; `make bench` passes
# $(BUILD)), which also holds runtime_switch, http_seq and spawn_erlang.beam
# that `make bench` builds.
# Everything it starts is killed on exit; it keeps its data in a temp
# directory it removes, and the raw wrk output in $M31_BUILD/bench/wrk.log.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/bench
BUILD_DIR=${M31_BUILD:-$ROOT/build}
OUT=$BUILD_DIR/bench
M31=$BUILD_DIR/m31
LIB=$BUILD_DIR/libm31.a
DUR=${BENCH_DURATION:-4}
RUNS=${BENCH_RUNS:-3}
CONNS=32
WRK_THREADS=2
BIG_N=${BENCH_OBJECTS:-1000000}
LOAD_BUDGET=170 # seconds we accept to spend loading the big space

die() { echo "bench: $*" >&2; exit 1; }
for tool in wrk curl awk; do command -v $tool >/dev/null || die "$tool is missing (make deps)"; done
if [ ! -x "$M31" ] || [ ! -f "$LIB" ]; then die "$M31 and $LIB are missing: run make first"; fi
skip() { [ "${!1:-0}" = 1 ]; } # skip BENCH_SKIP_X: is that part skipped?

mkdir -p "$OUT"
: >"$OUT/wrk.log"
TMP=$(mktemp -d /tmp/m31-bench.XXXXXX)
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one process we started (TERM, then KILL after 5 s).
stop_pid() {
  local p=$1
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
}

# ----------------------------------------------------------------- build

CFLAGS=(-std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE)
# shellcheck disable=SC2046
cc "${CFLAGS[@]}" -o "$OUT/bare_mhd" "$HERE/bare_mhd.c" \
  $(pkg-config --cflags --libs libmicrohttpd) -lpthread
# shellcheck disable=SC2046
cc "${CFLAGS[@]}" -I"$ROOT" $(pkg-config --cflags jansson) -o "$OUT/load_space" \
  "$HERE/load_space.c" "$LIB" \
  $(pkg-config --libs libmicrohttpd jansson libcurl) -lleveldb -lpthread -lm

# ------------------------------------------------------------- processes

# start_logged NAME LOGFILE CMD...: starts CMD in the background with stderr
# to LOGFILE, then waits (10 s at most) for "listening on http://H:PORT" and
# sets PORT and PID.
start_logged() {
  local name=$1 log=$2
  shift 2
  "$@" >/dev/null 2>"$log" &
  PID=$!
  PIDS+=("$PID")
  PORT=
  for _ in $(seq 100); do
    PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" 2>/dev/null | head -1 | sed 's/.*://') || true
    [ -n "$PORT" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  die "$name did not start"
}

start_m31() { # DATA [LOG_LEVEL [more flags...]]: sets PORT and PID
  local data=$1 level=${2:-info}
  shift $(($# < 2 ? $# : 2))
  if [ "$level" = info ] || [ "$level" = debug ]; then
    start_logged m31 "$TMP/m31-$(basename "$data").log" "$M31" serve --port 0 --data "$data" --log-level "$level" "$@"
    return
  fi
  # Quieter levels do not log the port: give one, and wait for /sys/health
  # (another try on another port if the node exits, e.g. the port was
  # taken meanwhile).
  local try
  for try in 1 2 3; do
    PORT=$(free_port)
    "$M31" serve --port "$PORT" --data "$data" --log-level "$level" "$@" >/dev/null 2>"$TMP/m31-$(basename "$data").log" &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 100); do
      curl -s -m 1 -o /dev/null "http://127.0.0.1:$PORT/sys/health" && return 0
      kill -0 "$PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$PID" 2>/dev/null && break # running but not answering
    echo "m31 (log level $level) did not start on port $PORT (try $try)" >&2
  done
  cat "$TMP/m31-$(basename "$data").log" >&2
  die "m31 (log level $level) did not start"
}

# A port no socket uses, below the ephemeral range (where wrk's and curl's
# own ends of connections come from).
free_port() {
  local p lo=20000 hi
  hi=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$hi" -gt $((lo + 1000)) ] || lo=10000
  for _ in $(seq 200); do
    p=$((lo + RANDOM % (hi - lo)))
    if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
  done
  die "no free port"
}

json_put() { # URL BODY -> status
  curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' --data-binary "$2" "$1"
}

# ------------------------------------------------------------------- wrk

# wrk_once URL [wrk args...] -> "rps p99_ms non2xx socket_errors"
wrk_once() {
  local url=$1 out
  shift
  # The URL goes before "-s script -- args": wrk's script arguments follow "--".
  out=$(timeout $((DUR + 20)) wrk -t$WRK_THREADS -c$CONNS -d"${DUR}s" --latency "$url" "$@" 2>&1) || true
  printf '%s\n' "$out" >>"$OUT/wrk.log"
  printf '%s\n' "$out" | awk '
    function ms(v,  n, u) {
      n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
      if (u == "us") return n / 1000; if (u == "s") return n * 1000
      if (u == "m") return n * 60000; return n
    }
    /^Requests\/sec:/ { rps = $2 }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
    END { printf "%.0f %.2f %d %d\n", rps, p99, bad, err }'
}

median() { # numbers... -> the median (the lower middle for an even count)
  printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

declare -A CFG_URL CFG_ARGS RPS P99 BAD
CONFIGS=()
add_config() { # NAME URL [wrk args...]
  local name=$1 url=$2
  shift 2
  CONFIGS+=("$name")
  CFG_URL[$name]=$url
  CFG_ARGS[$name]="$*"
}

# Runs every config RUNS times, in alternation (one run of each, then the
# next round), after a 1 s warm-up of each; keeps the medians.
run_configs() {
  local name run r rps p99 bad err
  declare -A L_RPS L_P99
  for name in "${CONFIGS[@]}"; do
    # shellcheck disable=SC2086
    DUR=1 wrk_once "${CFG_URL[$name]}" ${CFG_ARGS[$name]} >/dev/null
    L_RPS[$name]=""; L_P99[$name]=""; BAD[$name]=0
  done
  for run in $(seq "$RUNS"); do
    for name in "${CONFIGS[@]}"; do
      # shellcheck disable=SC2086
      r=$(wrk_once "${CFG_URL[$name]}" ${CFG_ARGS[$name]})
      read -r rps p99 bad err <<<"$r"
      echo "  run $run  $name: $rps req/s, p99 $p99 ms, non-2xx $bad, socket errors $err" >&2
      L_RPS[$name]+=" $rps"
      L_P99[$name]+=" $p99"
      BAD[$name]=$((BAD[$name] + bad + err))
    done
  done
  for name in "${CONFIGS[@]}"; do
    # shellcheck disable=SC2086
    RPS[$name]=$(median ${L_RPS[$name]})
    # shellcheck disable=SC2086
    P99[$name]=$(median ${L_P99[$name]})
  done
  CONFIGS=()
}

count() { # REGEX FILE -> occurrences (0 when none)
  { grep -o "$1" "$2" || true; } | wc -l
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
meets() { awk -v r="$1" -v t="$2" 'BEGIN { print (r + 0 >= t) ? "yes" : "**no**" }'; }
row() { # NAME LABEL
  local flag=""
  [ "${BAD[$1]:-0}" -gt 0 ] && flag=" (${BAD[$1]} errors/non-2xx!)"
  printf '| %s | %s | %s%s |\n' "$2" "${RPS[$1]}" "${P99[$1]}" "$flag"
}

# ------------------------------------------------------------- machine

echo "## M31 benchmarks"
echo
echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory, $(uname -sr)"
echo "- M31 $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty'), libmicrohttpd $(pkg-config --modversion libmicrohttpd), $(wrk --version 2>&1 | head -1 | awk '{print "wrk " $2}'), $( (etcd --version 2>/dev/null || echo 'etcd ?') | head -1)"
echo "- wrk: $WRK_THREADS threads, $CONNS connections, ${DUR} s per run, median of $RUNS runs (wrk runs on the same cores as the server)"
echo

# ---------------------------------------------------- 1 and 2: M31 node

store_section() {
  mkdir -p "$TMP/node"
  start_m31 "$TMP/node"
  M31_PID=$PID M31_URL=http://127.0.0.1:$PORT
  [ "$(json_put "$M31_URL/fs/bench" '{"attrs":{"n":"Int","s":"String"}}')" = 201 ] || die "cannot create space bench"
  [ "$(json_put "$M31_URL/fs/bench/hot" '{"attrs":{"n":1,"s":"bench-value-00000001"}}')" = 201 ] || die "cannot put bench/hot"

  # The same node quiet (--log-level warn: no access-log line per request),
  # to show what the default access log costs.
  mkdir -p "$TMP/quiet"
  start_m31 "$TMP/quiet" warn
  QUIET_PID=$PID QUIET_URL=http://127.0.0.1:$PORT
  [ "$(json_put "$QUIET_URL/fs/bench" '{"attrs":{"n":"Int","s":"String"}}')" = 201 ] || die "cannot create space bench (quiet node)"
  [ "$(json_put "$QUIET_URL/fs/bench/hot" '{"attrs":{"n":1,"s":"bench-value-00000001"}}')" = 201 ] || die "cannot put bench/hot (quiet node)"

  # The same node with a pool of 32 threads: a handler thread waits for its
  # write to be durable, so the pool size bounds how many writes one group
  # commit can hold. A diagnostic row, not a target.
  mkdir -p "$TMP/wide"
  start_m31 "$TMP/wide" warn --threads 32
  WIDE_PID=$PID WIDE_URL=http://127.0.0.1:$PORT
  [ "$(json_put "$WIDE_URL/fs/bench" '{"attrs":{"n":"Int","s":"String"}}')" = 201 ] || die "cannot create space bench (32-thread node)"

  # The bytes M31 answers to the GET, for bare_mhd to answer too.
  curl -s -D "$TMP/hot.headers" -o "$TMP/hot.body" "$M31_URL/fs/bench/hot"
  start_logged bare_mhd "$TMP/bare.log" "$OUT/bare_mhd" --headers "$TMP/hot.headers" --body "$TMP/hot.body" --port 0
  BARE_PID=$PID BARE_URL=http://127.0.0.1:$PORT
  strip() { grep -avi -e '^date:' -e '^m31-request-id:'; }
  if ! diff <(curl -s -i "$M31_URL/fs/bench/hot" | strip) <(curl -s -i "$BARE_URL/anything" | strip) >/dev/null; then
    echo "warning: bare_mhd's answer differs from M31's (beyond Date and M31-Request-Id)" >&2
  fi
  echo "GET response: $(wc -c <"$TMP/hot.body") bytes of body, headers: $(grep -c : "$TMP/hot.headers")" >&2

  ETCD=0
  if [ "${BENCH_SKIP_ETCD:-0}" != 1 ] && command -v etcd >/dev/null; then
    CP=$(free_port) PP=$(free_port)
    [ "$CP" != "$PP" ] || PP=$(free_port)
    etcd --name bench --data-dir "$TMP/etcd" \
      --listen-client-urls "http://127.0.0.1:$CP" --advertise-client-urls "http://127.0.0.1:$CP" \
      --listen-peer-urls "http://127.0.0.1:$PP" --initial-advertise-peer-urls "http://127.0.0.1:$PP" \
      --initial-cluster "bench=http://127.0.0.1:$PP" --logger zap --log-outputs stderr --log-level error \
      >/dev/null 2>"$TMP/etcd.log" &
    ETCD_PID=$!
    PIDS+=("$ETCD_PID")
    ETCD_URL=http://127.0.0.1:$CP
    for _ in $(seq 100); do
      curl -s -m 1 -X POST "$ETCD_URL/v3/kv/range" -d '{"key":"eA=="}' 2>/dev/null | grep -q header && { ETCD=1; break; }
      kill -0 "$ETCD_PID" 2>/dev/null || break
      sleep 0.1
    done
    if [ $ETCD = 1 ]; then
      # bench/hot holds the same bytes as M31's object.
      val=$(base64 -w0 <"$TMP/hot.body")
      curl -s -o /dev/null -X POST "$ETCD_URL/v3/kv/put" -d "{\"key\":\"$(printf bench/hot | base64 -w0)\",\"value\":\"$val\"}"
    else
      echo "warning: etcd did not start; skipping the etcd comparison" >&2
      cat "$TMP/etcd.log" >&2
    fi
  fi

  echo "reads..." >&2
  add_config m31_get "$M31_URL/fs/bench/hot"
  add_config m31q_get "$QUIET_URL/fs/bench/hot"
  add_config bare_get "$BARE_URL/fs/bench/hot"
  if [ $ETCD = 1 ]; then
    add_config etcd_range_ser "$ETCD_URL" -s "$HERE/etcd_range.lua" -- bench/hot serializable
    add_config etcd_range_lin "$ETCD_URL" -s "$HERE/etcd_range.lua" -- bench/hot
  fi
  run_configs

  echo "writes..." >&2
  add_config m31_put "$M31_URL" -s "$HERE/m31_put.lua" -- bench "w$$"
  add_config m31_patch "$M31_URL" -s "$HERE/m31_patch.lua" -- bench
  add_config m31w_put "$WIDE_URL" -s "$HERE/m31_put.lua" -- bench "w$$"
  [ $ETCD = 1 ] && add_config etcd_put "$ETCD_URL" -s "$HERE/etcd_put.lua" -- "w$$"
  run_configs

  stop_pid "$BARE_PID"
  stop_pid "$QUIET_PID"
  stop_pid "$WIDE_PID"
  [ $ETCD = 1 ] && stop_pid "$ETCD_PID"
  stop_pid "$M31_PID"

  echo "### 1. GET one object: M31 vs a bare libmicrohttpd server (the ceiling)"
  echo
  echo "| server | requests/s | p99 ms |"
  echo "|---|---:|---:|"
  row m31_get "M31 \`GET /fs/bench/hot\` (default log level info: one access-log line per request)"
  row m31q_get "M31 \`GET /fs/bench/hot\`, \`--log-level warn\`"
  row bare_get "bare_mhd, same bytes"
  echo
  echo "| ratio | value | target | met |"
  echo "|---|---:|---:|---|"
  r=$(ratio "${RPS[m31_get]}" "${RPS[bare_get]}")
  echo "| M31 / bare | $r | >= 0.75 | $(meets "$r" 0.75) |"
  r=$(ratio "${RPS[m31q_get]}" "${RPS[bare_get]}")
  echo "| M31 (log level warn) / bare | $r | >= 0.75 | $(meets "$r" 0.75) |"
  echo

  if [ $ETCD = 1 ]; then
    echo "### 2. M31 vs etcd $(etcd --version 2>/dev/null | awk '/etcd Version/ {print $3}') (single member, v3 JSON gateway)"
    echo
    echo "| operation | requests/s | p99 ms |"
    echo "|---|---:|---:|"
    row m31_put "M31 durable \`PUT\` of a new object"
    row m31_patch "M31 durable \`PATCH\` \$incr (1,000 counters)"
    row etcd_put "etcd \`/v3/kv/put\` of a new key"
    row m31w_put "(diagnostic) M31 durable \`PUT\`, \`--threads 32 --log-level warn\`"
    row m31_get "M31 \`GET\` one object"
    row etcd_range_ser "etcd \`/v3/kv/range\` one key, serializable"
    row etcd_range_lin "etcd \`/v3/kv/range\` one key, linearizable"
    echo
    echo "| ratio | value | target | met |"
    echo "|---|---:|---:|---|"
    r=$(ratio "${RPS[m31_put]}" "${RPS[etcd_put]}")
    echo "| M31 PUT / etcd put | $r | >= 2 | $(meets "$r" 2) |"
    r=$(ratio "${RPS[m31_patch]}" "${RPS[etcd_put]}")
    echo "| M31 PATCH \$incr / etcd put | $r | >= 2 | $(meets "$r" 2) |"
    r=$(ratio "${RPS[m31_get]}" "${RPS[etcd_range_ser]}")
    echo "| M31 GET / etcd range (serializable) | $r | >= 8 | $(meets "$r" 8) |"
    r=$(ratio "${RPS[m31_get]}" "${RPS[etcd_range_lin]}")
    echo "| M31 GET / etcd range (linearizable) | $r | >= 8 | $(meets "$r" 8) |"
    r=$(ratio "${RPS[m31w_put]}" "${RPS[etcd_put]}")
    echo "| (diagnostic) M31 PUT with 32 threads / etcd put | $r | | |"
    r=$(ratio "${RPS[m31q_get]}" "${RPS[etcd_range_ser]}")
    echo "| M31 GET (log level warn) / etcd range (serializable) | $r | >= 8 | $(meets "$r" 8) |"
    echo
  else
    echo "### 2. M31 writes (etcd not available)"
    echo
    echo "| operation | requests/s | p99 ms |"
    echo "|---|---:|---:|"
    row m31_put "M31 durable \`PUT\` of a new object"
    row m31_patch "M31 durable \`PATCH\` \$incr (1,000 counters)"
    row m31w_put "(diagnostic) M31 durable \`PUT\`, \`--threads 32 --log-level warn\`"
    echo
  fi
}

finish() {
  local k total=0
  for k in "${!BAD[@]}"; do total=$((total + BAD[$k])); done
  if [ "$total" -gt 0 ]; then
    echo
    echo "**Warning: $total errors or non-2xx answers during the runs (see $OUT/wrk.log).**"
  fi
}

# ------------------------------------------------------ 3: search, big space

search_section() {
  echo "search: sizing the load..." >&2

  # A probe load of 50,000 objects gives the rate; the rate falls as LevelDB
  # grows, so the estimate takes 1.5x margin.
  mkdir -p "$TMP/probe"
  probe=$(timeout 120 "$OUT/load_space" load "$TMP/probe" big 50000) || die "probe load failed"
  echo "  probe: $probe" >&2
  rate=$(awk '{printf "%.0f", $2 / $5}' <<<"$probe")
  rm -rf "$TMP/probe"
  N=$BIG_N
  fit=$(awk -v r="$rate" -v b=$LOAD_BUDGET 'BEGIN { n = int(r * b / 1.5 / 100000) * 100000; print (n < 100000 ? 100000 : n) }')
  SIZE_NOTE=""
  if [ "$fit" -lt "$N" ]; then
    SIZE_NOTE="loading $N objects would take about $(awk -v n="$N" -v r="$rate" 'BEGIN { printf "%.0f", n * 1.5 / r }') s here (over ~${LOAD_BUDGET} s): measured on $fit objects instead"
    N=$fit
  fi
  NGROUPS=$((N / 10))

  echo "search: loading $N objects..." >&2
  mkdir -p "$TMP/big"
  load=$(timeout $((LOAD_BUDGET * 2)) "$OUT/load_space" load "$TMP/big" big "$N") || die "loading $N objects failed or took more than $((LOAD_BUDGET * 2)) s"
  echo "  $load" >&2
  inproc_idx=$("$OUT/load_space" query "$TMP/big" big "$N" 2000)
  G=$((4242 % NGROUPS))
  inproc_scan=$(timeout 300 "$OUT/load_space" scan "$TMP/big" big "$N" "$G") || die "in-process scan failed"
  echo "  $inproc_idx" >&2
  echo "  $inproc_scan" >&2

  start_m31 "$TMP/big"
  BIG_PID=$PID BIG_URL=http://127.0.0.1:$PORT

  # One indexed query: its answer and M31-Keys-Read.
  curl -s -D "$TMP/q.h" -o "$TMP/q.b" "$BIG_URL/fs/big?grp=$G"
  idx_keys=$(awk -F': *' 'tolower($1) == "m31-keys-read" {print $2 + 0}' "$TMP/q.h")
  idx_matches=$(count '"key":"o[0-9]*"' "$TMP/q.b")
  # One at a time: median time of 50 queries on different groups.
  times=()
  for i in $(seq 50); do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' "$BIG_URL/fs/big?grp=$(((i * 7919) % NGROUPS))")")
  done
  idx_ms=$(awk -v t="$(median "${times[@]}")" 'BEGIN { printf "%.2f", t * 1000 }')
  # Under load: wrk, 32 connections, random groups.
  add_config m31_query "$BIG_URL" -s "$HERE/m31_query.lua" -- big "$NGROUPS"
  run_configs

  # The full scan over HTTP: every page of 1,000 objects, keeping grp=G.
  echo "search: full scan over HTTP..." >&2
  scan_keys=0 scan_matches=0 scan_pages=0 scan_seen=0 cursor=""
  t0=$(date +%s.%N)
  while :; do
    args=(-s -G -D "$TMP/p.h" -o "$TMP/p.b" --data limit=1000)
    [ -n "$cursor" ] && args+=(--data-urlencode "cursor=$cursor")
    code=$(curl "${args[@]}" -w '%{http_code}' "$BIG_URL/fs/big")
    [ "$code" = 200 ] || die "scan page $scan_pages: HTTP $code"
    scan_pages=$((scan_pages + 1))
    k=$(awk -F': *' 'tolower($1) == "m31-keys-read" {print $2 + 0}' "$TMP/p.h")
    scan_keys=$((scan_keys + ${k:-0}))
    scan_seen=$((scan_seen + $(count '"key":"o[0-9]*"' "$TMP/p.b")))
    scan_matches=$((scan_matches + $(count "\"grp\":${G}[,}]" "$TMP/p.b")))
    cursor=$({ grep -o '"next":"[^"]*"}$' "$TMP/p.b" || true; } | sed 's/"next":"\(.*\)"}$/\1/')
    [ -z "$cursor" ] && break
    [ $scan_pages -lt $((N / 1000 + 10)) ] || die "scan does not end"
  done
  scan_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  stop_pid "$BIG_PID"

  echo "### 3. Selective search on a space of $N objects"
  echo
  [ -n "$SIZE_NOTE" ] && echo "Note: $SIZE_NOTE." && echo
  echo "Loaded with load_space (store_object_put from 64 threads, node stopped): $load."
  echo "Objects \`{grp: Int, n: Int, s: String}\`, \`grp = i mod $NGROUPS\`; the query is \`grp=$G\` (10 objects)."
  echo
  echo "| query | matches | keys read | time per query |"
  echo "|---|---:|---:|---:|"
  echo "| indexed \`GET /fs/big?grp=$G\`, one at a time (curl, median of 50) | $idx_matches | $idx_keys (M31-Keys-Read) | $idx_ms ms |"
  echo "| indexed, 32 connections (wrk, random groups) | 10 | $idx_keys each | p99 ${P99[m31_query]} ms; ${RPS[m31_query]} queries/s |"
  echo "| full scan over HTTP: $scan_pages pages of \`?limit=1000\`, filtered by the client | $scan_matches | $scan_keys (sum of M31-Keys-Read) | $(awk -v s="$scan_s" 'BEGIN { printf "%.0f ms", s * 1000 }') |"
  ip_us=$(awk '{print $4}' <<<"$inproc_idx")
  ip_keys=$(awk '{print $6}' <<<"$inproc_idx")
  sc_keys=$(awk '{print $6}' <<<"$inproc_scan")
  sc_s=$(awk '{print $9}' <<<"$inproc_scan")
  sc_m=$(awk '{print $4}' <<<"$inproc_scan")
  echo "| indexed, in process (store_query_run, mean of 2,000) | 10 | $ip_keys | $(awk -v u="$ip_us" 'BEGIN { printf "%.3f ms", u / 1000 }') |"
  echo "| full scan, in process (store_query_run pages, no condition) | $sc_m | $sc_keys | $(awk -v s="$sc_s" 'BEGIN { printf "%.0f ms", s * 1000 }') |"
  echo
  echo "Full scan / indexed: $(ratio "$(awk -v s="$scan_s" 'BEGIN { print s * 1000 }')" "$idx_ms")x the time over HTTP, $(ratio "$scan_keys" "$idx_keys")x the keys read; in process $(ratio "$(awk -v s="$sc_s" 'BEGIN { print s * 1e6 }')" "$ip_us")x the time."
}

# ------------------------------------------------------ 4: fibrils

# runtime.sh: runtime_section (the switch, spawn, and HTTP rows of 4).
# shellcheck source=tests/bench/runtime.sh
. "$HERE/runtime.sh"

# ------------------------------------------------------ 5: word frequencies

# wordfreq.sh: wordfreq_section (examples/wordfreq vs McIlroy's pipeline).
# shellcheck source=tests/bench/wordfreq.sh
. "$HERE/wordfreq.sh"

if ! skip BENCH_SKIP_STORE; then store_section; fi
if ! skip BENCH_SKIP_SEARCH; then search_section; fi
if ! skip BENCH_SKIP_RUNTIME; then runtime_section; fi
if ! skip BENCH_SKIP_WORDFREQ; then wordfreq_section; fi
finish
