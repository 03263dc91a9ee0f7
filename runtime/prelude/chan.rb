# sys and channels: spawning fibrils and talking to them (loaded after
# fs.rb).
#
# A channel is a one-way typed FIFO kept by the node (runtime/channel.c);
# a fibril holds endpoints (M31::Endpoint), each one end of one channel,
# named by its id. Every operation is a system call; a blocking one (send
# on a full channel, recv on an empty one) makes the fibril wait in the
# node, costing no thread and no CPU. Endpoints can be sent through
# channels and appear over HTTP as {"$endpoint": "<id>"}.
module M31
  # The channel (or endpoint) is closed: a send cannot be delivered, or a
  # recv found nothing queued and no sender left.
  class ChannelClosed < StandardError; end

  # A channel call was refused: no such endpoint, the wrong end, or a
  # value that does not fit the channel's type. +code+ says which.
  class ChannelError < Error; end

  WAIT = 30 # seconds one system call waits in the node; longer waits loop

  # Runs channel call +op+ and returns its answer (a Hash), raising what
  # the node reported.
  def self.chan_call(op, *args)
    r = M31.call(op, *args)
    if (e = r["error"])
      raise ChannelClosed, e["message"] if e["code"] == "closed"
      ChannelError.raise_from(e)
    end
    r
  end

  # One end of a channel.
  class Endpoint
    attr_reader :id, :fibril

    # +fibril+: the id of the fibril at the other side, when known (the
    # ends sys.spawn gives).
    def initialize(id, fibril = nil)
      raise TypeError, "an endpoint id is a String" unless id.is_a?(String) || id.is_a?(Symbol)
      @id = id.to_s
      @fibril = fibril
    end

    # Sends +value+, waiting while the channel is full (or, sync, until a
    # receiver takes it). Applies this fibril's combined fs increments
    # first. Returns self.
    def send(value)
      M31.flush
      loop { return self unless M31.chan_call("chan.send", @id, value, WAIT)["timeout"] }
    end
    alias << send

    # The next message, waiting for one; raises ChannelClosed once the
    # channel is closed and drained.
    def recv
      loop do
        r = M31.chan_call("chan.recv", @id, WAIT)
        return r["value"] if r.key?("value")
      end
    end

    # The next message if one is queued now, else +none+.
    def try_recv(none = nil)
      r = M31.chan_call("chan.recv", @id, 0)
      r.key?("value") ? r["value"] : none
    end

    # true when +value+ was taken or queued at once.
    def try_send(value)
      M31.flush
      !M31.chan_call("chan.send", @id, value, 0)["timeout"]
    end

    # Another endpoint of the same kind on the same channel.
    def clone
      Endpoint.new(M31.chan_call("chan.clone", @id)["id"], @fibril)
    end
    alias dup clone

    # Closes this end (see runtime/channel.h for what the other side sees).
    def close
      M31.chan_call("chan.close", @id)
      nil
    end

    # The channel's description: type, mode, capacity, queued, ...
    def info
      M31.chan_call("chan.info", @id)["info"]
    end

    def uri
      "/channels/#{@id}"
    end

    def ==(other)
      other.is_a?(Endpoint) && other.id == @id
    end

    def inspect
      "#<M31::Endpoint #{@id}>"
    end
    alias to_s inspect
  end

  # A send end and a receive end: what sys.spawn and sys.channel answer,
  # and PARENT. An Array, so `s, r = sys.spawn(...)` takes it apart.
  class Pair < Array
    def self.of(tx, rx)
      pair = new
      pair.push(tx, rx)
    end

    def tx
      self[0]
    end

    def rx
      self[1]
    end

    # The fibril at the other side (sys.spawn's child), or nil.
    def fibril
      rx.fibril
    end

    def send(value)
      tx.send(value)
    end

    def recv
      rx.recv
    end

    def try_recv(none = nil)
      rx.try_recv(none)
    end

    def try_send(value)
      tx.try_send(value)
    end
  end

  module Sys
    SUCCESS = "success"
    FAILURE = "failure"

    # The paper spells them sys.SUCCESS and sys.FAILURE.
    def self.SUCCESS
      SUCCESS
    end

    def self.FAILURE
      FAILURE
    end

    # This fibril's id.
    def self.id
      M31.ctx["id"]
    end

    # Spawns a fibril running this fibril's code, then the top-level
    # method +fn+ with +args+; it sees the other ends as PARENT. Returns
    # the Pair [send to the child, receive from it]. budget: {cpu_ms:,
    # memory_bytes:} as POST /fibrils takes; by default the parent's.
    # code: the fingerprint of registered code to run instead (a REPL
    # session's children otherwise run in the session's VM).
    def self.spawn(fn, args = [], budget: nil, code: nil)
      M31.flush
      unless budget.nil? || budget.is_a?(Hash)
        raise ArgumentError, "budget is a Hash: {cpu_ms:, memory_bytes:}"
      end
      b = {}
      (budget || {}).each { |k, v| b[k.to_s] = v }
      r = M31.chan_call("sys.spawn", fn.to_s, args, b, code && code.to_s)
      Pair.of(Endpoint.new(r["send"], r["fibril"]),
              Endpoint.new(r["recv"], r["fibril"]))
    end

    # A new channel: type (Int, String, ..., Any or a schema Hash), mode
    # :sync or :async, capacity (async). The Pair [send end, receive end].
    def self.channel(type: Any, mode: :async, capacity: nil)
      t = type.is_a?(Hash) ? type.map { |k, v| [k.to_s, M31.type_name(v)] }.to_h
                           : M31.type_name(type)
      cap = capacity || (mode.to_s == "sync" ? 0 : 16)
      r = M31.chan_call("chan.new", t, mode.to_s, cap)
      Pair.of(Endpoint.new(r["send"]), Endpoint.new(r["recv"]))
    end

    # Runs registered code (POST /code) by its fingerprint at the top
    # level, so what it defines is this fibril's (or REPL session's) own.
    def self.load(fingerprint)
      src = M31.chan_call("sys.code", fingerprint.to_s)["source"]
      M31::TOPLEVEL.__send__(:__m31_load, src, fingerprint.to_s)
    end

    # "ready", "running", "waiting", "done", "failed" or "killed".
    def self.state(fibril)
      M31.chan_call("sys.state", fibril.to_s)["state"]
    end

    # Waits for every child (Pairs from sys.spawn): a child succeeds when
    # it sends SUCCESS, fails when it sends FAILURE, and otherwise is
    # judged by how it ended once its channel closes (done: success).
    # Other messages are read and dropped. SUCCESS when all succeeded.
    def self.collect(children)
      M31.flush
      ok = true
      children.each { |c| ok = false unless collect_one(c) }
      ok ? SUCCESS : FAILURE
    end

    def self.collect_one(child)
      raise TypeError, "sys.collect takes what sys.spawn answers" unless child.is_a?(Pair)
      loop do
        v = child.recv
        return true if v == SUCCESS
        return false if v == FAILURE
      end
    rescue ChannelClosed
      child.fibril && state(child.fibril) == "done"
    end
  end
end

class Object
  # PARENT is per fibril: the Pair [send to the parent, receive from it].
  # The parent is the fibril that spawned it, or, for a fibril made by
  # POST /fibrils, whoever holds the two channel URIs that answer gave.
  def self.const_missing(name)
    return super unless name == :PARENT
    ctx = M31.ctx
    raise NameError, "PARENT exists only inside a fibril" unless ctx
    ctx["PARENT"] ||= begin
      pe = ctx["parent"]
      pe && M31::Pair.of(M31::Endpoint.new(pe["send"]), M31::Endpoint.new(pe["recv"]))
    end
  end
end

# Evaluates src at the top level (sys.load): a top-level method, so that
# what src defines lands where a fibril's own top-level code would.
def __m31_load(__src, __path)
  eval(__src, nil, __path, 1)
end

module Kernel
  # The runtime, as the paper names it: sys.spawn, sys.collect, ...
  def sys
    M31::Sys
  end
end
