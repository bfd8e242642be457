-- Roberto Ierusalimschy's "struct" library (struct.c 1.7) as Redis builds it on x86-64:
-- native order little-endian, short 2, int 4, long and size_t 8, maximum alignment 8.
--
-- Integers travel through a 64-bit unsigned long, so packing a size above 8 pads with
-- zero bytes and unpacking one keeps only the 8 least significant bytes; the C code's
-- quirks (the sign-extension mask shifted by size*8-1 modulo 64, the argument number in
-- "string too short", wrap-around of a negative offset) are reproduced, not fixed.

local rt = ...
local byte, char, sub, find = string.byte, string.char, string.sub, string.find
local floor, select, tonumber = math.floor, select, tonumber
local concat, rep, reverse = table.concat, string.rep, string.reverse

local MAXINTSIZE = 32
local MAXALIGN = 8
local INT_MAX = 2147483647
local TWO32 = 4294967296
local TWO64 = 18446744073709551616

local function ispow2(x)
  if x <= 0 then
    return false
  end
  while x % 2 == 0 do
    x = x / 2
  end
  return x == 1
end

local function isdigit(c)
  return c ~= nil and c >= 48 and c <= 57
end

local function isalnum(c)
  return (c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122)
end

-- a & m for a small mask m (m < 64); `a` may be negative, standing for a size_t >= 2^63.
local function band_small(a, m)
  a = a % 64
  local r, bit = 0, 1
  while m > 0 do
    if m % 2 == 1 and a % 2 == 1 then
      r = r + bit
    end
    m, a, bit = floor(m / 2), floor(a / 2), bit * 2
  end
  return r
end

local function getnum(fmt, i, default)
  local c = byte(fmt, i)
  if not isdigit(c) then
    return default, i
  end
  local a = 0
  repeat
    local d = c - 48
    if a > 214748364 or a * 10 > INT_MAX - d then
      rt.error("integral size overflow")
    end
    a = a * 10 + d
    i = i + 1
    c = byte(fmt, i)
  until not isdigit(c)
  return a, i
end

-- optsize(): the size of option `opt` (a byte), consuming its count; 0 for options that
-- need no alignment.
local SIZES = {
  [66] = 1, [98] = 1, -- B b
  [72] = 2, [104] = 2, -- H h
  [76] = 8, [108] = 8, -- L l
  [84] = 8, -- T
  [102] = 4, -- f
  [100] = 8, -- d
  [120] = 1, -- x
}

local function optsize(opt, fmt, i)
  local size = SIZES[opt]
  if size then
    return size, i
  end
  if opt == 99 then -- c
    return getnum(fmt, i, 1)
  end
  if opt == 105 or opt == 73 then -- i I
    local sz
    sz, i = getnum(fmt, i, 4)
    if sz > MAXINTSIZE then
      rt.error("integral size " .. sz .. " is larger than limit of " .. MAXINTSIZE)
    end
    return sz, i
  end
  return 0, i
end

local function gettoalign(len, align, opt, size)
  if size == 0 or opt == 99 then
    return 0
  end
  if size > align then
    size = align
  end
  return band_small(size - band_small(len, size - 1), size - 1)
end

-- controloptions(): endianness, alignment, blanks; anything else is an invalid option.
local function controloptions(opt, fmt, i, h)
  if opt == 32 then
    return i
  elseif opt == 62 then
    h.little = false
    return i
  elseif opt == 60 then
    h.little = true
    return i
  elseif opt == 33 then
    local a
    a, i = getnum(fmt, i, MAXALIGN)
    if not ispow2(a) then
      rt.error("alignment " .. a .. " is not a power of 2")
    end
    h.align = a
    return i
  end
  rt.argerror(1, "invalid format option '" .. char(opt) .. "'")
end

-- The C library stops at the first NUL of the format string.
local function format_string(narg, value, present)
  local fmt = rt.checkstring(narg, value, present)
  local nul = find(fmt, "\0", 1, true)
  if nul then
    fmt = sub(fmt, 1, nul - 1)
  end
  return fmt
end

-- (unsigned long) of a Lua number as putinteger() computes it, as two 32-bit halves.
local function integer_words(n)
  local v
  if n < 0 then
    v = rt.tointeger(n) -- (unsigned long)(long)n
  elseif n ~= n then
    return 0x80000000, 0
  elseif n >= TWO64 then
    return 0, 0
  else
    v = floor(n)
  end
  local lo = v % TWO32
  local hi = floor(v / TWO32) % TWO32
  return hi, lo
end

local function word_bytes(w, out, little)
  local b0 = w % 256
  local b1 = floor(w / 256) % 256
  local b2 = floor(w / 65536) % 256
  local b3 = floor(w / 16777216) % 256
  if little then
    out[#out + 1] = char(b0, b1, b2, b3)
  else
    out[#out + 1] = char(b3, b2, b1, b0)
  end
end

local function putinteger(n, size, little)
  local hi, lo = integer_words(n)
  local bytes = char(lo % 256, floor(lo / 256) % 256, floor(lo / 65536) % 256,
    floor(lo / 16777216), hi % 256, floor(hi / 256) % 256, floor(hi / 65536) % 256,
    floor(hi / 16777216))
  if size <= 8 then
    bytes = sub(bytes, 1, size)
  else
    bytes = bytes .. rep("\0", size - 8)
  end
  if little then
    return bytes
  end
  return reverse(bytes)
end

local function pack(...)
  local nargs = select("#", ...)
  local fmt = format_string(1, (...), nargs >= 1)
  -- b_pack pushes a nil right after its arguments, so one argument past the end reads
  -- as nil rather than as no value
  local present = nargs + 1
  local h = { little = true, align = 1 }
  local out = {}
  local arg = 2
  local totalsize = 0
  local i = 1
  local flen = #fmt
  while i <= flen do
    local opt = byte(fmt, i)
    i = i + 1
    local size
    size, i = optsize(opt, fmt, i)
    local toalign = gettoalign(totalsize, h.align, opt, size)
    totalsize = totalsize + toalign
    if toalign > 0 then
      out[#out + 1] = rep("\0", toalign)
    end
    if opt == 98 or opt == 66 or opt == 104 or opt == 72 or opt == 108 or opt == 76
      or opt == 84 or opt == 105 or opt == 73 then
      local n = rt.checknumber(arg, (select(arg, ...)), arg <= present)
      arg = arg + 1
      out[#out + 1] = putinteger(n, size, h.little)
    elseif opt == 120 then
      out[#out + 1] = "\0"
    elseif opt == 102 then
      local n = rt.checknumber(arg, (select(arg, ...)), arg <= present)
      arg = arg + 1
      local bits = rt.float_bits(n)
      word_bytes(bits, out, h.little)
    elseif opt == 100 then
      local n = rt.checknumber(arg, (select(arg, ...)), arg <= present)
      arg = arg + 1
      local hi, lo = rt.double_bits(n)
      if h.little then
        word_bytes(lo, out, true)
        word_bytes(hi, out, true)
      else
        word_bytes(hi, out, false)
        word_bytes(lo, out, false)
      end
    elseif opt == 99 or opt == 115 then
      local s = rt.checkstring(arg, (select(arg, ...)), arg <= present)
      arg = arg + 1
      local l = #s
      if size == 0 then
        size = l
      end
      if l < size then
        -- the C code has already moved on to the next argument here
        rt.argerror(arg, "string too short")
      end
      out[#out + 1] = sub(s, 1, size)
      if opt == 115 then
        out[#out + 1] = "\0"
        size = size + 1
      end
    else
      i = controloptions(opt, fmt, i, h)
    end
    totalsize = totalsize + size
  end
  return concat(out)
end

-- getinteger(): the integer at data[pos+1 ..] of `size` bytes; only the 8 least
-- significant bytes survive the 64-bit accumulator.
local function getinteger(data, pos, little, issigned, size)
  local b1, b2, b3, b4, b5, b6, b7, b8 -- least significant first
  if little then
    b1, b2, b3, b4, b5, b6, b7, b8 = byte(data, pos + 1, pos + (size < 8 and size or 8))
  else
    local first = size > 8 and pos + size - 7 or pos + 1
    b1, b2, b3, b4, b5, b6, b7, b8 = byte(reverse(sub(data, first, pos + size)), 1, 8)
  end
  local lo = (((b4 or 0) * 256 + (b3 or 0)) * 256 + (b2 or 0)) * 256 + (b1 or 0)
  local hi = (((b8 or 0) * 256 + (b7 or 0)) * 256 + (b6 or 0)) * 256 + (b5 or 0)
  if not issigned then
    return hi * TWO32 + lo
  end
  -- mask = ~0 << (size*8 - 1), the shift count taken modulo 64 as x86-64 does
  local s = (size * 8 - 1) % 64
  local negative
  if s >= 32 then
    negative = hi >= 2 ^ (s - 32)
    if negative then
      hi = hi % 2 ^ (s - 32) + (TWO32 - 2 ^ (s - 32))
    end
  else
    negative = hi > 0 or lo >= 2 ^ s
    if negative then
      hi = TWO32 - 1
      lo = lo % 2 ^ s + (TWO32 - 2 ^ s)
    end
  end
  if hi >= 2147483648 then
    return (hi - TWO32) * TWO32 + lo
  end
  return hi * TWO32 + lo
end

-- (size_t) of a Lua number, as the 'c0' option converts the previous result. Values that
-- wrap to huge sizes are returned as -1 (the "data string too short" check fails).
local function tosize(d)
  if d ~= d or d <= -1 then
    return -1
  end
  if d < 0 or d >= TWO64 then
    return 0
  end
  return floor(d)
end

local function unpack_(...)
  local nargs = select("#", ...)
  local f, d, p = ...
  local fmt = format_string(1, f, nargs >= 1)
  local data = rt.checkstring(2, d, nargs >= 2)
  local ld = #data
  local pos = rt.optinteger(3, p, nargs >= 3, 1)
  if pos == 0 then
    rt.argerror(3, "offset must be 1 or greater")
  end
  -- a negative offset is a size_t of 2^63 or more: kept negative, it fails every bounds
  -- check below just as the huge value does
  pos = pos - 1
  local h = { little = true, align = 1 }
  local results = {}
  local n = 0
  local i = 1
  local flen = #fmt
  while i <= flen do
    local opt = byte(fmt, i)
    i = i + 1
    local size
    size, i = optsize(opt, fmt, i)
    pos = pos + gettoalign(pos, h.align, opt, size)
    if not (size <= ld and pos >= 0 and pos <= ld - size) then
      rt.argerror(2, "data string too short")
    end
    if nargs + n + 2 > rt.MAXCSTACK then
      rt.error("stack overflow (too many results)")
    end
    if opt == 98 or opt == 66 or opt == 104 or opt == 72 or opt == 108 or opt == 76
      or opt == 84 or opt == 105 or opt == 73 then
      n = n + 1
      results[n] = getinteger(data, pos, h.little, opt >= 97, size)
    elseif opt == 120 then
      -- padding: nothing to return
    elseif opt == 102 then
      local b1, b2, b3, b4 = byte(data, pos + 1, pos + 4)
      if h.little then
        b1, b2, b3, b4 = b4, b3, b2, b1
      end
      n = n + 1
      results[n] = rt.bits_float(((b1 * 256 + b2) * 256 + b3) * 256 + b4)
    elseif opt == 100 then
      local b = { byte(data, pos + 1, pos + 8) }
      if h.little then
        b = { b[8], b[7], b[6], b[5], b[4], b[3], b[2], b[1] }
      end
      local hi = ((b[1] * 256 + b[2]) * 256 + b[3]) * 256 + b[4]
      local lo = ((b[5] * 256 + b[6]) * 256 + b[7]) * 256 + b[8]
      n = n + 1
      results[n] = rt.bits_double(hi, lo)
    elseif opt == 99 then
      if size == 0 then
        if n == 0 or tonumber(results[n]) == nil then
          rt.error("format 'c0' needs a previous size")
        end
        size = tosize(tonumber(results[n]))
        results[n] = nil
        n = n - 1
        if not (size >= 0 and size <= ld and pos <= ld - size) then
          rt.argerror(2, "data string too short")
        end
      end
      n = n + 1
      results[n] = sub(data, pos + 1, pos + size)
    elseif opt == 115 then
      local e = find(data, "\0", pos + 1, true)
      if e == nil then
        rt.error("unfinished string in data")
      end
      size = e - pos
      n = n + 1
      results[n] = sub(data, pos + 1, e - 1)
    else
      i = controloptions(opt, fmt, i, h)
    end
    pos = pos + size
  end
  n = n + 1
  results[n] = pos + 1
  return rt.ret(results, 1, n)
end

local function size_(...)
  local fmt = format_string(1, (...), select("#", ...) >= 1)
  local h = { little = true, align = 1 }
  local pos = 0
  local i = 1
  local flen = #fmt
  while i <= flen do
    local opt = byte(fmt, i)
    i = i + 1
    local size
    size, i = optsize(opt, fmt, i)
    pos = pos + gettoalign(pos, h.align, opt, size)
    if opt == 115 then
      rt.argerror(1, "option 's' has no fixed size")
    elseif opt == 99 and size == 0 then
      rt.argerror(1, "option 'c0' has no fixed size")
    end
    if not isalnum(opt) then
      i = controloptions(opt, fmt, i, h)
    end
    pos = pos + size
  end
  return pos
end

return {
  pack = rt.export("pack", pack),
  unpack = rt.export("unpack", unpack_),
  size = rt.export("size", size_),
}
