# fs: the store from inside a fibril (loaded after sys.rb).
#
# Each method is one system call ("fs.<name>") run by the node with the
# store API; a write is durable before the call returns. The node answers
# {"ok" => value} or {"error" => {...}}; an error raises M31::StoreError.
module M31
  # A store call failed: +field+ names the offending field ("attrs.freq"),
  # +code+ the kind ("invalid", "not_found", "bad_request", "conflict", ...).
  class StoreError < Error; end

  # Attribute types for fs.add_space and channels. Float and String are
  # Ruby's own classes; Int.incr(n) is the atomic increment of fs.invoke.
  module Int
    INCR1 = { "$incr" => 1 }.freeze # the common case, made once

    def self.incr(n = 1)
      n == 1 ? INCR1 : { "$incr" => n }
    end
  end
  module Bool; end
  module Bytes; end
  module List; end
  module Map; end
  module Any; end

  TYPE_NAMES = {
    Int => "Int", Integer => "Int", Float => "Float", String => "String",
    Bool => "Bool", TrueClass => "Bool", FalseClass => "Bool",
    Bytes => "Bytes", List => "List", Array => "List", Map => "Map",
    Hash => "Map", Any => "Any"
  }

  # The type name of +t+: a constant above, or a String/Symbol as is.
  def self.type_name(t)
    return t.to_s if t.is_a?(String) || t.is_a?(Symbol)
    TYPE_NAMES[t] || raise(TypeError, "#{t.inspect} is not an attribute type")
  end

  module FS
    def self.call(name, *args)
      M31.flush
      r = M31.call("fs." + name, *args)
      if (e = r["error"])
        M31::StoreError.raise_from(e)
      end
      r["ok"]
    end

    # fs.add_space(name, key: "word", attrs: {freq: Int}, opts: {...}):
    # the space's schema (a Hash). Same schema again is fine.
    def self.add_space(name, spec = {})
      spec = spec.dup
      attrs = spec[:attrs] || spec["attrs"]
      if attrs
        spec.delete(:attrs)
        named = {}
        attrs.each { |k, t| named[k.to_s] = M31.type_name(t) }
        spec["attrs"] = named
      end
      call("add_space", name.to_s, spec)
    end

    # Replaces object +key+; the object as stored (a Hash).
    def self.put(space, key, attrs: {}, labels: {})
      call("put", space.to_s, key.to_s, { "attrs" => attrs, "labels" => labels })
    end

    # The object (a Hash with "key", "attrs", "labels", "version", ...;
    # see Stored for its readers) or nil.
    def self.get(space, key)
      Stored.wrap(space, call("get", space.to_s, key.to_s))
    end

    # The versions of an object, oldest first (versioned spaces; [] when
    # the space keeps none): Hashes as GET .../versions lists them.
    def self.versions(space, key, branch: nil)
      call("versions", space.to_s, key.to_s, branch && branch.to_s)
    end

    # The branches of an object: [{"name", "version", ...}].
    def self.branches(space, key)
      call("branches", space.to_s, key.to_s)
    end

    # What fs.get and fs.search answer: the stored object as a Hash, with
    # readers for the REPL and for programs that like them.
    module Stored
      def self.wrap(space, obj)
        return obj unless obj.is_a?(Hash)
        obj.instance_variable_set(:@space, space.to_s)
        obj.extend(Stored)
      end

      def space
        @space
      end

      def key
        self["key"]
      end

      def attrs
        self["attrs"]
      end

      def labels
        self["labels"]
      end

      def version
        self["version"]
      end

      def branch
        self["branch"]
      end

      def modified
        self["modified"]
      end

      def versions
        FS.versions(@space, key, branch: branch == "main" ? nil : branch)
      end

      def branches
        FS.branches(@space, key)
      end
    end

    # Atomic update of one record: +record+ holds the space's key attribute
    # and attribute values or operations (Int.incr); the object after it.
    # A record of increments only ({word: w, freq: Int.incr}) is combined
    # with this fibril's other increments and answers nil: they are all
    # applied, each atomically, before the fibril's next channel message,
    # spawn or other fs call, and before it ends (fs.flush applies them
    # now).
    def self.invoke(space, record)
      # __combine (runtime/combine.c) keeps them in M31.ctx[:incr]: 1, or
      # 2 when 50,000 keys are pending; false when record is not for it
      c = __combine(space, record)
      return call("invoke", space.to_s, record) unless c
      flush if c == 2
      nil
    end

    # Applies the combined increments now; the number of records written.
    def self.flush
      ctx = M31.ctx
      pending = ctx && ctx[:incr]
      return 0 unless pending
      ctx[:incr] = nil
      ctx[:incr_n] = 0
      n = 0
      failed = nil # each space's batch stands alone: report the first error
      pending.each do |space, by_key|
        by_key.each do |keyattr, recs|
          r = M31.call("fs.incr_many", space.to_s, keyattr.to_s, recs)
          if (e = r["error"])
            failed ||= M31::StoreError.new(e["message"], e["field"], e["code"])
          else
            n += r["ok"]["applied"]
          end
        end
      end
      raise failed if failed
      n
    end


    # Objects whose attributes (or key) equal every condition: an Array.
    def self.search(space, conds = {})
      call("search", space.to_s, conds).map { |o| Stored.wrap(space, o) }
    end

    # true when the object was there.
    def self.delete(space, key)
      call("delete", space.to_s, key.to_s)
    end
  end
end

Int = M31::Int
Bool = M31::Bool
Bytes = M31::Bytes
List = M31::List
Map = M31::Map
Any = M31::Any

module Kernel
  # The store, as the paper names it: fs.put, fs.get, fs.invoke, ...
  def fs
    M31::FS
  end
end
