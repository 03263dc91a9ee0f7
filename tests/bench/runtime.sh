# runtime.sh — section 4 of `make bench`: fibrils. Sourced by run.sh, whose
# helpers it uses (die, skip, start_m31, start_logged, stop_pid, wrk_once,
# median, ratio, BAD, OUT, TMP, DUR, RUNS, CONNS). Defines runtime_section,
# which measures and then prints three tables:
#
#   4a. a fibril switch vs an mruby method call, in one VM (runtime_switch,
#       built from runtime_switch.c by `make bench`): rt_fiber_step, and a
#       full scheduler turn (a fibril's M31.call answered at once by the
#       host). Aim (the issue's): a switch within 4x a method call.
#   4b. spawn: rt_sched_spawn_proc in one VM (runtime_switch); sys.spawn
#       + sys.collect from Ruby in a node (fibril_spawn.rb, POSTed to a
#       fresh node, timed with Time.now inside the fibril); Erlang's spawn
#       and spawn + one message round trip (spawn_erlang.erl). Aim: a
#       spawn under 5 us.
#   4c. over HTTP vs bare_mhd: POST /fibrils by fingerprint (wrk, and
#       http_seq, the sequential client), a channel round trip (POST a message, GET it
#       back) with http_seq (sequential keep-alive connections, each with
#       its own channel). Each M31 run of POST /fibrils gets a fresh node
#       and then waits (DRAIN_S at most) for every fibril it made to end:
#       a 201 only means the fibril was queued.
#
# Every part can be skipped (BENCH_SKIP_SWITCH, _SPAWN, _ERLANG,
# _FIBRILS_HTTP, _CHANNELS) and runs under a timeout.
#
# BAD (errors per row, summed by run.sh's finish) is run.sh's associative
# array: shellcheck cannot see that from this file.
# shellcheck disable=SC2154

RT_SWITCH=$OUT/runtime_switch
HTTP_SEQ=$OUT/http_seq
SPAWN_N=${BENCH_SPAWN_N:-1000}
ERL_N=${BENCH_ERLANG_N:-100000}
ERL_CALLS=10000000
SEQ_CONNS=${BENCH_SEQ_CONNS:-4}
DRAIN_S=10 # seconds a node may take to finish the fibrils of one run

declare -A RTV       # measured values, by name
declare -A FIB_STALL  # POST /fibrils row -> "pending of made" of its stalled runs
declare -A FIB_NSTALL # POST /fibrils row -> how many of its runs stalled

# json_str NAME / json_num NAME: the first "NAME": string or number in
# stdin ("" when none). Enough for M31's flat answers.
json_str() { { grep -o "\"$1\":\"[^\"]*\"" || true; } | head -1 | sed 's/^[^:]*:"//; s/"$//'; }
json_num() { { grep -o "\"$1\":[-0-9.eE+]*" || true; } | head -1 | sed 's/^[^:]*://'; }

# fibril_counts URL -> "pending done failed" from /sys/metrics (pending:
# ready, running or waiting).
fibril_counts() {
  curl -s -m 5 "$1/sys/metrics" | awk '
    /^m31_fibrils\{state="(ready|running|waiting)"\}/ { p += $2 }
    /^m31_fibrils\{state="done"\}/ { d += $2 }
    /^m31_fibrils\{state="(failed|killed)"\}/ { f += $2 }
    END { print p + 0, d + 0, f + 0 }'
}

# drain URL T0 DONE0 -> "seconds pending done_since failed": waits until no
# fibril is pending (DRAIN_S at most); seconds since T0 (date +%s.%N).
drain() {
  local url=$1 t0=$2 done0=$3 p d f end
  end=$(($(date +%s) + DRAIN_S))
  while :; do
    read -r p d f <<<"$(fibril_counts "$url")"
    [ "$p" = 0 ] && break
    [ "$(date +%s)" -ge "$end" ] && break
    sleep 0.1
  done
  echo "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') $p $((d - done0)) $f"
}

register_code() { # URL FILE -> fingerprint
  curl -s -m 10 -X POST -H 'Content-Type: text/x-ruby' --data-binary @"$2" "$1/code" | json_str fingerprint
}

# seq_once URL [http_seq args...] -> "per_s median_us errors"
seq_once() {
  local url=$1 out
  shift
  out=$(timeout $((DUR + 20)) "$HTTP_SEQ" --url "$url" --duration "$DUR" "$@") || die "http_seq failed on $url: $out"
  echo "  http_seq $url $*: $out" >&2
  awk '{ print $4, $6, $10 }' <<<"$out"
}

median_of() { # NAME: the median of the space-separated list in RTV[NAME]
  # shellcheck disable=SC2086
  median ${RTV[$1]:-}
}

# ------------------------------------------------------------- 4a switch

switch_part() {
  local name med rest
  echo "fibrils: switch and spawn in one VM (runtime_switch)..." >&2
  [ -x "$RT_SWITCH" ] || die "$RT_SWITCH is missing: run make bench (it builds it)"
  while read -r name med rest; do
    RTV[sw_$name]=$med
    echo "  $name $med $rest" >&2
  done < <(timeout 600 "$RT_SWITCH" --runs "$RUNS" || die "runtime_switch failed")
  [ -n "${RTV[sw_turn]:-}" ] || die "runtime_switch printed nothing"
}

# ------------------------------------------------- 4b spawn in a node

spawn_once() { # URL FP N -> "spawn_us total_us"
  local url=$1 fp=$2 n=$3 id body="" state=""
  id=$(curl -s -m 10 -X POST -H 'Content-Type: application/json' \
    -d "{\"code\":\"$fp\",\"fn\":\"bench\",\"args\":[$n],\"budget\":{\"cpu_ms\":3600000}}" \
    "$url/fibrils" | json_str id)
  [ -n "$id" ] || die "POST /fibrils of the spawn bench failed"
  for _ in $(seq 1200); do # 2 minutes
    body=$(curl -s -m 10 "$url/fibrils/$id")
    state=$(json_str state <<<"$body")
    case $state in
    done) break ;;
    failed | killed) die "the spawn fibril $state: $(head -c 600 <<<"$body")" ;;
    esac
    sleep 0.1
  done
  [ "$state" = "done" ] || die "the spawn fibril did not end in 2 minutes"
  [ "$(json_str ok <<<"$body")" = success ] || echo "warning: sys.collect did not answer success" >&2
  echo "$(json_num spawn_us <<<"$body") $(json_num total_us <<<"$body")"
}

spawn_part() {
  local fp run n s t out
  echo "fibrils: sys.spawn in a node..." >&2
  mkdir -p "$TMP/spawn"
  start_m31 "$TMP/spawn" warn
  local pid=$PID url=http://127.0.0.1:$PORT
  fp=$(register_code "$url" "$HERE/fibril_spawn.rb")
  [ -n "$fp" ] || die "cannot register fibril_spawn.rb"
  out=$(spawn_once "$url" "$fp" 100) # warm-up
  for run in $(seq "$RUNS"); do
    for n in "$SPAWN_N" $((SPAWN_N * 4)); do
      out=$(spawn_once "$url" "$fp" "$n")
      read -r s t <<<"$out"
      echo "  run $run  sys.spawn x $n: spawn $s us, spawn + collect $t us per child" >&2
      RTV[sp_spawn_$n]+=" $s"
      RTV[sp_total_$n]+=" $t"
    done
  done
  stop_pid "$pid"
}

erlang_part() {
  local name med rest out
  if ! command -v erl >/dev/null || [ ! -f "$OUT/spawn_erlang.beam" ]; then
    echo "warning: erl or $OUT/spawn_erlang.beam missing (make deps; make bench builds it): no Erlang rows" >&2
    return 0
  fi
  echo "fibrils: Erlang spawn ($ERL_N processes)..." >&2
  out=$(timeout 600 erl -noshell -pa "$OUT" -run spawn_erlang main "$ERL_N" "$ERL_CALLS" "$RUNS") ||
    die "spawn_erlang failed: $out"
  while read -r name med rest; do
    RTV[erl_$name]=$med
    echo "  erlang $name $med $rest" >&2
  done <<<"$out"
  RTV[erl_version]=$(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().' 2>/dev/null || echo '?')
}

# ----------------------------------------------------- 4c over HTTP

channels_part() {
  local run r ch send recv
  echo "fibrils: channel round trips over HTTP..." >&2
  mkdir -p "$TMP/chan"
  start_m31 "$TMP/chan" warn
  local pid=$PID url=http://127.0.0.1:$PORT
  # The bytes of a channel GET answering a message, for bare_mhd.
  ch=$(curl -s -m 5 -X POST -H 'Content-Type: application/json' -d '{"type":"Any"}' "$url/channels")
  send=$(json_str send <<<"$ch") recv=$(json_str recv <<<"$ch")
  if [ -z "$send" ] || [ -z "$recv" ]; then die "cannot make a channel: $ch"; fi
  curl -s -m 5 -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"n":1}' "$url$send"
  curl -s -m 5 -D "$TMP/chan.headers" -o "$TMP/chan.body" "$url$recv"
  start_logged bare_mhd "$TMP/bare-chan.log" "$OUT/bare_mhd" --headers "$TMP/chan.headers" --body "$TMP/chan.body" --port 0
  local bpid=$PID burl=http://127.0.0.1:$PORT
  for run in $(seq "$RUNS"); do
    r=$(seq_once "$url" --conns "$SEQ_CONNS" --chan 'POST {send} {"n":1}' 'GET {recv}')
    RTV[ch_m31_rps]+=" ${r%% *}"
    RTV[ch_m31_lat]+=" $(awk '{print $2}' <<<"$r")"
    BAD[ch_m31]=$((${BAD[ch_m31]:-0} + ${r##* }))
    r=$(seq_once "$burl" --conns "$SEQ_CONNS" 'POST /channels/x {"n":1}' 'GET /channels/y')
    RTV[ch_bare_rps]+=" ${r%% *}"
    RTV[ch_bare_lat]+=" $(awk '{print $2}' <<<"$r")"
    BAD[ch_bare]=$((${BAD[ch_bare]:-0} + ${r##* }))
  done
  stop_pid "$bpid"
  stop_pid "$pid"
}

# Starts a fresh node for one phase of the POST /fibrils rows and
# registers fibril_noop.rb: sets FIB_PID, FIB_URL, FIB_FP and FIB_BODY.
fib_node_start() {
  mkdir -p "$TMP/$1"
  start_m31 "$TMP/$1" warn
  FIB_PID=$PID FIB_URL=http://127.0.0.1:$PORT
  FIB_FP=$(register_code "$FIB_URL" "$HERE/fibril_noop.rb")
  [ -n "$FIB_FP" ] || die "cannot register fibril_noop.rb"
  FIB_BODY="{\"code\":\"$FIB_FP\",\"fn\":\"f\"}"
  if [ ! -f "$TMP/fib.headers" ]; then # M31's answer, for bare_mhd
    curl -s -m 5 -D "$TMP/fib.headers" -o "$TMP/fib.body" -X POST \
      -H 'Content-Type: application/json' -d "$FIB_BODY" "$FIB_URL/fibrils"
  fi
}

# Stops the phase's node: SIGKILL when it stalled (SIGTERM would not stop
# it: the nucleus thread it joins is blocked).
fib_node_stop() { # STALLED
  if [ "$1" = 1 ]; then
    kill -KILL "$FIB_PID" 2>/dev/null || true
    wait "$FIB_PID" 2>/dev/null || true
  else
    stop_pid "$FIB_PID"
  fi
}

# After a phase's load began at T0 with D0 fibrils done: waits for its
# fibrils, appends done/s to RTV[KEY_done] and any stall to
# FIB_STALL[KEY]; sets STALLED.
fib_drain() { # KEY T0 D0 LABEL
  local secs pend ndone fail
  read -r secs pend ndone fail <<<"$(drain "$FIB_URL" "$2" "$3")"
  echo "  $4: $ndone fibrils done in $secs s (load and drain), $pend never ran, $fail failed" >&2
  BAD[$1]=$((${BAD[$1]:-0} + fail))
  STALLED=0
  if [ "$pend" != 0 ]; then
    STALLED=1
    FIB_STALL[$1]+="${FIB_STALL[$1]:+, }$pend of $((pend + ndone))"
    FIB_NSTALL[$1]=$((${FIB_NSTALL[$1]:-0} + 1))
  else
    RTV[$1_done]+=" $(awk -v n="$ndone" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
  fi
}

# One M31 run of the POST /fibrils rows: the sequential client
# (SEQ_CONNS connections), then wrk, each on a fresh node.
fibrils_m31_run() {
  local run=$1 t0 d0 r rps p99 bad err
  fib_node_start "fib-seq$run"
  read -r _ d0 _ <<<"$(fibril_counts "$FIB_URL")"
  t0=$(date +%s.%N)
  r=$(seq_once "$FIB_URL" --conns "$SEQ_CONNS" "POST /fibrils $FIB_BODY")
  RTV[fs_m31_rps]+=" ${r%% *}"
  RTV[fs_m31_lat]+=" $(awk '{print $2}' <<<"$r")"
  BAD[fs_m31]=$((${BAD[fs_m31]:-0} + ${r##* }))
  fib_drain fs_m31 "$t0" "$d0" "run $run  sequential"
  fib_node_stop "$STALLED"

  fib_node_start "fib-wrk$run"
  read -r _ d0 _ <<<"$(fibril_counts "$FIB_URL")"
  t0=$(date +%s.%N)
  r=$(wrk_once "$FIB_URL" -s "$HERE/m31_fibril.lua" -- "$FIB_FP" f)
  read -r rps p99 bad err <<<"$r"
  echo "  run $run  wrk: $rps req/s, p99 $p99 ms" >&2
  RTV[fw_m31_rps]+=" $rps"
  RTV[fw_m31_p99]+=" $p99"
  BAD[fw_m31]=$((${BAD[fw_m31]:-0} + bad + err))
  fib_drain fw_m31 "$t0" "$d0" "run $run  wrk"
  fib_node_stop "$STALLED"
}

fibrils_http_part() {
  local run r rps p99 bad err bpid burl
  echo "fibrils: POST /fibrils over HTTP..." >&2
  FIB_STALL=() FIB_NSTALL=()
  for run in $(seq "$RUNS"); do
    fibrils_m31_run "$run"
    if [ "$run" = 1 ]; then
      start_logged bare_mhd "$TMP/bare-fib.log" "$OUT/bare_mhd" --headers "$TMP/fib.headers" --body "$TMP/fib.body" --port 0
      bpid=$PID burl=http://127.0.0.1:$PORT
      DUR=1 wrk_once "$burl" -s "$HERE/m31_fibril.lua" -- "$FIB_FP" f >/dev/null
    fi
    r=$(seq_once "$burl" --conns "$SEQ_CONNS" "POST /fibrils $FIB_BODY")
    RTV[fs_bare_rps]+=" ${r%% *}"
    RTV[fs_bare_lat]+=" $(awk '{print $2}' <<<"$r")"
    BAD[fs_bare]=$((${BAD[fs_bare]:-0} + ${r##* }))
    r=$(wrk_once "$burl" -s "$HERE/m31_fibril.lua" -- "$FIB_FP" f)
    read -r rps p99 bad err <<<"$r"
    echo "  run $run  bare wrk: $rps req/s, p99 $p99 ms" >&2
    RTV[fw_bare_rps]+=" $rps"
    RTV[fw_bare_p99]+=" $p99"
    BAD[fw_bare]=$((${BAD[fw_bare]:-0} + bad + err))
  done
  stop_pid "$bpid"
}

# ---------------------------------------------------------------- output

# done_cell KEY: the median done/s of the runs of row KEY whose fibrils
# all ended, and the runs where the node stalled.
done_cell() {
  local m
  m=$(median_of "$1_done")
  if [ -n "${FIB_STALL[$1]:-}" ]; then
    echo "${m:+$m; }**stalled** in ${FIB_NSTALL[$1]} of $RUNS runs (never ran: ${FIB_STALL[$1]})"
  else
    echo "$m"
  fi
}

us() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.2f us", v }'; }
ns() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.1f ns", v }'; }
x_of() { # A B -> A / B (n/a when either is missing)
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b <= 0) print "n/a"; else printf "%.2f", a / b }'
}
under() { awk -v v="$1" -v t="$2" 'BEGIN { if (v !~ /^[0-9.]+$/) print "n/a"; else print (v + 0 <= t) ? "yes" : "**no**" }'; }

print_switch() {
  local c=${RTV[sw_call]}
  echo "### 4a. Fibril switch vs an mruby method call (one VM, runtime_switch.c; ns per operation, median of $RUNS rounds)"
  echo
  echo "| operation | time | / method call | aim | met |"
  echo "|---|---:|---:|---:|---|"
  echo "| mruby method call: a Ruby \`while\` loop calling an empty method (rt_vm_eval, timed with Time.now) | $(ns "$c") | 1 | | |"
  echo "| (context) the same loop without the call | $(ns "${RTV[sw_loop]}") | $(x_of "${RTV[sw_loop]}" "$c") | | |"
  echo "| (context) Fiber#resume + Fiber.yield, both in Ruby | $(ns "${RTV[sw_rfiber]}") | $(x_of "${RTV[sw_rfiber]}" "$c") | | |"
  echo "| fibril switch, raw: rt_fiber_step (one resume from C + one \`Fiber.yield\`) | $(ns "${RTV[sw_step]}") | $(x_of "${RTV[sw_step]}" "$c") | <= 4 | $(under "$(x_of "${RTV[sw_step]}" "$c")" 4) |"
  echo "| fibril switch through the scheduler: one turn of a fibril looping on \`M31.call(\"noop\")\`, the host answering at once (rt_sched_answer) | $(ns "${RTV[sw_turn]}") | $(x_of "${RTV[sw_turn]}" "$c") | <= 4 | $(under "$(x_of "${RTV[sw_turn]}" "$c")" 4) |"
  echo "| (context) rt_cpu_ns(), the process CPU clock (a system call), read twice per turn: $(awk -v k="${RTV[sw_cpuclock]}" -v t="${RTV[sw_turn]}" 'BEGIN { printf "%.0f", 200 * k / t }') % of the turn | $(ns "${RTV[sw_cpuclock]}") | $(x_of "${RTV[sw_cpuclock]}" "$c") | | |"
  echo
}

print_spawn() {
  local es=${RTV[erl_spawn]:-} ert=${RTV[erl_spawn_rt]:-} n4=$((SPAWN_N * 4)) v
  echo "### 4b. Spawn (aim: under 5 us per spawn)"
  echo
  echo "| operation | per child | / Erlang | under 5 us |"
  echo "|---|---:|---:|---|"
  if ! skip BENCH_SKIP_SWITCH; then
    for b in 100 1000; do
      v=$(awk -v n="${RTV[sw_spawn_$b]}" 'BEGIN { print n / 1000 }')
      echo "| rt_sched_spawn_proc of a compiled proc, in one VM ($b fibrils held at once) | $(us "$v") | $(x_of "$v" "$es") (spawn) | $(under "$v" 5) |"
      v=$(awk -v n="${RTV[sw_life_$b]}" 'BEGIN { print n / 1000 }')
      echo "| the same + its one turn + rt_sched_reap ($b at once) | $(us "$v") | $(x_of "$v" "$ert") (spawn + round trip) | |"
    done
  fi
  if ! skip BENCH_SKIP_SPAWN; then
    for n in "$SPAWN_N" "$n4"; do
      v=$(median_of "sp_spawn_$n")
      echo "| \`sys.spawn(:noop, [])\` from Ruby in a node, $n in a row (Time.now in the fibril) | $(us "$v") | $(x_of "$v" "$es") (spawn) | $(under "$v" 5) |"
      v=$(median_of "sp_total_$n")
      echo "| \`sys.spawn\` + \`sys.collect\` of $n children | $(us "$v") | $(x_of "$v" "$ert") (spawn + round trip) | |"
    done
  fi
  if [ -n "$es" ]; then
    echo "| Erlang/OTP ${RTV[erl_version]} \`spawn\`, $ERL_N processes | $(us "$es") | 1 | $(under "$es" 5) |"
    echo "| Erlang \`spawn\` + one message round trip with each | $(us "$ert") | 1 | |"
    if ! skip BENCH_SKIP_SWITCH; then
      echo "| (context) Erlang local function call vs mruby method call (loops included) | $(ns "${RTV[erl_call]}") vs $(ns "${RTV[sw_call]}") | $(x_of "${RTV[sw_call]}" "${RTV[erl_call]}") (M31 / Erlang) | |"
    fi
  fi
  echo
}

print_http() {
  local m b
  echo "### 4c. Fibrils and channels over HTTP vs a bare libmicrohttpd reply (bare_mhd answering M31's captured bytes)"
  echo
  echo "Nodes at \`--log-level warn\`. A 201 to POST /fibrils means the fibril was queued: \"done/s\" is the fibrils a run made that ended, over the time from its first request until the last of them ended."
  echo
  echo "| request | M31 | bare_mhd | M31 / bare |"
  echo "|---|---:|---:|---:|"
  if ! skip BENCH_SKIP_FIBRILS_HTTP; then
    m=$(median_of fw_m31_rps) b=$(median_of fw_bare_rps)
    echo "| \`POST /fibrils\` by fingerprint, wrk $CONNS connections: requests/s (p99 ms) | $m ($(median_of fw_m31_p99)) | $b ($(median_of fw_bare_p99)) | $(x_of "$m" "$b") |"
    echo "| the same: fibrils done/s | $(done_cell fw_m31) | | |"
    m=$(median_of fs_m31_lat) b=$(median_of fs_bare_lat)
    echo "| \`POST /fibrils\` by fingerprint, $SEQ_CONNS sequential connections: median latency us | $m | $b | $(x_of "$m" "$b") |"
    m=$(median_of fs_m31_rps) b=$(median_of fs_bare_rps)
    echo "| the same: requests/s | $m | $b | $(x_of "$m" "$b") |"
    echo "| the same: fibrils done/s | $(done_cell fs_m31) | | |"
  fi
  if ! skip BENCH_SKIP_CHANNELS; then
    m=$(median_of ch_m31_rps) b=$(median_of ch_bare_rps)
    echo "| channel round trip (\`POST\` a message + \`GET\` it back), $SEQ_CONNS sequential connections, each its own async channel: round trips/s | $m | $b | $(x_of "$m" "$b") |"
    m=$(median_of ch_m31_lat) b=$(median_of ch_bare_lat)
    echo "| the same: median round-trip latency us | $m | $b | $(x_of "$m" "$b") |"
  fi
  echo
  if [ -n "${FIB_STALL[fs_m31]:-}${FIB_STALL[fw_m31]:-}" ]; then
    echo "**The node stalled: fibrils it had answered 201 for never ran** (within ${DRAIN_S} s of the load's end; the nucleus thread and the workers block writing frames to each other, and SIGTERM no longer stops the node). Where it stalled, requests/s counts fibrils queued, not run."
    echo
  fi
}

runtime_section() {
  if ! skip BENCH_SKIP_SWITCH; then switch_part; fi
  if ! skip BENCH_SKIP_SPAWN; then spawn_part; fi
  if ! skip BENCH_SKIP_ERLANG; then erlang_part; fi
  if ! skip BENCH_SKIP_CHANNELS; then
    [ -x "$HTTP_SEQ" ] || die "$HTTP_SEQ is missing: run make bench (it builds it)"
    channels_part
  fi
  if ! skip BENCH_SKIP_FIBRILS_HTTP; then
    [ -x "$HTTP_SEQ" ] || die "$HTTP_SEQ is missing: run make bench (it builds it)"
    fibrils_http_part
  fi
  if ! skip BENCH_SKIP_SWITCH; then print_switch; fi
  if ! skip BENCH_SKIP_SWITCH || ! skip BENCH_SKIP_SPAWN || [ -n "${RTV[erl_spawn]:-}" ]; then print_spawn; fi
  if ! skip BENCH_SKIP_FIBRILS_HTTP || ! skip BENCH_SKIP_CHANNELS; then print_http; fi
}
