# examples/wordfreq/wordfreq.rb with clocks, for the benchmark
# (tests/bench/wordfreq.sh): the same crawl and the same writes, plus
# Time.now around each phase of a book. A fibril sends its sums up with its
# status, [status, timings], so sys.collect cannot read them: collect_timed
# below waits for the children as sys.collect does and adds their sums to
# its own. start answers {"pi" => fs.search(...), "timings" => sums}.
#
# The sums are of wall time inside each fibril, added over all fibrils:
# fibrils overlap on the workers, so the sums can exceed the run's time.
# unzip, split and store are work in the VM (CPU, plus any wait for a
# core); fetch and flush are waits for the node (libcurl, the store).

def zero_timings
  {"fetch" => 0.0, "unzip" => 0.0, "split" => 0.0, "store" => 0.0,
   "flush" => 0.0, "books" => 0, "pages" => 0, "words" => 0}
end

# Adds the seconds the block took to t[phase]; the block's value.
def timed(t, phase)
  t0 = Time.now
  v = yield
  t[phase] += Time.now - t0
  v
end

def main(url)
  t = zero_timings
  res = timed(t, "fetch") { http.req(url) }
  case res.content_type
  when "application/zip"
    book = timed(t, "unzip") { jam.unzip(res.content) }
    book.each_value do |text|
      words = timed(t, "split") { jam.words(text) }
      timed(t, "store") { words.each { |w| fs.invoke(:words, {word: w, freq: Int.incr}) } }
      t["words"] += words.size
    end
    # Send would apply the increments too; flush first to time it alone.
    timed(t, "flush") { fs.flush }
    t["books"] += 1
    PARENT.send([sys.SUCCESS, t])
  when "text/html"
    cs = []
    res.urls.each { |u| cs << sys.spawn(:main, [u]) }
    t["pages"] += 1
    PARENT.send(collect_timed(cs, t))
  else
    PARENT.send([sys.FAILURE, t])
  end
end

# sys.collect for children that send [status, timings]: SUCCESS when all
# did; a child whose channel closed without a word (it raised) fails.
def collect_timed(children, t)
  ok = true
  children.each do |c|
    status, sub = begin
      c.recv
    rescue M31::ChannelClosed
      [sys.FAILURE, {}]
    end
    ok = false unless status == sys.SUCCESS
    sub.each { |k, v| t[k] += v }
  end
  [ok ? sys.SUCCESS : sys.FAILURE, t]
end

def start(seed)
  fs.add_space(:words, key: "word", attrs: {freq: Int},
                       opts: {partitions: 8, failures: 2, versioning: false})
  _s, r = sys.spawn(:main, [seed])
  status, t = begin
    r.recv
  rescue M31::ChannelClosed
    [sys.FAILURE, zero_timings]
  end
  case status
  when sys.SUCCESS then {"pi" => fs.search(:words, {word: "pi"}), "timings" => t}
  else {"pi" => ["Impossible", -1], "timings" => t}
  end
end
