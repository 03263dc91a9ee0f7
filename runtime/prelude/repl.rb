# The REPL's side of a session's VM (loaded into every VM; used only in
# sessions, which have a VM each, so VARS is the session's own).
#
# Local variables live between evaluations in VARS: each input is
# evaluated after a prologue that sets them from VARS, and what they hold
# afterwards is put back. Names starting with "__" are the REPL's own.
module M31
  module REPL
    VARS = {}
    INSPECT_MAX = 100_000 # bytes of an answer's "result"

    # What an evaluation answers: the value's inspect, the value itself
    # when it converts, and the variables that convert (the node keeps
    # them to restore a session lost with its worker).
    def self.answer(r)
      ok = __interchangeable?(r)
      vars = {}
      VARS.each { |k, v| vars[k.to_s] = v if __interchangeable?(v) }
      s = r.inspect
      s = s[0, INSPECT_MAX] + "..." if s.size > INSPECT_MAX
      { "result" => s, "value" => ok ? r : nil, "json" => ok, "vars" => vars }
    end

    # Remakes a session: replays the inputs that defined something, then
    # sets the variables.
    def self.restore(r)
      (r["defs"] || []).each do |src|
        begin
          __m31_repl(src)
        rescue Exception
          nil # it failed when it first ran after a success: nothing to keep
        end
      end
      (r["vars"] || {}).each { |k, v| VARS[k.to_sym] = v }
    end
  end
end

# Evaluates one input at the top level; see M31::REPL.
def __m31_repl(__code, __restore = nil)
  M31::REPL.restore(__restore) if __restore
  if (__e = M31::REPL.__check(__code))
    return { "incomplete" => true } if __e[2]
    raise SyntaxError, __e[0]
  end
  __pro = M31::REPL::VARS.keys.map { |__n| "#{__n} = M31::REPL::VARS[:#{__n}]; " }.join
  __r = eval(__pro + "__r = begin " + __code + "\nend; local_variables.each { |__n| " \
             "M31::REPL::VARS[__n] = eval(__n.to_s) unless __n.to_s.start_with?('__') }; __r",
             nil, "(repl)", 1)
  M31.flush
  M31::REPL.answer(__r)
end
