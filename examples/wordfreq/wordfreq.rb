# Word frequencies over a web of books: Figure 2 of the Andromeda paper
# ("Back to Frequencies"), in M31's Ruby. POST it to /fibrils with
# fn "start" and args [the URL of an index page]; run.sh does that.
#
# main(url) is the whole crawler: one fibril per URL. A page fans out into
# a child per link and reports once every child has; a book counts its
# words. Whether a URL is a page or a book is decided by what the server
# says it is (the Content-Type), not by its name.
def main(url)
  res = http.req(url)
  case res.content_type
  when "application/zip"
    book = jam.unzip(res.content) # {entry name => text}: a book may be volumes
    book.each_value do |text|
      # Each increment is atomic on its record, so any number of fibrils
      # can count into :words at once. The runtime combines this fibril's
      # increments and applies them before PARENT.send below.
      jam.words(text).each { |w| fs.invoke(:words, {word: w, freq: Int.incr}) }
    end
    PARENT.send(sys.SUCCESS)
  when "text/html"
    cs = []
    res.urls.each { |u| cs << sys.spawn(:main, [u]) }
    # One answer for the whole subtree: the parent waits on one channel,
    # not on every book below it.
    PARENT.send(sys.collect(cs))
  else
    PARENT.send(sys.FAILURE)
  end
end

# The root: makes the space, crawls from seed, and asks for "pi" only once
# the whole tree has reported success. A main that raised sends nothing:
# its channel just closes, which is a failure too.
def start(seed)
  fs.add_space(:words, key: "word", attrs: {freq: Int},
                       opts: {partitions: 8, failures: 2, versioning: false})
  _s, r = sys.spawn(:main, [seed])
  status = begin
    r.recv
  rescue M31::ChannelClosed
    sys.FAILURE
  end
  case status
  when sys.SUCCESS then fs.search(:words, {word: "pi"})
  else ["Impossible", -1]
  end
end
