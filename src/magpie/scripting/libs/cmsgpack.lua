-- lua-cmsgpack 0.4.0 (Salvatore Sanfilippo's MessagePack for Lua) as Redis ships it.
--
-- Encoding choices are the C library's: a number that converts to int64 unchanged is an
-- integer in the smallest MessagePack form, any other number a float 32 when the float
-- holds it exactly and a float 64 otherwise; a table is an array when its keys are
-- exactly 1..n (the empty table included), a map otherwise; tables nested 16 deep become
-- nil; strings use the str 8/16/32 forms, never bin. Decoding returns uint 64 values as
-- the C code does, reinterpreted as signed.
--
-- The C decoder checks the Lua stack before every value, so a stream of too many values
-- or too deep a nesting fails with its "stack overflow (...)" errors; `height` below
-- mirrors that stack to fail at the same point.

local rt = ...
local byte, char, sub = string.byte, string.char, string.sub
local floor, huge = math.floor, math.huge
local next, type, select = next, type, select
local concat = table.concat
local MAXCSTACK = rt.MAXCSTACK

local MAX_NESTING = 16
local TWO32 = 4294967296
local TWO63 = 9223372036854775808

local function be16(n)
  return char(floor(n / 256) % 256, n % 256)
end

local function be32(n)
  return char(floor(n / 16777216) % 256, floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end

-- mp_encode_int(): n is an integer in [-2^63, 2^63).
local function encode_int(n, out)
  if n >= 0 then
    if n <= 127 then
      out[#out + 1] = char(n)
    elseif n <= 0xff then
      out[#out + 1] = char(0xcc, n)
    elseif n <= 0xffff then
      out[#out + 1] = "\205" .. be16(n)
    elseif n <= 0xffffffff then
      out[#out + 1] = "\206" .. be32(n)
    else
      out[#out + 1] = "\207" .. be32(floor(n / TWO32)) .. be32(n % TWO32)
    end
  else
    if n >= -32 then
      out[#out + 1] = char(n + 256)
    elseif n >= -128 then
      out[#out + 1] = char(0xd0, n + 256)
    elseif n >= -32768 then
      out[#out + 1] = "\209" .. be16(n + 65536)
    elseif n >= -2147483648 then
      out[#out + 1] = "\210" .. be32(n + TWO32)
    else
      out[#out + 1] = "\211" .. be32(floor(n / TWO32) % TWO32) .. be32(n % TWO32)
    end
  end
end

local function encode_number(n, out)
  if n == n and n ~= huge and n ~= -huge and n >= -TWO63 and n < TWO63 and floor(n) == n then
    encode_int(n, out)
    return
  end
  local bits, exact = rt.float_bits(n)
  if exact then
    out[#out + 1] = "\202" .. be32(bits)
  else
    local hi, lo = rt.double_bits(n)
    out[#out + 1] = "\203" .. be32(hi) .. be32(lo)
  end
end

local function encode_string(s, out)
  local len = #s
  if len < 32 then
    out[#out + 1] = char(0xa0 + len)
  elseif len <= 0xff then
    out[#out + 1] = char(0xd9, len)
  elseif len <= 0xffff then
    out[#out + 1] = "\218" .. be16(len)
  else
    out[#out + 1] = "\219" .. be32(len)
  end
  out[#out + 1] = s
end

local function header(n, small, tag16, tag32, out)
  if n <= 15 then
    out[#out + 1] = char(small + n)
  elseif n <= 65535 then
    out[#out + 1] = tag16 .. be16(n)
  else
    out[#out + 1] = tag32 .. be32(n)
  end
end

-- table_is_an_array(): keys exactly 1..n, each a positive number that fits a C int.
local function is_array(t)
  local count, max = 0, 0
  for k in next, t do
    if type(k) ~= "number" or k <= 0 or k >= 2147483648 or floor(k) ~= k then
      return false
    end
    if k > max then
      max = k
    end
    count = count + 1
  end
  return max == count
end

local encode_value

local function encode_table(t, level, out)
  if is_array(t) then
    local len = #t
    header(len, 0x90, "\220", "\221", out)
    for j = 1, len do
      encode_value(t[j], level + 1, out)
    end
  else
    local len = 0
    for _ in next, t do
      len = len + 1
    end
    header(len, 0x80, "\222", "\223", out)
    for k, v in next, t do
      encode_value(k, level + 1, out)
      encode_value(v, level + 1, out)
    end
  end
end

function encode_value(value, level, out)
  local kind = type(value)
  if kind == "table" and level == MAX_NESTING then
    kind = "nil"
  end
  if kind == "string" then
    encode_string(value, out)
  elseif kind == "boolean" then
    out[#out + 1] = value and "\195" or "\194"
  elseif kind == "number" then
    encode_number(value, out)
  elseif kind == "table" then
    encode_table(value, level, out)
  else
    out[#out + 1] = "\192"
  end
end

local function pack(...)
  local nargs = select("#", ...)
  if nargs == 0 then
    rt.argerror(0, "MessagePack pack needs input.")
  end
  if nargs + nargs > MAXCSTACK then
    rt.argerror(0, "Too many arguments for MessagePack pack.")
  end
  local out = {}
  for i = 1, nargs do
    encode_value((select(i, ...)), 0, out)
  end
  return concat(out)
end

-- ---------------------------------------------------------------------------------------
-- Decoding

local function missing()
  rt.error("Missing bytes in input.")
end

-- The cursor: st.s, st.pos (next byte, 1-based), st.len.
local function need(st, n)
  if st.len - st.pos + 1 < n then
    missing()
  end
end

local function u16(s, at)
  local a, b = byte(s, at, at + 1)
  return a * 256 + b
end

local function u32(s, at)
  local a, b, c, d = byte(s, at, at + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

-- A 64-bit big-endian word read as int64 and converted to a double.
local function i64(s, at)
  local hi, lo = u32(s, at), u32(s, at + 4)
  if hi >= 2147483648 then
    return (hi - TWO32) * TWO32 + lo
  end
  return hi * TWO32 + lo
end

local decode_value

local function decode_array(st, len, height)
  local t = {}
  if height + 2 > MAXCSTACK then
    rt.error("stack overflow (in function mp_decode_to_lua_array)")
  end
  for index = 1, len do
    t[index] = decode_value(st, height + 2)
  end
  return t
end

local function decode_map(st, len, height)
  local t = {}
  for _ = 1, len do
    local key = decode_value(st, height + 1)
    local value = decode_value(st, height + 2)
    if key == nil then
      rt.rawerror("table index is nil")
    elseif key ~= key then
      rt.rawerror("table index is NaN")
    end
    t[key] = value
  end
  return t
end

local function raw(st, offset, len)
  need(st, offset + len)
  local at = st.pos + offset
  st.pos = at + len
  return sub(st.s, at, at + len - 1)
end

-- mp_decode_to_lua_type(): `height` is the C stack height before the value is pushed.
function decode_value(st, height)
  need(st, 1)
  if height + 1 > MAXCSTACK then
    rt.error("stack overflow (too many return values at once; "
      .. "use unpack_one or unpack_limit instead.)")
  end
  local s, pos = st.s, st.pos
  local c = byte(s, pos)
  if c < 0x80 then
    st.pos = pos + 1
    return c
  elseif c >= 0xe0 then
    st.pos = pos + 1
    return c - 256
  elseif c >= 0xa0 and c <= 0xbf then
    return raw(st, 1, c - 0xa0)
  elseif c >= 0x90 and c <= 0x9f then
    st.pos = pos + 1
    return decode_array(st, c - 0x90, height)
  elseif c <= 0x8f then
    st.pos = pos + 1
    return decode_map(st, c - 0x80, height)
  elseif c == 0xcc then
    need(st, 2)
    st.pos = pos + 2
    return byte(s, pos + 1)
  elseif c == 0xd0 then
    need(st, 2)
    st.pos = pos + 2
    local v = byte(s, pos + 1)
    return v >= 128 and v - 256 or v
  elseif c == 0xcd then
    need(st, 3)
    st.pos = pos + 3
    return u16(s, pos + 1)
  elseif c == 0xd1 then
    need(st, 3)
    st.pos = pos + 3
    local v = u16(s, pos + 1)
    return v >= 32768 and v - 65536 or v
  elseif c == 0xce then
    need(st, 5)
    st.pos = pos + 5
    return u32(s, pos + 1)
  elseif c == 0xd2 then
    need(st, 5)
    st.pos = pos + 5
    local v = u32(s, pos + 1)
    return v >= 2147483648 and v - TWO32 or v
  elseif c == 0xcf or c == 0xd3 then
    need(st, 9)
    st.pos = pos + 9
    return i64(s, pos + 1)
  elseif c == 0xc0 then
    st.pos = pos + 1
    return nil
  elseif c == 0xc3 then
    st.pos = pos + 1
    return true
  elseif c == 0xc2 then
    st.pos = pos + 1
    return false
  elseif c == 0xca then
    need(st, 5)
    st.pos = pos + 5
    return rt.bits_float(u32(s, pos + 1))
  elseif c == 0xcb then
    need(st, 9)
    st.pos = pos + 9
    return rt.bits_double(u32(s, pos + 1), u32(s, pos + 5))
  elseif c == 0xd9 then
    need(st, 2)
    return raw(st, 2, byte(s, pos + 1))
  elseif c == 0xda then
    need(st, 3)
    return raw(st, 3, u16(s, pos + 1))
  elseif c == 0xdb then
    need(st, 5)
    local len = u32(s, pos + 1)
    st.pos = pos + 5
    return raw(st, 0, len)
  elseif c == 0xdc then
    need(st, 3)
    st.pos = pos + 3
    return decode_array(st, u16(s, pos + 1), height)
  elseif c == 0xdd then
    need(st, 5)
    st.pos = pos + 5
    return decode_array(st, u32(s, pos + 1), height)
  elseif c == 0xde then
    need(st, 3)
    st.pos = pos + 3
    return decode_map(st, u16(s, pos + 1), height)
  elseif c == 0xdf then
    need(st, 5)
    st.pos = pos + 5
    return decode_map(st, u32(s, pos + 1), height)
  end
  rt.error("Bad data format in input.")
end

-- mp_unpack_full(): `height` is how many arguments are still on the C stack.
local function unpack_full(s, limit, offset, height)
  local len = #s
  if offset < 0 or limit < 0 then
    rt.error("Invalid request to unpack with offset of " .. rt.toint32(offset)
      .. " and limit of " .. rt.toint32(len) .. ".")
  elseif offset > len then
    rt.error("Start offset " .. rt.toint32(offset) .. " greater than input length "
      .. rt.toint32(len) .. ".")
  end
  local decode_all = limit == 0 and offset == 0
  if decode_all then
    limit = 2147483647
  end
  local st = { s = s, pos = offset + 1, len = len }
  local results = {}
  local first = decode_all and 0 or 1 -- room for the offset in front
  local count = 0
  while st.pos <= len and count < limit do
    results[first + count + 1] = decode_value(st, height + count)
    count = count + 1
  end
  if decode_all then
    return rt.ret(results, 1, count)
  end
  if height + count + 1 > MAXCSTACK then
    rt.error("stack overflow (in function mp_unpack_full)")
  end
  results[1] = st.pos > len and -1 or st.pos - 1
  return rt.ret(results, 1, count + 1)
end

local function unpack_(...)
  local nargs = select("#", ...)
  local s = rt.checkstring(1, (...), nargs >= 1)
  -- mp_unpack leaves every argument on the stack
  return unpack_full(s, 0, 0, nargs > 0 and nargs or 1)
end

local function unpack_one(...)
  local nargs = select("#", ...)
  local s, offset = ...
  offset = rt.optinteger(2, offset, nargs >= 2, 0)
  s = rt.checkstring(1, s, nargs >= 1)
  return unpack_full(s, 1, offset, 1)
end

local function unpack_limit(...)
  local nargs = select("#", ...)
  local s, limit, offset = ...
  limit = rt.checkinteger(2, limit, nargs >= 2)
  offset = rt.optinteger(3, offset, nargs >= 3, 0)
  s = rt.checkstring(1, s, nargs >= 1)
  return unpack_full(s, limit, offset, 1)
end

return {
  pack = rt.export("pack", pack),
  unpack = rt.export("unpack", unpack_),
  unpack_one = rt.export("unpack_one", unpack_one),
  unpack_limit = rt.export("unpack_limit", unpack_limit),
  _NAME = "cmsgpack",
  _VERSION = "lua-cmsgpack 0.4.0",
  _COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo",
  _DESCRIPTION = "MessagePack C implementation for Lua",
}
