"""The Redis store's two Lua scripts: ``DECIDE`` (one per decision) and ``WRITE``.

They run the rules of ``_checks.py`` on the server, atomically: the same
states (JSON values, one per key, with a TTL) and the same arithmetic; a test
feeds random histories to the three stores and compares their answers.
"""

from __future__ import annotations

_RULES = """
local function live_times(v, now, window)
  local out = {}
  if v then for _, t in ipairs(v) do if t > now - window then out[#out + 1] = t end end end
  return out
end
local function live_entries(v, now, window)
  local out = {}
  if v then for _, e in ipairs(v) do if e[1] > now - window then out[#out + 1] = e end end end
  return out
end
local function add_bucket(b, now, window, s, v)
  local size = window / 24
  local start = math.floor(now / size) * size
  local kept = {}
  if b then for _, x in ipairs(b) do
    if x[1] > now - window - size then kept[#kept + 1] = x end
  end end
  local last = kept[#kept]
  if last and last[1] == start then
    kept[#kept] = {start, last[2] + s, last[3] + v}
  else
    kept[#kept + 1] = {start, s, v}
  end
  return kept
end
local function denial(c, v, now)
  if c.t == 'limit' then
    local times = live_times(v, now, c.window)
    table.sort(times)  -- a clock may step back
    if #times < c.limit then return nil end
    return times[#times - c.limit + 1] + c.window - now
  elseif c.t == 'backoff' then
    if not v or not v[1] then return nil end
    local wait = math.min(c.base * c.factor ^ (v[1] - 1), c.cap)
    if v[2] + wait > now then return v[2] + wait - now end
    return nil
  elseif c.t == 'spend' then
    local entries = live_entries(v, now, c.window)
    local spent = 0
    for _, e in ipairs(entries) do spent = spent + e[2] end
    if spent + c.amount <= c.cap then return nil end
    table.sort(entries, function(a, b) return a[1] < b[1] end)
    for _, e in ipairs(entries) do
      spent = spent - e[2]
      if spent + c.amount <= c.cap then return e[1] + c.window - now end
    end
    return c.window
  end
  local state = v or {}
  local u = state.u or 0
  if u > now then return u - now end
  local sends, verified = 0, 0
  if state.b then for _, x in ipairs(state.b) do
    if x[1] > now - c.window then sends = sends + x[2]; verified = verified + x[3] end
  end end
  if sends >= c.min_sends and verified < c.min_ratio * sends then return c.period end
  return nil
end
-- A key holds {"v": value, "e": expires}: the guard's clock decides what has expired
-- (as in the other stores); Redis's own TTL, a minute later (clocks of app servers and
-- Redis may differ a little), frees the memory.
local function save(key, value, expires, now)
  if expires <= now then redis.call('DEL', key); return end
  local ms = math.ceil((expires - now) * 1000) + 60000
  redis.call('SET', key, cjson.encode({v = value, e = expires}), 'PX', ms)
end
local function load_stored(key, now)
  local raw = redis.call('GET', key)
  if not raw then return nil, now end
  local ok, stored = pcall(cjson.decode, raw)
  if not ok or type(stored) ~= 'table' or type(stored.e) ~= 'number' or stored.e <= now then
    return nil, now
  end
  return stored.v, stored.e
end
local function load(key, now)
  local v = load_stored(key, now)
  return v
end
"""

# KEYS: one per check, then the key to read (if ARGV says so).
# ARGV[1]: {"now": t, "always": 0|1, "read": 0|1, "checks": [{"t": kind, ...}, ...]}.
# Returns {index0, "retry_after", ...; record JSON or ""}.
DECIDE = (
    _RULES
    + """
local p = cjson.decode(ARGV[1])
local now = p.now
local values, reply, denied = {}, {}, {}
for i, c in ipairs(p.checks) do
  values[i] = load(KEYS[i], now)
  local wait = denial(c, values[i], now)
  if wait then
    reply[#reply + 1] = i - 1
    reply[#reply + 1] = tostring(wait)
    denied[i] = true
  end
end
for i, c in ipairs(p.checks) do
  local v = values[i]
  if #reply == 0 or p.always == 1 then
    if c.t == 'limit' then
      local times = live_times(v, now, c.window)
      times[#times + 1] = now
      table.sort(times)
      local kept = {}
      for j = math.max(1, #times - c.limit + 1), #times do kept[#kept + 1] = times[j] end
      save(KEYS[i], kept, math.max(now, times[#times]) + c.window, now)
    elseif c.t == 'backoff' then
      local count = 0
      if v and v[1] then count = v[1] end
      save(KEYS[i], {count + 1, now}, now + c.window, now)
    elseif c.t == 'spend' then
      local entries = live_entries(v, now, c.window)
      entries[#entries + 1] = {now, c.amount, c.member}
      save(KEYS[i], entries, now + c.window, now)
    else
      local state = v or {}
      local u = state.u or 0
      if u <= now and denied[i] then
        state.u = now + c.period
        state.b = add_bucket(state.b, now, c.window, 0, 0)
      elseif u <= now then
        state.b = add_bucket(state.b, now, c.window, 1, 0)
      end
      save(KEYS[i], state, math.max(now + c.window, state.u or 0), now)
    end
  elseif denied[i] and c.t == 'conversion' and ((v or {}).u or 0) <= now then
    local state = v or {}
    state.u = now + c.period
    save(KEYS[i], state, math.max(now + c.window, state.u), now)
  end
end
local record = ''
if p.read == 1 then
  local v = load(KEYS[#p.checks + 1], now)
  if v then record = cjson.encode(v) end
end
reply[#reply + 1] = record
return reply
"""
)

# KEYS: one per write. ARGV[1]: {"now": t, "writes": [{"t": kind, ...}, ...]}.
WRITE = (
    _RULES
    + """
local p = cjson.decode(ARGV[1])
local now = p.now
for i, w in ipairs(p.writes) do
  local key = KEYS[i]
  if w.t == 'put' then
    save(key, w.value, now + w.ttl, now)
  elseif w.t == 'delete' then
    redis.call('DEL', key)
  else
    local v, expires = load_stored(key, now)
    if w.t == 'settle' then
      if v then
        local kept = {}  -- a code that cost nothing leaves no entry
        for _, e in ipairs(v) do
          if e[3] == w.member then e[2] = w.amount end
          if e[3] ~= w.member or w.amount ~= 0 then kept[#kept + 1] = e end
        end
        save(key, kept, expires, now)
      else  -- expired by the guard's clock: forgotten, as the other stores do (a clock
        redis.call('DEL', key)  -- stepping back must not bring the old entries back)
      end
    elseif w.t == 'verified' then
      local state = v or {}
      state.b = add_bucket(state.b, now, w.window, 0, 1)
      save(key, state, math.max(expires, now + w.window), now)
    elseif v then
      save(key, {b = {}, u = 0}, expires, now)
    else
      redis.call('DEL', key)
    end
  end
end
return 1
"""
)
