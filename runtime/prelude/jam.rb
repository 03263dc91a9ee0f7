# jam: text and archives inside a fibril (loaded after fs.rb).
#
# The methods are C (runtime/jam.c) and run in the worker: no system call,
# nothing leaves the VM. Every String they make counts in the fibril's
# memory budget.
#
#   files = jam.unzip(res.content)  # {"book.txt" => "...", ...}
#   jam.words("It's 42 pi!")        # ["it", "s", "pi"]
#   jam.count("a b A")              # {"a" => 2, "b" => 1}
#
# Words are what `tr -cs A-Za-z '\n' | tr A-Z a-z` makes: maximal runs of
# ASCII letters, lower-cased; any other byte separates.
module M31
  module Jam
    # Raised by unzip: not a zip archive, corrupt, encrypted, an unsupported
    # compression method, or more bytes than the fibril's memory has left.
    # (The class itself is defined in C so C can raise it; reopened here.)
    class Error < StandardError; end
  end
end

module Kernel
  # The jam module: jam.unzip, jam.words, jam.count.
  def jam
    M31::Jam
  end
end
