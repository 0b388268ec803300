//! The Lua scripts of the Redis backend (`super::redis`, whose doc lists the keys). Each runs
//! atomically in Redis; the fenced ones first check the room's lease against the token the node
//! holds and return -1, changing nothing, when it differs.

use std::sync::LazyLock;

use ::redis::Script;

/// Creates a room with its bans and chat, refusing a taken id or link (`"id"`, `"link"`).
/// ARGV: id, link, n, (field, value)×n, b, (ban id, ban json)×b,
/// c, (seq, message json, r, reader×r)×c.
pub(super) static INSERT_ROOM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local id, link = ARGV[1], ARGV[2]
local room = 'salon:room:' .. id
if redis.call('EXISTS', room) == 1 then return 'id' end
if redis.call('EXISTS', 'salon:link:' .. link) == 1 then return 'link' end
local i = 3
local n = tonumber(ARGV[i]); i = i + 1
local fields = {'link', link}
for _ = 1, n do
  fields[#fields + 1] = ARGV[i]; fields[#fields + 1] = ARGV[i + 1]; i = i + 2
end
redis.call('HSET', room, unpack(fields))
redis.call('SET', 'salon:link:' .. link, id)
redis.call('SADD', 'salon:rooms', id)
n = tonumber(ARGV[i]); i = i + 1
for b = 1, n do
  redis.call('HSET', 'salon:bans:' .. id, ARGV[i], b .. ' ' .. ARGV[i + 1]); i = i + 2
end
if n > 0 then redis.call('HSET', room, 'ban_seq', n) end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local seq = ARGV[i]
  redis.call('ZADD', 'salon:chat:' .. id, seq, seq .. ' ' .. ARGV[i + 1])
  local r = tonumber(ARGV[i + 2]); i = i + 3
  for _ = 1, r do
    redis.call('SADD', 'salon:chatreaders:' .. id .. ':' .. seq, ARGV[i]); i = i + 1
  end
end
return 'ok'
",
    )
});

/// The room's hash plus `id`, looked up by link in one step (empty: no such link).
pub(super) static ROOM_BY_LINK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local id = redis.call('GET', 'salon:link:' .. ARGV[1])
if not id then return {} end
local h = redis.call('HGETALL', 'salon:room:' .. id)
if #h == 0 then return {} end
h[#h + 1] = 'id'; h[#h + 1] = id
return h
",
    )
});

/// Updates an existing room's hash (not fenced: the owner's HTTP calls).
/// ARGV: id, d, field×d (to delete), (field, value)…
pub(super) static SET_FIELDS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local room = 'salon:room:' .. ARGV[1]
if redis.call('EXISTS', room) == 0 then return 0 end
local d = tonumber(ARGV[2])
for i = 3, 2 + d do redis.call('HDEL', room, ARGV[i]) end
local set = {}
for i = 3 + d, #ARGV do set[#set + 1] = ARGV[i] end
if #set > 0 then redis.call('HSET', room, unpack(set)) end
return 1
",
    )
});

/// The check every fenced script starts with: ARGV[1] is the room id, ARGV[2] the token.
macro_rules! fenced_script {
    ($body:literal) => {
        concat!(
            "if redis.call('GET', 'salon:lease:' .. ARGV[1]) ~= ARGV[2] then return -1 end\n",
            "local id = ARGV[1]\n",
            "local room = 'salon:room:' .. id\n",
            $body
        )
    };
}

/// ARGV: id, token, locked (0/1).
pub(super) static SET_LOCKED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(fenced_script!(
        r"
if redis.call('EXISTS', room) == 0 then return 0 end
redis.call('HSET', room, 'locked', ARGV[3])
return 1
"
    ))
});

/// ARGV: id, token, new link, e2ee (0/1). -2: the link belongs to another room.
pub(super) static SET_LINK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(fenced_script!(
        r"
if redis.call('EXISTS', room) == 0 then return 0 end
local link = ARGV[3]
local old = redis.call('HGET', room, 'link')
if old ~= link then
  if redis.call('EXISTS', 'salon:link:' .. link) == 1 then return -2 end
  if old then redis.call('DEL', 'salon:link:' .. old) end
  redis.call('SET', 'salon:link:' .. link, id)
end
redis.call('HSET', room, 'link', link)
redis.call('HDEL', room, 'presence_hash')
if ARGV[4] == '1' then redis.call('HSET', room, 'e2ee', '1') end
return 1
"
    ))
});

/// ARGV: id, token, ban id, ban json. -2: no such room; -3: the ban id is taken.
pub(super) static INSERT_BAN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(fenced_script!(
        r"
if redis.call('EXISTS', room) == 0 then return -2 end
local bans = 'salon:bans:' .. id
if redis.call('HEXISTS', bans, ARGV[3]) == 1 then return -3 end
local n = redis.call('HINCRBY', room, 'ban_seq', 1)
redis.call('HSET', bans, ARGV[3], n .. ' ' .. ARGV[4])
return 1
"
    ))
});

/// ARGV: id, token, ban id. 1: lifted, 0: there was none.
pub(super) static DELETE_BAN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(fenced_script!(
        r"
return redis.call('HDEL', 'salon:bans:' .. id, ARGV[3])
"
    ))
});

/// ARGV: id, token, message json, messages kept, reader…. Returns the message's number;
/// -2: no such room.
pub(super) static INSERT_CHAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(fenced_script!(
        r"
if redis.call('EXISTS', room) == 0 then return -2 end
local seq = redis.call('HINCRBY', room, 'chat_seq', 1)
local chat = 'salon:chat:' .. id
redis.call('ZADD', chat, seq, seq .. ' ' .. ARGV[3])
local readers = 'salon:chatreaders:' .. id .. ':' .. seq
for i = 5, #ARGV do redis.call('SADD', readers, ARGV[i]) end
local cutoff = seq - tonumber(ARGV[4])
if cutoff >= 1 then
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', chat, '-inf', cutoff)) do
    redis.call('DEL', 'salon:chatreaders:' .. id .. ':' .. string.match(m, '^(%d+)'))
  end
  redis.call('ZREMRANGEBYSCORE', chat, '-inf', cutoff)
end
return seq
"
    ))
});

/// ARGV: id, token.
pub(super) static CLEAR_CHAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(fenced_script!(
        r"
local chat = 'salon:chat:' .. id
for _, m in ipairs(redis.call('ZRANGE', chat, 0, -1)) do
  redis.call('DEL', 'salon:chatreaders:' .. id .. ':' .. string.match(m, '^(%d+)'))
end
redis.call('DEL', chat)
return 1
"
    ))
});

/// The newest messages `reader` may read, newest first. ARGV: id, reader, most.
pub(super) static CHAT_FOR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local id, reader, most = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
for _, m in ipairs(redis.call('ZREVRANGE', 'salon:chat:' .. id, 0, -1)) do
  local seq = string.match(m, '^(%d+)')
  if redis.call('SISMEMBER', 'salon:chatreaders:' .. id .. ':' .. seq, reader) == 1 then
    out[#out + 1] = m
    if #out >= most then break end
  end
end
return out
",
    )
});
