-- Magpie's script environment: what Redis 7.0 offers a script, built on stock Lua 5.1.
--
-- Run once per interpreter (chunk name "=magpie", which error positions skip). Redis's
-- Lua has read-only tables built in; stock Lua has not, so every table a script can
-- reach (the globals, redis, string, math, ...) is a proxy whose writes fail with
-- Redis's error text, in front of the real table the server keeps for itself.
--
-- Arguments: the Python callables behind redis.* (see engine.py) and the version.
-- Returns the internals engine.py drives: compile, run_eval, run_function, ...
--
-- redis.call is the Python function itself, so that Lua sees a C function (no tail call
-- hides the script's line): its errors arrive as userdata wrapping a Python exception,
-- which py_unwrap turns back into Redis's error table.

local py_call, py_pcall, py_unwrap, py_log, py_sha1hex, py_setresp, py_set_repl, py_acl_check,
      py_hook, py_random, py_randomseed, version, version_num, library_sources, for_functions = ...

-- Frames of Magpie's own Lua (this chunk, the cjson/cmsgpack/bit/struct libraries): error
-- positions skip them, as Redis's skip its C functions.
local internal = {['=magpie'] = true}
for source in pairs(library_sources or {}) do internal[source] = true end

local G = _G
local dbg = debug
local error, type, tostring, tonumber, select, rawget, rawset, rawequal, next, pairs, ipairs =
      error, type, tostring, tonumber, select, rawget, rawset, rawequal, next, pairs, ipairs
local setmetatable, getmetatable, xpcall, pcall, loadstring, setfenv, getfenv, unpack =
      setmetatable, getmetatable, xpcall, pcall, loadstring, setfenv, getfenv, unpack
local floor = math.floor
local os_clock = os.clock
local string_byte, string_format = string.byte, string.format

-- What Redis does not load, or removes once it is set up.
for _, name in ipairs({'io', 'os', 'package', 'require', 'module', 'dofile', 'loadfile',
                       'print', 'python', 'debug', 'getfenv', 'setfenv', 'newproxy'}) do
  rawset(G, name, nil)
end

local READONLY = 'Attempt to modify a readonly table'
local real_of = setmetatable({}, {__mode = 'k'})  -- proxy -> the table behind it

local function refuse_write()
  error(READONLY, 2)
end

-- A read-only view of ``t``: reads go through to it, writes fail. Its metatable, as
-- getmetatable shows it, is read-only too.
local function read_only_metatable(mt)
  mt.__metatable = setmetatable({}, {__index = mt, __newindex = refuse_write})
  return mt
end

local function protect(t)
  local proxy = {}
  real_of[proxy] = t
  return setmetatable(proxy, read_only_metatable({__index = t, __newindex = refuse_write}))
end

local function unwrap(t)
  return real_of[t] or t
end

-- Builtins that would let a script write through a proxy, or see past it.
G.rawset = function(t, k, v)
  if real_of[t] then error(READONLY, 0) end
  return rawset(t, k, v)
end
G.setmetatable = function(t, mt)
  if real_of[t] then error(READONLY, 0) end
  return setmetatable(t, mt)
end
G.rawget = function(t, k) return rawget(unwrap(t), k) end
G.next = function(t, k) return next(unwrap(t), k) end
G.pairs = function(t) return next, unwrap(t), nil end
G.ipairs = function(t) return ipairs(unwrap(t)) end
G.unpack = function(t, i, j) return unpack(unwrap(t), i, j) end
G.loadstring = function(s, name)
  if type(s) == 'string' and string_byte(s, 1) == 27 then  -- Redis's Lua parses text only
    return nil, string_format('[string "%s"]:1: unexpected symbol near \'<\\27>\'', name or '?')
  end
  return loadstring(s, name)
end

-- redis.pcall hands back Redis error tables; Lua's own pcall gives their text instead,
-- as in Redis 7 (older scripts compare error strings).
local function pcall_results(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == 'userdata' then e = py_unwrap(e) end
  if type(e) == 'table' then
    local text = rawget(e, 'err')
    if type(text) == 'string' or type(text) == 'number' then return false, text end
  end
  return false, e
end
G.pcall = function(f, ...)
  return pcall_results(pcall(f, ...))
end
-- A script's own error handler, and coroutine.resume, see error tables, never the
-- userdata a Python function's error travels in.
G.xpcall = function(f, handler)
  return xpcall(f, function(e)
    if type(e) == 'userdata' then e = py_unwrap(e) end
    return handler(e)
  end)
end
local resume = coroutine.resume
local function resume_results(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == 'userdata' then e = py_unwrap(e) end
  return false, e
end
G.coroutine.resume = function(co, ...)
  return resume_results(resume(co, ...))
end
-- Userdata metatables are lupa's (and cjson.null's): not for scripts, as in Redis, whose
-- userdata are light and have none.
G.getmetatable = function(t)
  if type(t) == 'userdata' then return nil end
  return getmetatable(t)
end

-- Redis's math.random and math.randomseed (Python: C functions to Lua, see redis.call).
G.math.random = py_random
G.math.randomseed = py_randomseed
G.os = {clock = os_clock}  -- Redis 7.2's one os function, harmless and often asked for

local redis = {call = py_call, pcall = py_pcall}

-- Redis's error table from an error text: "-CODE msg" keeps its code, anything else
-- becomes "ERR text"; a trailing CR/LF is dropped.
local function error_table(text)
  local code, msg
  if string_byte(text, 1) == 45 then  -- '-'
    local space = text:find(' ', 1, true)
    if space then
      code, msg = text:sub(2, space - 1), text:sub(space + 1)
    else
      code, msg = 'ERR', text:sub(2)
    end
  else
    code, msg = 'ERR', text
  end
  msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return {err = code .. ' ' .. msg}
end

function redis.error_reply(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then
    return error_table('wrong number or type of arguments')
  end
  if string_byte(e, 1) ~= 45 then e = '-' .. e end
  return error_table(e)
end
function redis.status_reply(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return error_table('wrong number or type of arguments')
  end
  return {ok = s}
end
-- (the ones that can raise are Python functions, C functions to Lua: a tail call of a Lua
-- function would lose the script's line from the error)
redis.sha1hex = py_sha1hex
redis.log = py_log
redis.setresp = py_setresp
redis.set_repl = py_set_repl
redis.acl_check_cmd = py_acl_check
if not for_functions then  -- EVAL's alone (Redis's scriptingInit adds them, not the functions engine)
  function redis.replicate_commands() return true end
  function redis.breakpoint() return false end
  function redis.debug() end
end
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = version, version_num
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3

-- Where an error happened, as Redis's __redis__err__handler reports it: the frame that
-- raised it, or its caller when that was a C function; Magpie's own frames are skipped.
local function error_handler(err)
  local from_python = type(err) == 'userdata'
  if from_python then err = py_unwrap(err) end
  local level = 2
  local info = dbg.getinfo(level, 'nSl')
  if info and info.what == 'C' then
    level = level + 1
    info = dbg.getinfo(level, 'nSl')
  end
  -- (a Lua function called in tail position leaves a "(tail call)" frame: skipped too)
  while info and (internal[info.source] or info.what == 'tail') do
    level = level + 1
    info = dbg.getinfo(level, 'nSl')
  end
  if info and info.what == 'C' then info = nil end  -- (reached the call into the script)
  if from_python and type(err) == 'string' and info then
    err = info.short_src .. ':' .. info.currentline .. ': ' .. err  -- (as luaL_error words it)
  end
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if info then
    err.source = info.source
    err.line = info.currentline
  end
  return err
end

G.redis = redis
if not for_functions then G.__redis__err__handler = error_handler end

-- The library proxies, then the globals' own; _G names the proxy, not the real table.
for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'os', 'redis',
                       'cjson', 'cmsgpack', 'bit', 'struct'}) do
  local lib = rawget(G, name)
  if type(lib) == 'table' then
    for key, value in next, lib do
      if type(value) == 'table' and key ~= '__index' then rawset(lib, key, protect(value)) end
    end
    rawset(G, name, protect(lib))
  end
end
-- What scripts see as their globals: a copy of the real table, so the lookup of a missing
-- name can be an error (Redis's) without the real one, which lupa reads too, raising; the
-- proxy in front makes it read-only. Lookups go table to table at C speed.
local S = {}
for name, value in next, G do S[name] = value end
local function missing_global(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
setmetatable(S, {__index = missing_global, __newindex = refuse_write, __metatable = false})
-- (While a function library's code runs, FUNCTION LOAD swaps the proxy's __index for the
-- library API, as Redis swaps its globals' __index for __LIBRARY_API__.)
local globals_meta = read_only_metatable({__index = S, __newindex = refuse_write})
local globals_proxy = setmetatable({}, globals_meta)
real_of[globals_proxy] = S
rawset(S, '_G', globals_proxy)
-- py_hook answers nil to go on, or the text of the error that ends the script.
local function kill_hook()
  local message = py_hook()
  if message then
    local where = dbg.getinfo(2, 'S')
    if where and internal[where.source] then return end  -- (our error handler, say)
    dbg.sethook(kill_hook, 'l')  -- from now on at every line, so pcall cannot outlive it
    error(error_table(message), 0)
  end
end

local internals = {}

-- Compile a script body under its chunk name; the function runs with the proxy as its
-- globals. Returns the function, or nil and the compiler's message.
function internals.compile(body, chunkname)
  local f, message = loadstring(body, chunkname)
  if f == nil then return nil, message end
  setfenv(f, globals_proxy)
  return f
end

-- The instruction hook stays set (Redis sets it per script; a count hook costs nothing
-- between firings, and py_hook ignores firings outside a script). After a kill it runs
-- at every line until reset_hook.
function internals.reset_hook()
  dbg.sethook(kill_hook, '', 100000)
end
internals.reset_hook()

-- The first nkeys arguments as the keys table, the rest as the args table.
local function split_keys(nkeys, ...)
  local keys, args = {}, {...}
  if nkeys > 0 then
    local count = #args
    for i = 1, nkeys do keys[i] = args[i] end
    for i = nkeys + 1, count do args[i - nkeys] = args[i] end
    for i = count - nkeys + 1, count do args[i] = nil end
  end
  return keys, args
end

-- Run an EVAL script: KEYS and ARGV are globals, one result comes back.
function internals.run_eval(f, nkeys, ...)
  local keys, argv = split_keys(nkeys, ...)
  rawset(S, 'KEYS', keys)
  rawset(S, 'ARGV', argv)
  local ok, result = xpcall(f, error_handler)
  return ok, result
end

-- Run a function library's callback with its keys and args tables.
function internals.run_function(f, nkeys, ...)
  local keys, args = split_keys(nkeys, ...)
  local ok, result = xpcall(function() return f(keys, args) end, error_handler)
  return ok, result
end

-- FUNCTION LOAD: what a library's code may use while it runs (Redis 7.0's library API):
-- only redis.register_function, redis.log, the versions and the log levels; anything
-- else is a missing global. Its registrations are collected here.
local registering = nil  -- {names = {[name] = true}, list = {{name, callback, flags, description}}}

local function register_error(text)
  error(error_table(text), 0)
end

local function as_string(value)  -- lua_isstring: numbers count, as their text
  local kind = type(value)
  if kind == 'string' then return value end
  if kind == 'number' then return tostring(value) end
  return nil
end

local FLAG_NAMES = {'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}

local function read_flags(given)
  local seen = {}
  local i = 1
  while true do
    local value = given[i]
    if value == nil then break end
    local text = as_string(value)
    if text == nil then register_error('unknown flag given') end
    local known = false
    for _, flag in ipairs(FLAG_NAMES) do
      if flag == text:lower() then seen[flag] = true; known = true; break end
    end
    if not known then register_error('unknown flag given') end
    i = i + 1
  end
  local flags = {}
  for _, flag in ipairs(FLAG_NAMES) do
    if seen[flag] then flags[#flags + 1] = flag end
  end
  return flags
end

local function named_arguments(spec)
  if type(spec) ~= 'table' then
    register_error('calling redis.register_function with a single argument is only applicable to '
                   .. 'Lua table (representing named arguments).')
  end
  local name, description, callback, flags = nil, nil, nil, {}
  for key, value in next, spec do
    local text = as_string(key)
    if text == nil then register_error('named argument key given to redis.register_function is not a string') end
    text = text:lower()
    if text == 'function_name' then
      name = as_string(value)
      if name == nil then
        register_error('function_name argument given to redis.register_function must be a string')
      end
    elseif text == 'description' then
      description = as_string(value)
      if description == nil then
        register_error('description argument given to redis.register_function must be a string')
      end
    elseif text == 'callback' then
      if type(value) ~= 'function' then
        register_error('callback argument given to redis.register_function must be a function')
      end
      callback = value
    elseif text == 'flags' then
      if type(value) ~= 'table' then
        register_error('flags argument to redis.register_function must be a table representing function flags')
      end
      flags = read_flags(value)
    else
      register_error('unknown argument given to redis.register_function')
    end
  end
  if name == nil then register_error('redis.register_function must get a function name argument') end
  if callback == nil then register_error('redis.register_function must get a callback argument') end
  return name, callback, flags, description
end

local function register_function(...)
  if registering == nil then
    register_error('redis.register_function can only be called on FUNCTION LOAD command')
  end
  local count = select('#', ...)
  if count < 1 or count > 2 then register_error('wrong number of arguments to redis.register_function') end
  local name, callback, flags, description
  if count == 1 then
    name, callback, flags, description = named_arguments((...))
  else
    local first, second = ...
    name = as_string(first)
    if name == nil then register_error('first argument to redis.register_function must be a string') end
    if type(second) ~= 'function' then
      register_error('second argument to redis.register_function must be a function')
    end
    callback, flags = second, {}
  end
  if name == '' or name:find('[^A-Za-z0-9_]') then  -- (Redis's text says library here too)
    register_error('Library names can only contain letters, numbers, or underscores(_) and must be '
                   .. 'at least one character long')
  end
  if registering.names[name] then register_error('Function already exists in the library') end
  registering.names[name] = true
  local list = registering.list
  list[#list + 1] = {name, callback, flags, description}
end

local function library_table(fields)
  return setmetatable({}, {__index = function(_, name)
    local value = rawget(fields, name)
    if value == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return value
  end, __newindex = refuse_write})
end

local load_api = {redis = library_table({
  register_function = register_function, log = rawget(redis, 'log'),
  REDIS_VERSION = version, REDIS_VERSION_NUM = version_num,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
})}
setmetatable(load_api, {__index = missing_global, __newindex = refuse_write, __metatable = false})

-- Run a library's code so that it registers its functions. Returns true and the
-- registrations, or false, the stage that failed ('compile' or 'run') and the message.
-- ``timeout`` (seconds, 0 for none) is checked every 100,000 instructions with ``clock``.
function internals.load_library(body, timeout, clock)
  local f, message = loadstring(body, '@user_function')
  if f == nil then return false, 'compile', message end
  setfenv(f, globals_proxy)
  local deadline = timeout > 0 and clock() + timeout or nil
  local function load_hook()
    if deadline and clock() > deadline then
      local where = dbg.getinfo(2, 'S')
      if where and internal[where.source] then return end  -- (past the pcall, here, say)
      dbg.sethook(load_hook, 'l')  -- from now on at every line
      error(error_table('FUNCTION LOAD timeout'), 0)
    end
  end
  registering = {names = {}, list = {}}
  local globals_index = globals_meta.__index
  globals_meta.__index = load_api
  dbg.sethook(load_hook, '', 100000)
  local ok, err = pcall(f)
  internals.reset_hook()  -- the instruction hook for scripts, as it always is
  globals_meta.__index = globals_index
  local list = registering.list
  registering = nil
  if ok then return true, list end
  if type(err) == 'userdata' then err = py_unwrap(err) end
  local text
  if type(err) == 'string' or type(err) == 'number' then
    text = 'ERR ' .. tostring(err)
  elseif type(err) == 'table' and (type(rawget(err, 'err')) == 'string' or type(rawget(err, 'err')) == 'number') then
    text = tostring(rawget(err, 'err'))
  else
    text = '(null)'
  end
  return false, 'run', text
end

return internals
