-- Shared helpers for Magpie's pure-Lua versions of the C libraries Redis links into its
-- Lua 5.1 interpreter (cjson, cmsgpack, bit, struct).
--
-- Two concerns live here:
--  * raising errors exactly as the C API does: luaL_error prefixes the position of the
--    library function's caller ("user_script:1: "), luaL_argerror names the function as
--    the caller spelt it ("bad argument #1 to 'pack' (...)", '?' when called from C such as
--    pcall), and runtime errors raised inside C code ("table index is nil") carry no
--    position at all;
--  * the IEEE 754 bit patterns of doubles and floats, which Lua 5.1 cannot reach directly.
--
-- Everything the libraries need from the standard library is captured here once, so a
-- sandbox that later hides `debug` or replaces globals does not change their behaviour.

local getinfo = debug.getinfo
local error, type, tostring, tonumber = error, type, tostring, tonumber
local floor, ceil, frexp, ldexp = math.floor, math.ceil, math.frexp, math.ldexp
local huge = math.huge
local unpack = unpack
local byte = string.byte
local setmetatable = setmetatable

local rt = {}

-- Public library functions, mapped to the field name they are registered under.
local public = setmetatable({}, { __mode = "k" })

-- The stack limit lua_checkstack enforces on one C function's frame (LUAI_MAXCSTACK).
rt.MAXCSTACK = 8000

-- Wrap `impl` as a public library function. The wrapper keeps a frame on the stack while
-- `impl` runs (it never tail-calls it), which is how errors find the function's caller.
local function pass(...)
  return ...
end

function rt.export(name, impl)
  local function entry(...)
    return pass(impl(...))
  end
  public[entry] = name
  return entry
end

-- Register `func` itself as a public library function: cheaper than export(), for
-- functions that never raise an error from a tail call (which would drop their frame).
function rt.register(name, func)
  public[func] = name
  return func
end

-- Find the public function on the stack, as a level relative to the caller of `locate`.
local function locate()
  local level = 3
  while true do
    local info = getinfo(level, "f")
    if info == nil then
      return nil
    end
    if info.func ~= nil and public[info.func] then
      return level - 1, info.func
    end
    level = level + 1
  end
end

-- luaL_error: the message gets the position of whoever called the library function.
function rt.error(msg)
  local level = locate()
  if level == nil then
    error(msg, 0)
  end
  -- `level` is relative to this function; its caller is one further out.
  error(msg, level + 1)
end

-- An error raised by the Lua core while a C function runs: no position information.
function rt.rawerror(msg)
  error(msg, 0)
end

-- luaL_argerror, naming the function the way lua_getinfo(L, "n") does.
function rt.argerror(narg, extramsg)
  local level, func = locate()
  if level == nil then
    error("bad argument #" .. narg .. " (" .. extramsg .. ")", 0)
  end
  local info = getinfo(level, "n")
  local name, namewhat = info.name, info.namewhat
  if name == nil then
    local below = getinfo(level + 1, "S")
    if below ~= nil and below.what == "tail" then
      -- A Lua function that is tail-called loses its caller's frame, which a C function
      -- never does; the caller nearly always spelt the call as library.<field>(...).
      name = public[func]
    end
  end
  local msg
  if namewhat == "method" then
    narg = narg - 1
    if narg == 0 then
      msg = "calling '" .. tostring(name) .. "' on bad self (" .. extramsg .. ")"
    end
  end
  if msg == nil then
    msg = "bad argument #" .. narg .. " to '" .. (name or "?") .. "' (" .. extramsg .. ")"
  end
  error(msg, level + 1)
end

-- lua_typename(lua_type(L, narg)), where a missing argument is "no value".
local function typename(value, present)
  if not present then
    return "no value"
  end
  return type(value)
end
rt.typename = typename

function rt.typeerror(narg, expected, value, present)
  rt.argerror(narg, expected .. " expected, got " .. typename(value, present))
end

-- (lua_Integer)d on x86-64: truncation, with out-of-range values and NaN becoming INT64_MIN.
local INT64_MIN = -9223372036854775808
local function tointeger(d)
  if d ~= d or d >= 9223372036854775808 or d < INT64_MIN then
    return INT64_MIN
  end
  if d >= 0 then
    return floor(d)
  end
  return ceil(d)
end
rt.tointeger = tointeger

-- (int)x for a 64-bit integer value x: keep the low 32 bits, signed.
function rt.toint32(x)
  x = x % 4294967296
  if x >= 2147483648 then
    x = x - 4294967296
  end
  return x
end

-- luaL_checknumber: numbers and strings that convert to numbers.
function rt.checknumber(narg, value, present)
  local n = tonumber(value)
  if n == nil or type(value) ~= "number" and type(value) ~= "string" then
    rt.typeerror(narg, "number", value, present)
  end
  return n
end

-- luaL_checkinteger: as luaL_checknumber, then (lua_Integer) truncation.
function rt.checkinteger(narg, value, present)
  return tointeger(rt.checknumber(narg, value, present))
end

-- luaL_optinteger: nil or a missing argument gives the default.
function rt.optinteger(narg, value, present, default)
  if value == nil then
    return default
  end
  return rt.checkinteger(narg, value, present)
end

-- luaL_checklstring: strings, and numbers converted the way lua_tolstring does.
function rt.checkstring(narg, value, present)
  local t = type(value)
  if t == "string" then
    return value
  end
  if t == "number" then
    return tostring(value)
  end
  rt.typeerror(narg, "string", value, present)
end

-- Return t[i..j] as multiple values. unpack() refuses more than its own C frame can hold,
-- so large counts are peeled off one value per call first.
local function ret(t, i, j)
  if j - i < 7000 then
    return unpack(t, i, j)
  end
  return t[i], ret(t, i + 1, j)
end
rt.ret = ret

-- ---------------------------------------------------------------------------------------
-- IEEE 754 bit patterns

-- 0/0 on x86-64 is the "default NaN", whose sign bit is set; C libraries copy NaNs bit for
-- bit, so both signs are kept apart. printf shows the sign ("-nan"), which is how a NaN's
-- sign is read back.
local nan_a = 0 / 0
local nan_b = -nan_a
local nan_negative, nan_positive
if byte(tostring(nan_a)) == 45 then
  nan_negative, nan_positive = nan_a, nan_b
else
  nan_negative, nan_positive = nan_b, nan_a
end
rt.nan_negative = nan_negative
rt.nan_positive = nan_positive

local function nan_is_negative(x)
  return byte(tostring(x)) == 45 -- "-nan"
end

local function is_negative(x)
  return x < 0 or (x == 0 and 1 / x < 0)
end

local TWO32 = 4294967296
local TWO52 = 4503599627370496

-- The double x as two unsigned 32-bit halves (high word first).
function rt.double_bits(x)
  if x ~= x then
    return nan_is_negative(x) and 0xFFF80000 or 0x7FF80000, 0
  end
  local sign = 0
  if is_negative(x) then
    sign = 0x80000000
    x = -x
  end
  if x == huge then
    return sign + 0x7FF00000, 0
  end
  if x == 0 then
    return sign, 0
  end
  local m, e = frexp(x) -- x = m * 2^e, 0.5 <= m < 1
  local biased = e + 1022
  local mantissa
  if biased <= 0 then
    biased = 0
    mantissa = ldexp(x, 1074) -- subnormal: units of 2^-1074
  else
    mantissa = (m * 2 - 1) * TWO52
  end
  return sign + biased * 0x100000 + floor(mantissa / TWO32), mantissa % TWO32
end

-- The double whose bit pattern is (hi, lo).
function rt.bits_double(hi, lo)
  local negative = hi >= 0x80000000
  if negative then
    hi = hi - 0x80000000
  end
  local biased = floor(hi / 0x100000)
  local mantissa = (hi % 0x100000) * TWO32 + lo
  local value
  if biased == 0x7FF then
    if mantissa ~= 0 then
      return negative and nan_negative or nan_positive
    end
    value = huge
  elseif biased == 0 then
    value = ldexp(mantissa, -1074)
  else
    value = ldexp(mantissa + TWO52, biased - 1075)
  end
  if negative then
    value = -value
  end
  return value
end

-- (float)x as an unsigned 32-bit pattern, rounding to nearest-even and overflowing to
-- infinity as the C conversion does; the second result says whether the float equals x.
function rt.float_bits(x)
  if x ~= x then
    return nan_is_negative(x) and 0xFFC00000 or 0x7FC00000, false
  end
  local sign = 0
  if is_negative(x) then
    sign = 0x80000000
    x = -x
  end
  if x == huge then
    return sign + 0x7F800000, true
  end
  if x == 0 then
    return sign, true
  end
  local m, e = frexp(x)
  local q, base
  if e >= -125 then
    -- normal float: 24 significant bits, leading bit at 2^(e-1)
    q = ldexp(m, 24)
    base = (e + 126) * 0x800000 - 0x800000
  else
    -- subnormal float: units of 2^-149
    q = ldexp(x, 149)
    base = 0
  end
  local r = floor(q)
  local frac = q - r
  if frac > 0.5 or (frac == 0.5 and r % 2 == 1) then
    r = r + 1
  end
  local bits = base + r
  local exact = frac == 0
  if bits >= 0x7F800000 then
    bits = 0x7F800000
    exact = false
  end
  return sign + bits, exact
end

-- The float whose bit pattern is `bits`, as a Lua number.
function rt.bits_float(bits)
  local negative = bits >= 0x80000000
  if negative then
    bits = bits - 0x80000000
  end
  local biased = floor(bits / 0x800000)
  local mantissa = bits % 0x800000
  local value
  if biased == 0xFF then
    if mantissa ~= 0 then
      return negative and nan_negative or nan_positive
    end
    value = huge
  elseif biased == 0 then
    value = ldexp(mantissa, -149)
  else
    value = ldexp(mantissa + 0x800000, biased - 150)
  end
  if negative then
    value = -value
  end
  return value
end

return rt
