-- LuaBitOp 1.0.2 ("bit"), as Redis links it: every argument is normalised to a 32-bit
-- pattern, every result is that pattern read as a signed 32-bit number.
--
-- LuaBitOp normalises a number by adding 2^52 + 2^51 and keeping the low 32 bits of the
-- sum's IEEE 754 representation. For |x| < 2^51 that is x rounded to nearest-even,
-- modulo 2^32; beyond that the sum loses low bits and the same representation trick is
-- reproduced from the sum's significand.

local rt = ...
local floor, frexp, tonumber, select, pairs = math.floor, math.frexp, tonumber, select, pairs
local concat, sub = table.concat, string.sub
local huge = math.huge

local TWO32 = 4294967296
local MAGIC = 6755399441055744 -- 2^52 + 2^51
local LIMIT = 2251799813685248 -- 2^51

local function normalise(n)
  local s = n + MAGIC
  if n >= -LIMIT and n < LIMIT then
    return (s - MAGIC) % TWO32
  end
  if s ~= s or s == 0 or s == huge or s == -huge then
    return 0
  end
  if s < 0 then
    s = -s
  end
  local _, e = frexp(s)
  -- the 53-bit integer significand; its low 32 bits are the low word of the double
  return (s * 2 ^ (53 - e)) % TWO32
end

-- barg(): the argument as an unsigned 32-bit pattern.
local function barg(narg, value, present)
  local n = tonumber(value)
  if n == nil then
    -- lua_tonumber gives 0 for a non-number, which normalises to 0
    rt.typeerror(narg, "number", value, present)
  end
  return normalise(n)
end

local function signed(b)
  if b >= 2147483648 then
    return b - TWO32
  end
  return b
end

-- 4-bit lookup tables for and/or/xor
local AND, OR, XOR = {}, {}, {}
for a = 0, 15 do
  for b = 0, 15 do
    local r_and, r_or, r_xor, bit = 0, 0, 0, 1
    local x, y = a, b
    for _ = 1, 4 do
      local xb, yb = x % 2, y % 2
      if xb == 1 and yb == 1 then
        r_and = r_and + bit
      end
      if xb == 1 or yb == 1 then
        r_or = r_or + bit
      end
      if xb ~= yb then
        r_xor = r_xor + bit
      end
      x, y, bit = floor(x / 2), floor(y / 2), bit * 2
    end
    AND[a * 16 + b] = r_and
    OR[a * 16 + b] = r_or
    XOR[a * 16 + b] = r_xor
  end
end

local function combine(tbl, a, b)
  local r, place = 0, 1
  for _ = 1, 8 do
    local x, y = a % 16, b % 16
    r = r + tbl[x * 16 + y] * place
    a, b, place = (a - x) / 16, (b - y) / 16, place * 16
  end
  return r
end

local M = {}

function M.tobit(...)
  return signed(barg(1, (...), select("#", ...) >= 1))
end

function M.bnot(...)
  return signed(TWO32 - 1 - barg(1, (...), select("#", ...) >= 1))
end

-- band/bor/bxor fold the arguments from the last to the second onto the first, so a bad
-- argument is reported in that order too.
local function folder(tbl)
  return function(...)
    local n = select("#", ...)
    local b = barg(1, (...), n >= 1)
    for i = n, 2, -1 do
      b = combine(tbl, b, barg(i, (select(i, ...)), true))
    end
    return signed(b)
  end
end
M.band = folder(AND)
M.bor = folder(OR)
M.bxor = folder(XOR)

local function shift_args(...)
  local n = select("#", ...)
  local a, s = ...
  local b = barg(1, a, n >= 1)
  local count = barg(2, s, n >= 2) % 32
  return b, count
end

function M.lshift(...)
  local b, n = shift_args(...)
  return signed((b * 2 ^ n) % TWO32)
end

function M.rshift(...)
  local b, n = shift_args(...)
  return signed(floor(b / 2 ^ n))
end

function M.arshift(...)
  local b, n = shift_args(...)
  return signed(floor(signed(b) / 2 ^ n) % TWO32)
end

function M.rol(...)
  local b, n = shift_args(...)
  if n == 0 then
    return signed(b)
  end
  return signed((b * 2 ^ n) % TWO32 + floor(b / 2 ^ (32 - n)))
end

function M.ror(...)
  local b, n = shift_args(...)
  if n == 0 then
    return signed(b)
  end
  return signed((b * 2 ^ (32 - n)) % TWO32 + floor(b / 2 ^ n))
end

function M.bswap(...)
  local b = barg(1, (...), select("#", ...) >= 1)
  local b0 = b % 256
  local b1 = floor(b / 256) % 256
  local b2 = floor(b / 65536) % 256
  local b3 = floor(b / 16777216)
  return signed(((b0 * 256 + b1) * 256 + b2) * 256 + b3)
end

local LOWER = "0123456789abcdef"
local UPPER = "0123456789ABCDEF"

function M.tohex(...)
  local count = select("#", ...)
  local x, width = ...
  local b = barg(1, x, count >= 1)
  local n = 8
  if count >= 2 then
    n = signed(barg(2, width, true))
  end
  local digits = LOWER
  if n < 0 then
    n = -n
    digits = UPPER
  end
  if n > 8 then
    n = 8
  end
  local out = {}
  for i = n, 1, -1 do
    local d = b % 16
    out[i] = sub(digits, d + 1, d + 1)
    b = (b - d) / 16
  end
  return concat(out, "", 1, n)
end

local lib = {}
for name, impl in pairs(M) do
  lib[name] = rt.register(name, impl)
end
return lib
