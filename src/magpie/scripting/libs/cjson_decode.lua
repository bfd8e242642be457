-- The decoder of cjson.lua, Lua CJSON 2.1.0's as Redis builds it.
--
-- It follows the C tokenizer step for step, because its error messages name the token it
-- found ("Expected value but found invalid token at character 1") and the 1-based byte
-- position where that token starts. Like the C code it reads the input as a
-- NUL-terminated string: a NUL byte ends the document. Plain JSON first goes through the
-- faster parser of cjson_fast.lua, which hands anything unusual back to this one.
--
-- Returns { decode = function(s, cfg), null = <the JSON null> }.

local rt, make_fast_decoder = ...
local byte, char, sub, find, lower = string.byte, string.char, string.sub, string.find, string.lower
local floor, rawset, tonumber = math.floor, rawset, tonumber
local concat = table.concat
local MAXCSTACK = rt.MAXCSTACK

-- Redis's cjson.null is a NULL lightuserdata, which Lua code cannot create. A userdata
-- proxy stands in: type() "userdata", tostring() "userdata: (nil)", shared by every
-- instance made with cjson.new() as NULL is, and with a locked metatable so one script
-- cannot change it under the next.
local null = newproxy(true)
do
  local mt = getmetatable(null)
  mt.__tostring = function()
    return "userdata: (nil)"
  end
  mt.__metatable = false
end

local T_OBJ_BEGIN, T_OBJ_END, T_ARR_BEGIN, T_ARR_END = "T_OBJ_BEGIN", "T_OBJ_END",
  "T_ARR_BEGIN", "T_ARR_END"
local T_STRING, T_NUMBER, T_BOOLEAN, T_NULL = "T_STRING", "T_NUMBER", "T_BOOLEAN", "T_NULL"
local T_COLON, T_COMMA, T_END, T_ERROR = "T_COLON", "T_COMMA", "T_END", "T_ERROR"

local SINGLE = {
  [123] = T_OBJ_BEGIN, [125] = T_OBJ_END, [91] = T_ARR_BEGIN, [93] = T_ARR_END,
  [58] = T_COLON, [44] = T_COMMA,
}

local ESCAPE_CHAR = {
  [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [116] = "\t", [110] = "\n",
  [102] = "\f", [114] = "\r",
}

local function utf8(cp)
  if cp <= 0x7F then
    return char(cp)
  elseif cp <= 0x7FF then
    return char(0xC0 + floor(cp / 64), 0x80 + cp % 64)
  elseif cp <= 0xFFFF then
    return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64,
    0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

local function hex4(s, pos)
  if find(s, "^%x%x%x%x", pos) then
    return tonumber(sub(s, pos, pos + 3), 16)
  end
  return nil
end

-- \uXXXX (or a surrogate pair) at s[pos]; returns the UTF-8 bytes and the escape length.
local function unicode_escape(s, pos)
  local cp = hex4(s, pos + 2)
  if cp == nil then
    return nil
  end
  local length = 6
  if cp >= 0xD800 and cp <= 0xDFFF then
    if cp >= 0xDC00 then
      return nil -- a low surrogate cannot come first
    end
    if sub(s, pos + 6, pos + 7) ~= "\\u" then
      return nil
    end
    local low = hex4(s, pos + 8)
    if low == nil or low < 0xDC00 or low > 0xDFFF then
      return nil
    end
    cp = (cp - 0xD800) * 1024 + (low - 0xDC00) + 0x10000
    length = 12
  end
  return utf8(cp), length
end

local fast_decode = make_fast_decoder(null, unicode_escape, ESCAPE_CHAR, MAXCSTACK)

-- The token starting at st.pos: sets st.type, st.value, st.index (0-based start) and
-- advances st.pos past it. Error tokens carry the error text as their value and the
-- position the tokenizer stopped at.
local function set_error(st, pos, text)
  st.type, st.value, st.index = T_ERROR, text, pos - 1
end

local function string_token(st)
  local s = st.s
  local pos = st.pos + 1
  local parts, n = {}, 0
  while true do
    local at = find(s, '["\\]', pos)
    if at == nil then
      set_error(st, #s + 1, "unexpected end of string")
      return
    end
    if at > pos then
      n = n + 1
      parts[n] = sub(s, pos, at - 1)
    end
    if byte(s, at) == 34 then
      pos = at + 1
      break
    end
    local e = byte(s, at + 1)
    if e == 117 then -- \u
      local bytes, length = unicode_escape(s, at)
      if bytes == nil then
        set_error(st, at, "invalid unicode escape code")
        return
      end
      n = n + 1
      parts[n] = bytes
      pos = at + length
    else
      local c = ESCAPE_CHAR[e]
      if c == nil then
        set_error(st, at, "invalid escape code")
        return
      end
      n = n + 1
      parts[n] = c
      pos = at + 2
    end
  end
  st.type, st.value, st.pos = T_STRING, concat(parts, "", 1, n), pos
end

-- glibc strtod(): the longest prefix of s[pos..] that is a number, and where it ends;
-- nil when there is none.
local function strtod(s, pos)
  local i = pos
  local c = byte(s, i)
  if c == 43 or c == 45 then
    i = i + 1
  end
  local c1, c2 = byte(s, i, i + 1)
  if c1 == 48 and (c2 == 120 or c2 == 88) then
    local _, e = find(s, "^%x*", i + 2)
    local digits = e - (i + 2) + 1
    local k = e + 1
    if byte(s, k) == 46 then
      local _, e2 = find(s, "^%x*", k + 1)
      if digits + (e2 - k) > 0 then
        digits = digits + (e2 - k)
        k = e2 + 1
      end
    end
    if digits > 0 then
      local _, e3 = find(s, "^[pP][-+]?%d+", k)
      if e3 then
        k = e3 + 1
      end
      return tonumber(sub(s, pos, k - 1)), k
    end
  end
  local word = lower(sub(s, i, i + 2))
  if word == "inf" then
    local k = i + 3
    if lower(sub(s, k, k + 4)) == "inity" then
      k = k + 5
    end
    return tonumber(sub(s, pos, k - 1)), k
  elseif word == "nan" then
    local k = i + 3
    if byte(s, k) == 40 then
      local _, e = find(s, "^[%w_]*%)", k + 1)
      if e then
        k = e + 1
      end
    end
    return tonumber(sub(s, pos, k - 1)), k
  end
  local _, e = find(s, "^%d*", i)
  local digits = e - i + 1
  local k = e + 1
  if byte(s, k) == 46 then
    local _, e2 = find(s, "^%d*", k + 1)
    if digits + (e2 - k) > 0 then
      digits = digits + (e2 - k)
      k = e2 + 1
    end
  end
  if digits == 0 then
    return nil
  end
  local _, e3 = find(s, "^[eE][-+]?%d+", k)
  if e3 then
    k = e3 + 1
  end
  return tonumber(sub(s, pos, k - 1)), k
end

-- json_is_invalid_number(): what strtod accepts but strict JSON does not.
local function is_invalid_number(s, pos)
  local c = byte(s, pos)
  if c == 43 then
    return true
  end
  if c == 45 then
    pos = pos + 1
    c = byte(s, pos)
  end
  if c == 48 then
    local c2 = byte(s, pos + 1)
    return c2 == 120 or c2 == 88 or (c2 ~= nil and c2 >= 48 and c2 <= 57)
  elseif c == nil or c <= 57 then
    return false
  end
  local word = lower(sub(s, pos, pos + 2))
  return word == "inf" or word == "nan"
end

local function number_token(st)
  local value, stop = strtod(st.s, st.pos)
  if value == nil then
    set_error(st, st.pos, "invalid number")
    return
  end
  st.type, st.value, st.pos = T_NUMBER, value, stop
end

local function next_token(st)
  local s = st.s
  local pos = find(s, "[^ \t\n\r]", st.pos) or (#s + 1)
  st.pos = pos
  st.index = pos - 1
  local c = byte(s, pos)
  if c == nil then
    st.type = T_END
    return
  end
  local single = SINGLE[c]
  if single then
    st.type = single
    st.pos = pos + 1
    return
  end
  if c == 34 then
    string_token(st)
  elseif c == 45 or (c >= 48 and c <= 57) then
    if st.cfg.decode_invalid_numbers == 0 and is_invalid_number(s, pos) then
      set_error(st, pos, "invalid number")
    else
      number_token(st)
    end
  elseif c == 116 and sub(s, pos, pos + 3) == "true" then
    st.type, st.value, st.pos = T_BOOLEAN, true, pos + 4
  elseif c == 102 and sub(s, pos, pos + 4) == "false" then
    st.type, st.value, st.pos = T_BOOLEAN, false, pos + 5
  elseif c == 110 and sub(s, pos, pos + 3) == "null" then
    st.type, st.value, st.pos = T_NULL, null, pos + 4
  elseif (c == 43 or c == 105 or c == 73 or c == 110 or c == 78)
    and st.cfg.decode_invalid_numbers ~= 0 and is_invalid_number(s, pos) then
    number_token(st)
  else
    set_error(st, pos, "invalid token")
  end
end

local function parse_error(st, expected)
  local found = st.type
  if found == T_ERROR then
    found = st.value
  end
  rt.error("Expected " .. expected .. " but found " .. found .. " at character " .. (st.index + 1))
end

local parse_value

local function descend(st, top, slots)
  st.depth = st.depth + 1
  if st.depth > st.cfg.decode_max_depth or top + slots > MAXCSTACK then
    rt.error("Found too many nested data structures (" .. st.depth .. ") at character "
      .. (st.pos - 1))
  end
end

local function parse_object(st, top)
  descend(st, top, 3)
  local t = {}
  next_token(st)
  if st.type == T_OBJ_END then
    st.depth = st.depth - 1
    return t
  end
  while true do
    if st.type ~= T_STRING then
      parse_error(st, "object key string")
    end
    local key = st.value
    next_token(st)
    if st.type ~= T_COLON then
      parse_error(st, "colon")
    end
    next_token(st)
    rawset(t, key, parse_value(st, top + 2))
    next_token(st)
    if st.type == T_OBJ_END then
      st.depth = st.depth - 1
      return t
    end
    if st.type ~= T_COMMA then
      parse_error(st, "comma or object end")
    end
    next_token(st)
  end
end

local function parse_array(st, top)
  descend(st, top, 2)
  local t = {}
  next_token(st)
  if st.type == T_ARR_END then
    st.depth = st.depth - 1
    return t
  end
  local i = 1
  while true do
    rawset(t, i, parse_value(st, top + 1))
    next_token(st)
    if st.type == T_ARR_END then
      st.depth = st.depth - 1
      return t
    end
    if st.type ~= T_COMMA then
      parse_error(st, "comma or array end")
    end
    next_token(st)
    i = i + 1
  end
end

-- json_process_value(): the value whose first token is the current one.
function parse_value(st, top)
  local kind = st.type
  if kind == T_STRING or kind == T_NUMBER or kind == T_BOOLEAN or kind == T_NULL then
    return st.value
  elseif kind == T_OBJ_BEGIN then
    return parse_object(st, top)
  elseif kind == T_ARR_BEGIN then
    return parse_array(st, top)
  end
  parse_error(st, "value")
end

-- The value of the JSON document s, with the settings of one cjson instance.
local function decode(s, cfg)
  if #s >= 2 and (byte(s, 1) == 0 or byte(s, 2) == 0) then
    rt.error("JSON parser does not support UTF-16 or UTF-32")
  end
  local nul = find(s, "\0", 1, true)
  if nul then
    s = sub(s, 1, nul - 1)
  end
  local ok, decoded = fast_decode(s, cfg.decode_max_depth)
  if ok then
    return decoded
  end
  local st = { s = s, pos = 1, depth = 0, cfg = cfg }
  next_token(st)
  local value = parse_value(st, 1)
  next_token(st)
  if st.type ~= T_END then
    parse_error(st, "the end")
  end
  return value
end

return { decode = decode, null = null }
