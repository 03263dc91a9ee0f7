# The system-call layer of a fibril (loaded into every VM by runtime/vm.c).
#
# A fibril is a Fiber run by the C scheduler (runtime/sched.c). Each call
# into the node is a Fiber.yield([op, args]) back to that scheduler, which
# hands it to the host and resumes the fiber with [true, value] or
# [false, exception]. A fiber cannot yield across a C frame, so every
# blocking call is a plain Ruby method like these.
module M31
  # A call into the node failed: +field+ names what was at fault ("" when
  # nothing in particular), +code+ the kind; StoreError, ChannelError and
  # HTTPError are these.
  class Error < StandardError
    attr_reader :field, :code

    def initialize(message = "error", field = "", code = "")
      super(message)
      @field = field
      @code = code
    end

    # Raises the error of a node's answer {"error" => {"message", "field",
    # "code"}} as this class.
    def self.raise_from(e)
      raise new(e["message"], e["field"], e["code"])
    end
  end
end
M31::TOPLEVEL = self # main, the receiver of a fibril's top-level calls

module M31
  # Makes system call +op+ (a String) with +args+ (JSON-convertible) and
  # returns its answer, or raises the error the host reported.
  def self.call(op, *args)
    ok, value = Fiber.yield([op, args])
    raise value unless ok
    value
  end

  # The context of the fibril in its turn (a Hash the scheduler sets:
  # "id", "parent", and what the prelude keeps per fibril); nil outside.
  def self.ctx
    @ctx
  end

  # Applies what this fibril has put off (combined fs increments; see
  # fs.rb). Runs before each channel message, spawn and fs call, and at
  # the end of the fibril.
  def self.flush
    FS.flush if @ctx && @ctx[:incr]
    nil
  end

  # The fiber of a fibril: runs +body+ (the compiled code), then, when
  # +fn+ is given, the top-level method +fn+ with +args+. Put-off writes
  # are applied before it ends, even when it raises.
  def self.fibril(body, fn, args)
    Fiber.new do
      begin
        value = body.call
        value = TOPLEVEL.__send__(fn, *args) if fn
      rescue Exception => e
        begin
          M31.flush
        rescue StandardError
          nil # the first error is the one to report
        end
        raise e
      end
      M31.flush
      value
    end
  end
end

module Kernel
  # Output is a system call: the node collects it (there is no $stdout).
  def print(*args)
    M31.call("print", args.join)
    nil
  end

  def puts(*args)
    lines = args.empty? ? [""] : args.flatten.map(&:to_s)
    M31.call("print", lines.map { |l| l.end_with?("\n") ? l : l + "\n" }.join)
    nil
  end

  def p(*args)
    M31.call("print", args.map(&:inspect).join("\n") + "\n") unless args.empty?
    args.size <= 1 ? args.first : args
  end
end
