/*
 * interchange.h — the one converter between Ruby values and JSON
 * (jansson). Internal to runtime/: it speaks mruby types.
 *
 * JSON -> Ruby: null, true, false; integer -> Integer (full 64-bit range);
 * real -> Float; string -> UTF-8 String (NUL bytes kept); array -> Array;
 * object -> Hash with String keys in the object's order.
 * Ruby -> JSON: nil, true, false; Integer; finite Float; String (UTF-8 as a
 * string, other bytes tagged, below); Symbol -> string; Array; Hash whose keys
 * are Strings or Symbols (a key seen twice after Symbol -> String is an error).
 * Two tagged objects carry what JSON has no type for: a String that is not
 * valid UTF-8 (bytes: a zip file, an image) is {"$bytes": "<padded
 * standard base64>"}, and a channel endpoint (M31::Endpoint) is
 * {"$endpoint": "<id>"}; an object with exactly that one member comes back
 * into Ruby as the String or the Endpoint (an endpoint only once the
 * prelude has defined M31::Endpoint).
 * So every JSON value round-trips exactly (1.0 stays a real, 1 an integer)
 * except those two tags: {"$bytes": "aGk="} comes back as "hi", since
 * the String it made is valid UTF-8.
 * Anything else — other classes, NaN or Infinity, a key or Symbol not UTF-8,
 * nesting deeper than RT_JSON_DEPTH_MAX (which also stops cycles) — is a
 * TypeError whose message names the path of the offending value,
 * e.g. "value[2].name: cannot convert Range to JSON".
 */
#ifndef M31_RUNTIME_INTERCHANGE_H
#define M31_RUNTIME_INTERCHANGE_H

#include <mruby.h>

#include "runtime/runtime.h"

/**
 * Converts v: *out (refcount: new). -1 with err (TypeError) when v does
 * not convert; NoMemoryError if jansson runs out of memory. Does not call
 * into Ruby and does not raise.
 */
int rt_value_to_json(mrb_state *mrb, mrb_value v, json_t **out, rt_error *err);

/**
 * Converts j (borrowed): *out is a new value in the GC arena. -1 with err
 * (TypeError for nesting deeper than RT_JSON_DEPTH_MAX, NoMemoryError when
 * the VM's budget refuses). Never raises.
 */
int rt_json_to_value(mrb_state *mrb, const json_t *j, mrb_value *out,
                     rt_error *err);

#endif
