-- The fast path of cjson.decode: a lean recursive-descent parser for the documents that
-- matter in practice (plain JSON), about three times quicker than cjson.lua's tokenizer,
-- which follows the C code step for step.
--
-- It is deliberately conservative: whenever the input is anything but well-formed plain
-- JSON (a syntax error, a lenient number such as 0x10 or +1 or 1., Infinity, NaN, too
-- deep a nesting) it gives up and returns nothing, and the exact parser decodes the
-- document again from the start, producing its value or its precise error. Whatever this
-- parser does accept, the exact parser decodes to the same value.
--
-- This chunk returns a factory; cjson.lua calls it with the pieces both parsers share.

local byte, sub, find, tonumber = string.byte, string.sub, string.find, tonumber
local concat = table.concat

return function(null, unicode_escape, escape_char, maxcstack)
  local parse_value

  local function skip(s, pos)
    local c = byte(s, pos)
    if c == 32 or c == 9 or c == 10 or c == 13 then
      local _, e = find(s, "^[ \t\n\r]*", pos)
      return e + 1
    end
    return pos
  end

  -- s[pos] is the opening quote
  local function parse_string(s, pos)
    local at = find(s, '["\\]', pos + 1)
    if at == nil then
      return nil
    end
    if byte(s, at) == 34 then
      return sub(s, pos + 1, at - 1), at + 1
    end
    local parts, n, p = {}, 0, pos + 1
    while true do
      if at > p then
        n = n + 1
        parts[n] = sub(s, p, at - 1)
      end
      if byte(s, at) == 34 then
        return concat(parts, "", 1, n), at + 1
      end
      local e = byte(s, at + 1)
      if e == 117 then
        local bytes, length = unicode_escape(s, at)
        if bytes == nil then
          return nil
        end
        n = n + 1
        parts[n] = bytes
        p = at + length
      else
        local c = escape_char[e]
        if c == nil then
          return nil
        end
        n = n + 1
        parts[n] = c
        p = at + 2
      end
      at = find(s, '["\\]', p)
      if at == nil then
        return nil
      end
    end
  end

  -- Strict JSON numbers only, and only when the next byte could not extend the number
  -- for strtod (so that "1.", "1e", "0x1" or "01" go to the exact parser).
  local function parse_number(s, pos)
    local _, e = find(s, "^-?%d+", pos)
    if e == nil then
      return nil
    end
    local first = byte(s, pos) == 45 and pos + 1 or pos
    if e > first and byte(s, first) == 48 then
      return nil
    end
    local _, f = find(s, "^%.%d+", e + 1)
    if f then
      e = f
    end
    local _, x = find(s, "^[eE][-+]?%d+", e + 1)
    if x then
      e = x
    end
    local c = byte(s, e + 1)
    if c ~= nil and (c == 46 or (c >= 48 and c <= 57) or (c >= 65 and c <= 90)
      or (c >= 97 and c <= 122) or c == 43 or c == 45) then
      return nil
    end
    return tonumber(sub(s, pos, e)), e + 1
  end

  local function parse_array(s, pos, depth, top, maxdepth)
    if depth > maxdepth or top + 2 > maxcstack then
      return nil
    end
    local t = {}
    pos = skip(s, pos)
    if byte(s, pos) == 93 then
      return t, pos + 1
    end
    local i = 0
    while true do
      local value
      value, pos = parse_value(s, pos, depth, top + 1, maxdepth)
      if pos == nil then
        return nil
      end
      i = i + 1
      t[i] = value
      pos = skip(s, pos)
      local c = byte(s, pos)
      if c == 93 then
        return t, pos + 1
      elseif c ~= 44 then
        return nil
      end
      pos = skip(s, pos + 1)
    end
  end

  local function parse_object(s, pos, depth, top, maxdepth)
    if depth > maxdepth or top + 3 > maxcstack then
      return nil
    end
    local t = {}
    pos = skip(s, pos)
    if byte(s, pos) == 125 then
      return t, pos + 1
    end
    while true do
      if byte(s, pos) ~= 34 then
        return nil
      end
      local key, value
      key, pos = parse_string(s, pos)
      if pos == nil then
        return nil
      end
      pos = skip(s, pos)
      if byte(s, pos) ~= 58 then
        return nil
      end
      value, pos = parse_value(s, skip(s, pos + 1), depth, top + 2, maxdepth)
      if pos == nil then
        return nil
      end
      t[key] = value
      pos = skip(s, pos)
      local c = byte(s, pos)
      if c == 125 then
        return t, pos + 1
      elseif c ~= 44 then
        return nil
      end
      pos = skip(s, pos + 1)
    end
  end

  -- the value starting exactly at s[pos]; returns value, next position (nil: give up)
  function parse_value(s, pos, depth, top, maxdepth)
    local c = byte(s, pos)
    if c == 34 then
      return parse_string(s, pos)
    elseif c == 123 then
      return parse_object(s, pos + 1, depth + 1, top, maxdepth)
    elseif c == 91 then
      return parse_array(s, pos + 1, depth + 1, top, maxdepth)
    elseif c == 45 or (c ~= nil and c >= 48 and c <= 57) then
      return parse_number(s, pos)
    elseif c == 116 and sub(s, pos, pos + 3) == "true" then
      return true, pos + 4
    elseif c == 102 and sub(s, pos, pos + 4) == "false" then
      return false, pos + 5
    elseif c == 110 and sub(s, pos, pos + 3) == "null" then
      return null, pos + 4
    end
    return nil
  end

  -- The decoded document, or nothing when the exact parser has to decide.
  return function(s, maxdepth)
    local value, pos = parse_value(s, skip(s, 1), 0, 1, maxdepth)
    if pos ~= nil and skip(s, pos) == #s + 1 then
      return true, value
    end
    return false
  end
end
