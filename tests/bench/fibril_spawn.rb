# fibril_spawn.rb — the fibril of the local-spawn row of `make bench`
# (tests/bench/run.sh registers it with POST /code and runs bench(n) with
# POST /fibrils). It times, with Time.now inside the fibril, n sys.spawn
# of a child that returns at once, then sys.collect of them all.

def noop; end

def bench(n)
  t0 = Time.now
  kids = n.times.map { sys.spawn(:noop, []) }
  t1 = Time.now
  ok = sys.collect(kids)
  t2 = Time.now
  { "n" => n, "ok" => ok, "spawn_us" => (t1 - t0) * 1e6 / n,
    "total_us" => (t2 - t0) * 1e6 / n }
end
