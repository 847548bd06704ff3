/* rq: see rq.h. The scripts are the whole life cycle of a job; each is atomic on
 * the server. Times come from Redis TIME so worker clocks do not matter. */
#include "common/rq.h"

#include <stdio.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define RQ_SKIP_MAX_S STR(RQ_SKIP_MAX)

static const char *const key_suffix[RQ_NKEYS] = { "q:high", "q:normal", "q:low", "jobs", "att",
						  "leased", "delayed",  "wake",  "meta" };

void rq_keys_for(struct rq_keys *k, const char *prefix, int w)
{
	for (int i = 0; i < RQ_NKEYS; i++)
		snprintf(k->k[i], RQ_KEY_MAX, "%s:{w%d}:%s", prefix, w, key_suffix[i]);
}

void rq_fleet_key(char *buf, size_t n, const char *prefix)
{
	snprintf(buf, n, "%s:fleet", prefix);
}

int rq_owner(int64_t bot_id, int count)
{
	int64_t r;

	if (count <= 0)
		return 0;
	r = bot_id % count;
	return (int)(r < 0 ? r + count : r);
}

/* Shared head of every script: the epoch check and the server clock. */
#define LUA_PRELUDE                                        \
	"local e = redis.call('HGET', KEYS[9], 'epoch')\n" \
	"if e and e ~= ARGV[1] then return -1 end\n"       \
	"local t = redis.call('TIME')\n"                   \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* Which queue a job body belongs to (1..3); bodies were validated on enqueue. */
#define LUA_PRIO                                          \
	"local function qindex(body)\n"                   \
	"  local ok, j = pcall(cjson.decode, body)\n"     \
	"  if ok and type(j) == 'table' then\n"           \
	"    if j.priority == 'high' then return 1 end\n" \
	"    if j.priority == 'low' then return 3 end\n"  \
	"  end\n"                                         \
	"  return 2\n"                                    \
	"end\n"

#define LUA_WAKE "redis.call('LPUSH', KEYS[8], '1') redis.call('LTRIM', KEYS[8], 0, 0)\n"

static const char lua_enqueue[] = LUA_PRELUDE
	"if redis.call('HSETNX', KEYS[4], ARGV[2], ARGV[3]) == 0 then return 0 end\n"
	"redis.call('HSET', KEYS[5], ARGV[2], 0)\n"
	"local d = tonumber(ARGV[5])\n"
	"if d > 0 then redis.call('ZADD', KEYS[7], now + d, ARGV[2])\n"
	"else redis.call('RPUSH', KEYS[1 + tonumber(ARGV[4])], ARGV[2]) end\n" LUA_WAKE "return 1\n";

/* A job's counts in the att hash (rq.h): leases, faults, takeovers and the
 * first fault's time. A plain number (older data, an enqueue) is leases only. */
#define LUA_ATT                                                                               \
	"local function att_get(id)\n"                                                        \
	"  local v = redis.call('HGET', KEYS[5], id)\n"                                       \
	"  if not v then return nil end\n"                                                    \
	"  local l, f, t, s = string.match(v, '^(%d+) (%d+) (%d+) (%d+)$')\n"                 \
	"  if l then return {tonumber(l), tonumber(f), tonumber(t), tonumber(s)} end\n"       \
	"  return {tonumber(v) or 0, 0, 0, 0}\n"                                              \
	"end\n"                                                                               \
	"local function att_put(id, a)\n"                                                     \
	"  redis.call('HSET', KEYS[5], id, string.format('%d %d %d %.0f', a[1], a[2], a[3], " \
	"a[4]))\n"                                                                            \
	"end\n"

/* Takes up to max jobs, highest priority first (lowest first when asked, so
 * low never starves), and records a deadline for each.
 *
 * A suspect (taken back ARGV[5] times or more; absent or 0: none) is leased
 * only while its slot holds no other suspect (meta's "suspect" field names the
 * one held; it is free once that job's lease is gone). A worker that dies
 * takes a takeover to every job it held, so the jobs leased beside a poison
 * job share its count; held one at a time, two suspects never die together,
 * and a job beside the poison stops sharing its count once either is a
 * suspect. The suspects skipped go back to the front of their queue, in
 * order; at most RQ_SKIP_MAX are looked at per call. */
static const char lua_lease[] = LUA_PRELUDE LUA_ATT
	"local deadline = now + tonumber(ARGV[2])\n"
	"local want = tonumber(ARGV[4])\n"
	"local alone = tonumber(ARGV[5] or '0') or 0\n"
	"local held = false\n"
	"if alone > 0 then\n"
	"  local s = redis.call('HGET', KEYS[9], 'suspect')\n"
	"  held = s and redis.call('ZSCORE', KEYS[6], s) and true or false\n"
	"end\n"
	"local skipped = {}\n"
	"local order = {1, 2, 3}\n"
	"if ARGV[3] == '1' then order = {3, 2, 1} end\n"
	"local out = {}\n"
	"local n = 0\n"
	"for _, qi in ipairs(order) do\n"
	"  while n < want and #skipped < " RQ_SKIP_MAX_S " do\n"
	"    local id = redis.call('LPOP', KEYS[qi])\n"
	"    if not id then break end\n"
	"    local body = redis.call('HGET', KEYS[4], id)\n"
	"    local a = body and (att_get(id) or {0, 0, 0, 0})\n"
	"    if a and alone > 0 and a[3] >= alone then\n"
	"      if held then\n"
	"        skipped[#skipped + 1] = {qi, id}\n"
	"        a = nil\n"
	"      else\n"
	"        held = true\n"
	"        redis.call('HSET', KEYS[9], 'suspect', id)\n"
	"      end\n"
	"    end\n"
	"    if a then\n"
	"      a[1] = a[1] + 1\n"
	"      att_put(id, a)\n"
	"      redis.call('ZADD', KEYS[6], deadline, id)\n"
	"      out[#out + 1] = id\n"
	"      out[#out + 1] = body\n"
	"      out[#out + 1] = a[1]\n"
	"      out[#out + 1] = a[2]\n"
	"      out[#out + 1] = a[3]\n"
	"      if a[4] > 0 then out[#out + 1] = now - a[4] else out[#out + 1] = -1 end\n"
	"      n = n + 1\n"
	"    end\n"
	"  end\n"
	"end\n"
	"for i = #skipped, 1, -1 do redis.call('LPUSH', KEYS[skipped[i][1]], skipped[i][2]) end\n"
	"return out\n";

/* A token that is not the current attempt, or a lease already reaped, means
 * another attempt owns the job now: this one must not finish it. */
#define LUA_OWNS                                    \
	"local function owns(id, tok)\n"            \
	"  local a = att_get(id)\n"                 \
	"  return a and tostring(a[1]) == tok and " \
	"redis.call('ZSCORE', KEYS[6], id)\n"       \
	"end\n"

/* All or none acked: their number; some: which (1/0 per pair), so the worker
 * knows whose lease was lost. */
static const char lua_ack[] =
	LUA_PRELUDE LUA_ATT LUA_OWNS "local n, got = 0, {}\n"
				     "for i = 2, #ARGV, 2 do\n"
				     "  local ok = 0\n"
				     "  if owns(ARGV[i], ARGV[i + 1]) then\n"
				     "    redis.call('ZREM', KEYS[6], ARGV[i])\n"
				     "    redis.call('HDEL', KEYS[4], ARGV[i])\n"
				     "    redis.call('HDEL', KEYS[5], ARGV[i])\n"
				     "    n = n + 1\n"
				     "    ok = 1\n"
				     "  end\n"
				     "  got[#got + 1] = ok\n"
				     "end\n"
				     "if n == 0 or n == #got then return n end\n"
				     "return got\n";

/* A fault (ARGV[5] absent or not "0") counts a failed try; a wait does not. */
static const char lua_nack[] = LUA_PRELUDE LUA_ATT LUA_OWNS
	"if not owns(ARGV[2], ARGV[3]) then return 0 end\n"
	"if ARGV[5] ~= '0' then\n"
	"  local a = att_get(ARGV[2])\n"
	"  a[2] = a[2] + 1\n"
	"  if a[4] == 0 then a[4] = now end\n"
	"  att_put(ARGV[2], a)\n"
	"end\n"
	"redis.call('ZREM', KEYS[6], ARGV[2])\n"
	"redis.call('ZADD', KEYS[7], now + tonumber(ARGV[4]), ARGV[2])\n"
	"return 1\n";

static const char lua_renew[] =
	LUA_PRELUDE LUA_ATT LUA_OWNS "local deadline = now + tonumber(ARGV[2])\n"
				     "local n = 0\n"
				     "for i = 3, #ARGV, 2 do\n"
				     "  if owns(ARGV[i], ARGV[i + 1]) then\n"
				     "    redis.call('ZADD', KEYS[6], 'XX', deadline, ARGV[i])\n"
				     "    n = n + 1\n"
				     "  end\n"
				     "end\n"
				     "return n\n";

static const char lua_promote[] = LUA_PRELUDE LUA_PRIO
	"local ids = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))\n"
	"for _, id in ipairs(ids) do\n"
	"  redis.call('ZREM', KEYS[7], id)\n"
	"  local body = redis.call('HGET', KEYS[4], id)\n"
	"  if body then redis.call('RPUSH', KEYS[qindex(body)], id) end\n"
	"end\n"
	"if #ids > 0 then " LUA_WAKE " end\n"
	"return #ids\n";

/* An expired lease goes back to the front of its own queue: it runs next among
 * its priority, never ahead of a higher one. Its holder never ended it (it
 * died, hung, or lost Redis): a takeover, not a failed try. */
static const char lua_reap[] = LUA_PRELUDE LUA_PRIO LUA_ATT
	"local ids\n"
	"if ARGV[3] == '1' then ids = redis.call('ZRANGE', KEYS[6], 0, tonumber(ARGV[2]) - 1)\n"
	"else ids = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2])) end\n"
	"for _, id in ipairs(ids) do\n"
	"  redis.call('ZREM', KEYS[6], id)\n"
	"  local body = redis.call('HGET', KEYS[4], id)\n"
	"  if body then\n"
	"    redis.call('LPUSH', KEYS[qindex(body)], id)\n"
	"    local a = att_get(id)\n"
	"    if a then a[3] = a[3] + 1 att_put(id, a) end\n"
	"  end\n"
	"end\n"
	"if #ids > 0 then " LUA_WAKE " end\n"
	"return #ids\n";

/* The job's body replaced by the lease holder (the same job with its checked
 * draft in the payload): a later attempt, a reshard and a dead letter see it,
 * and the ack deletes it with the job. */
static const char lua_keep[] =
	LUA_PRELUDE LUA_ATT LUA_OWNS "if not owns(ARGV[2], ARGV[3]) then return 0 end\n"
				     "redis.call('HSET', KEYS[4], ARGV[2], ARGV[4])\n"
				     "return 1\n";

static const char *const sources[RQ_NSCRIPTS] = { lua_enqueue, lua_lease,   lua_ack,  lua_nack,
						  lua_renew,   lua_promote, lua_reap, lua_keep };
static const char *const names[RQ_NSCRIPTS] = { "enqueue", "lease",   "ack",  "nack",
						"renew",   "promote", "reap", "keep" };

int rq_give_up(const struct rq_tries *t, int max_faults, int max_age_s, int max_takeovers,
	       char *why, size_t n)
{
	if (t->faults >= max_faults) {
		snprintf(why, n, "gave up after %d attempts", t->faults);
		return 1;
	}
	if (max_age_s > 0 && t->faults > 0 && t->fault_age_ms >= (int64_t)max_age_s * 1000) {
		snprintf(why, n, "gave up after %d attempts over %lld s (retry_max_age_s %d)",
			 t->faults, (long long)(t->fault_age_ms / 1000), max_age_s);
		return 1;
	}
	if (t->takeovers >= max_takeovers) {
		snprintf(why, n,
			 "gave up after %d takeovers: every worker that ran it stopped "
			 "before it ended",
			 t->takeovers);
		return 1;
	}
	return 0;
}

int rq_alone_at(int max_takeovers)
{
	return max_takeovers >= 2 ? max_takeovers - 1 : 0;
}

const char *rq_script_source(enum rq_script s)
{
	return (unsigned)s < RQ_NSCRIPTS ? sources[s] : NULL;
}

const char *rq_script_name(enum rq_script s)
{
	return (unsigned)s < RQ_NSCRIPTS ? names[s] : "?";
}
