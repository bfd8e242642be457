-- Lua CJSON 2.1.0 as Redis builds it: numbers printed with "%.14g", "/" escaped, empty
-- tables encoded as objects, JSON null decoded to the unique value cjson.null, and the
-- configuration functions (encode_sparse_array, encode_max_depth, ...) kept per instance
-- so that cjson.new() gives an independent copy. The decoder is cjson_decode.lua.

local rt, decoder = ...
local char, sub, find, format, gsub =
  string.char, string.sub, string.find, string.format, string.gsub
local floor, huge = math.floor, math.huge
local next, type, rawget, select = next, type, rawget, select
local concat = table.concat
local MAXCSTACK = rt.MAXCSTACK

-- JSON null: a value unique to the decoder, shared by every cjson.new() instance.
local null = decoder.null

-- ---------------------------------------------------------------------------------------
-- Encoding

local ESCAPES = {}
for i = 0, 31 do
  ESCAPES[char(i)] = format("\\u%04x", i)
end
ESCAPES["\b"] = "\\b"
ESCAPES["\t"] = "\\t"
ESCAPES["\n"] = "\\n"
ESCAPES["\f"] = "\\f"
ESCAPES["\r"] = "\\r"
ESCAPES['"'] = '\\"'
ESCAPES["\\"] = "\\\\"
ESCAPES["/"] = "\\/"
ESCAPES["\127"] = "\\u007f"

local function encode_string(s)
  return '"' .. gsub(s, '[%z\1-\31"/\\\127]', ESCAPES) .. '"'
end

local function encode_number(cfg, n)
  local mode = cfg.encode_invalid_numbers
  if mode == 0 then
    if n ~= n or n == huge or n == -huge then
      rt.error("Cannot serialise number: must not be NaN or Inf")
    end
  elseif mode == 1 then
    if n ~= n then
      return "nan"
    end
  elseif n ~= n or n == huge or n == -huge then
    return "null"
  end
  return format(cfg.number_format, n)
end

-- items * ratio as C's int multiplication computes it (wrapping on overflow).
local function int_multiply(a, b)
  local high, low = floor(a / 65536), a % 65536
  return rt.toint32(((high * b) % 4294967296) * 65536 + low * b)
end

-- lua_array_length(): the array size, or -1 for a table to encode as an object.
local function array_length(cfg, t)
  local max, items = 0, 0
  for k in next, t do
    if type(k) == "number" and k >= 1 and floor(k) == k then
      if k > max then
        -- `max` is a C int: larger keys convert to INT_MIN
        max = k >= 2147483648 and -2147483648 or k
      end
      items = items + 1
    else
      return -1
    end
  end
  if cfg.sparse_ratio > 0 and max > int_multiply(items, cfg.sparse_ratio)
    and max > cfg.sparse_safe then
    if cfg.sparse_convert == 0 then
      rt.error("Cannot serialise table: excessively sparse array")
    end
    return -1
  end
  return max
end

-- Appends `value` to out[n + 1 ...] and returns the new n. `top` mirrors the C function's
-- stack height, which lua_checkstack bounds.
local function encode_value(cfg, value, depth, top, out, n)
  local kind = type(value)
  if kind == "string" then
    n = n + 1
    out[n] = encode_string(value)
  elseif kind == "number" then
    n = n + 1
    out[n] = encode_number(cfg, value)
  elseif kind == "boolean" then
    n = n + 1
    out[n] = value and "true" or "false"
  elseif kind == "table" then
    depth = depth + 1
    if depth > cfg.encode_max_depth or top + 3 > MAXCSTACK then
      rt.error("Cannot serialise, excessive nesting (" .. depth .. ")")
    end
    local length = array_length(cfg, value)
    if length > 0 then
      n = n + 1
      out[n] = "["
      for i = 1, length do
        if i > 1 then
          n = n + 1
          out[n] = ","
        end
        n = encode_value(cfg, rawget(value, i), depth, top + 1, out, n)
      end
      n = n + 1
      out[n] = "]"
    else
      n = n + 1
      out[n] = "{"
      local comma = false
      for k, v in next, value do
        n = n + 1
        if comma then
          out[n] = ","
          n = n + 1
        else
          comma = true
        end
        local key_kind = type(k)
        if key_kind == "number" then
          out[n] = '"' .. encode_number(cfg, k) .. '":'
        elseif key_kind == "string" then
          out[n] = encode_string(k) .. ":"
        else
          rt.error("Cannot serialise " .. key_kind .. ": table key must be a number or string")
        end
        n = encode_value(cfg, v, depth, top + 2, out, n)
      end
      n = n + 1
      out[n] = "}"
    end
  elseif value == nil or value == null then
    n = n + 1
    out[n] = "null"
  else
    rt.error("Cannot serialise " .. kind .. ": type not supported")
  end
  return n
end

-- ---------------------------------------------------------------------------------------
-- Configuration

local function check_arg_count(nargs, max)
  if nargs > max then
    rt.argerror(max + 1, "found too many arguments")
  end
end

local function integer_option(value, narg, current, min, max)
  if value == nil then
    return current
  end
  -- luaL_checkinteger's result lands in a C int
  local v = rt.toint32(rt.checkinteger(narg, value, true))
  if v < min or v > max then
    rt.argerror(1, "expected integer between " .. min .. " and " .. max)
  end
  return v
end

local BOOL_OPTIONS = { "off", "on" }

-- json_enum_option(): returns the new setting (an index into `options`, from 0).
local function enum_option(value, narg, current, options)
  if value == nil then
    return current
  end
  if type(value) == "boolean" then
    return value and 1 or 0
  end
  local name = rt.checkstring(narg, value, true)
  local nul = find(name, "\0", 1, true)
  if nul then
    name = sub(name, 1, nul - 1)
  end
  for i = 1, #options do
    if options[i] == name then
      return i - 1
    end
  end
  rt.argerror(narg, "invalid option '" .. name .. "'")
end

local function enum_result(setting, options)
  if setting == 0 or setting == 1 then
    return setting == 1
  end
  return options[setting + 1]
end

local INVALID_NUMBER_OPTIONS = { "off", "on", "null" }

local function new_module()
  local cfg = {
    sparse_convert = 0,
    sparse_ratio = 2,
    sparse_safe = 10,
    encode_max_depth = 1000,
    decode_max_depth = 1000,
    encode_invalid_numbers = 0,
    decode_invalid_numbers = 1,
    encode_keep_buffer = 1,
    number_precision = 14,
    number_format = "%.14g",
  }
  local M = {}

  M.encode = rt.export("encode", function(...)
    if select("#", ...) ~= 1 then
      rt.argerror(1, "expected 1 argument")
    end
    local out = {}
    local n = encode_value(cfg, (...), 0, 1, out, 0)
    return concat(out, "", 1, n)
  end)

  M.decode = rt.export("decode", function(...)
    if select("#", ...) ~= 1 then
      rt.argerror(1, "expected 1 argument")
    end
    return decoder.decode(rt.checkstring(1, (...), true), cfg)
  end)

  M.encode_sparse_array = rt.export("encode_sparse_array", function(...)
    check_arg_count(select("#", ...), 3)
    local convert, ratio, safe = ...
    cfg.sparse_convert = enum_option(convert, 1, cfg.sparse_convert, BOOL_OPTIONS)
    cfg.sparse_ratio = integer_option(ratio, 2, cfg.sparse_ratio, 0, 2147483647)
    cfg.sparse_safe = integer_option(safe, 3, cfg.sparse_safe, 0, 2147483647)
    return cfg.sparse_convert == 1, cfg.sparse_ratio, cfg.sparse_safe
  end)

  M.encode_max_depth = rt.export("encode_max_depth", function(...)
    check_arg_count(select("#", ...), 1)
    cfg.encode_max_depth = integer_option((...), 1, cfg.encode_max_depth, 1, 2147483647)
    return cfg.encode_max_depth
  end)

  M.decode_max_depth = rt.export("decode_max_depth", function(...)
    check_arg_count(select("#", ...), 1)
    cfg.decode_max_depth = integer_option((...), 1, cfg.decode_max_depth, 1, 2147483647)
    return cfg.decode_max_depth
  end)

  M.encode_number_precision = rt.export("encode_number_precision", function(...)
    check_arg_count(select("#", ...), 1)
    cfg.number_precision = integer_option((...), 1, cfg.number_precision, 1, 14)
    cfg.number_format = "%." .. cfg.number_precision .. "g"
    return cfg.number_precision
  end)

  M.encode_keep_buffer = rt.export("encode_keep_buffer", function(...)
    check_arg_count(select("#", ...), 1)
    cfg.encode_keep_buffer = enum_option((...), 1, cfg.encode_keep_buffer, BOOL_OPTIONS)
    return enum_result(cfg.encode_keep_buffer, BOOL_OPTIONS)
  end)

  M.encode_invalid_numbers = rt.export("encode_invalid_numbers", function(...)
    check_arg_count(select("#", ...), 1)
    cfg.encode_invalid_numbers =
      enum_option((...), 1, cfg.encode_invalid_numbers, INVALID_NUMBER_OPTIONS)
    return enum_result(cfg.encode_invalid_numbers, INVALID_NUMBER_OPTIONS)
  end)

  M.decode_invalid_numbers = rt.export("decode_invalid_numbers", function(...)
    check_arg_count(select("#", ...), 1)
    cfg.decode_invalid_numbers = enum_option((...), 1, cfg.decode_invalid_numbers, BOOL_OPTIONS)
    return enum_result(cfg.decode_invalid_numbers, BOOL_OPTIONS)
  end)

  M.new = rt.export("new", new_module)
  M.null = null
  M._NAME = "cjson"
  M._VERSION = "2.1.0"
  return M
end

return new_module()
