# fs: the store from inside a fibril (loaded after sys.rb).
#
# Each method is one system call ("fs.<name>") run by the node with the
# store API; a write is durable before the call returns. The node answers
# {"ok" => value} or {"error" => {...}}; an error raises M31::StoreError.
module M31
  # A store call failed: +field+ names the offending field ("attrs.freq"),
  # +code+ the kind ("invalid", "not_found", "bad_request", "conflict", ...).
  class StoreError < StandardError
    attr_reader :field, :code

    def initialize(message = "store error", field = "", code = "")
      super(message)
      @field = field
      @code = code
    end
  end

  # Attribute types for fs.add_space and channels. Float and String are
  # Ruby's own classes; Int.incr(n) is the atomic increment of fs.invoke.
  module Int
    def self.incr(n = 1)
      { "$incr" => n }
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
      r = M31.call("fs." + name, *args)
      if (e = r["error"])
        raise M31::StoreError.new(e["message"], e["field"], e["code"])
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

    # The object (a Hash with "key", "attrs", "labels", "version", ...) or nil.
    def self.get(space, key)
      call("get", space.to_s, key.to_s)
    end

    # Atomic update of one record: +record+ holds the space's key attribute
    # and attribute values or operations (Int.incr); the object after it.
    def self.invoke(space, record)
      call("invoke", space.to_s, record)
    end

    # Objects whose attributes (or key) equal every condition: an Array.
    def self.search(space, conds = {})
      call("search", space.to_s, conds)
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
