/* market: see market.h.
 *
 * The scheduler's heap holds only the bots that will speak (simulation on, a
 * chat to speak in); its timer fires at the earliest due time, so a tick costs
 * the bots that are due and nothing for the rest. scale_factor compresses the
 * whole simulated clock: the delays, the hourly window and the per-minute
 * window alike (sched.h), so a test at scale 60 runs an hour in a minute and
 * every cap still holds in simulated time. */
#include "worker/chat/market.h"

#include "common/backoff.h"
#include "common/cfg.h"
#include "common/imap.h"
#include "common/job.h"
#include "common/log.h"
#include "common/net/pgpool.h"
#include "common/net/ra.h"
#include "common/net/rsub.h"
#include "common/shm.h"
#include "worker/chat/news.h"
#include "worker/chat/sched.h"
#include "worker/chat/tz.h"
#include "worker/jobs/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHATS_PER_BOT 16
#define POP_BATCH 256
#define BOTS_RELOAD_MS (5 * 60 * 1000)

/* A bot's chat; tz indexes the market's interned zone names, which every bot
 * in a chat of that zone shares (a name per chat per bot cost 48 bytes). */
struct mchat {
	int64_t id;
	uint32_t tz;
};

/* One active-hours range, in minutes of the day (to may be 1440). */
struct mrange {
	uint16_t from, to;
};

/* One allocation per bot, sized to its chats and hours: thousands of bots
 * mostly in one chat each, so no fixed arrays. */
struct mbot {
	int64_t id;
	struct sched_speed speed;
	int64_t refreshed_at;
	int pending; /* hourly-cap slots held by messages in flight */
	int since_refresh;
	int since_memo;
	uint8_t nchats;       /* at most MAX_CHATS_PER_BOT */
	uint8_t nhours;       /* at most SCHED_MAX_HOURS */
	uint8_t seen;         /* in the last load */
	struct mchat chats[]; /* nchats, then nhours struct mrange */
};

struct market {
	const struct cfg *cfg;
	struct shm_slot *slot;
	struct pgpool *pg;
	struct ra *redis;
	struct queue *queue;
	struct news *news; /* NULL: no headlines */
	int index, count;
	int draining;
	uint64_t rng;
	struct settings set;
	struct sched_params par;
	struct sched *sched;
	struct imap *bots;
	char **zones; /* interned time-zone names; [0] is "UTC" */
	uint32_t nzones, zcap;
	struct rsub *notice;
	uv_timer_t timer;
	uv_timer_t reload;
	int started;
	int loading_settings, loading_bots;
	int settings_loaded; /* the first load answered */
	void (*on_settings)(void *arg);
	void *on_settings_arg;
	int settings_again, bots_again;
	size_t scheduled;
	int redraw; /* the pace changed: every bot draws its turn again */
	int closed; /* timers closed so far (market_free) */
};

/* The per-minute cap of one chat: a sorted set of message names by time (Redis
 * TIME, one clock for every worker). ARGV: op window_ms max member. Returns 0
 * (granted / room), or the ms until a slot frees. A reservation counts until
 * its message is stamped (sent) or released, however long pacing holds the
 * send: its score is PENDING + the time of the reservation, above every real
 * time, so the window never drops it; one left behind by a crash goes after a
 * minute. */
static const char cap_script[] =
	"local PENDING = 1e13\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local op, win, max, member = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]\n"
	"if op == 'release' then redis.call('ZREM', KEYS[1], member) return 0 end\n"
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)\n"
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], PENDING, PENDING + now - 60000)\n"
	"if op == 'stamp' then\n"
	"  redis.call('ZADD', KEYS[1], now, member)\n"
	"  redis.call('PEXPIRE', KEYS[1], win + 60000)\n"
	"  return 0\n"
	"end\n"
	"if redis.call('ZSCORE', KEYS[1], member) then return 0 end\n"
	"local n = redis.call('ZCARD', KEYS[1])\n"
	"if n >= max then\n"
	"  if max <= 0 then return win end\n"
	"  local o = redis.call('ZRANGE', KEYS[1], n - max, n - max, 'WITHSCORES')\n"
	"  local s = tonumber(o[2])\n"
	"  if s >= PENDING then return math.min(win, 1000) end\n"
	"  return math.max(1, s + win - now + 1)\n"
	"end\n"
	"if op == 'reserve' then\n"
	"  redis.call('ZADD', KEYS[1], PENDING + now, member)\n"
	"  redis.call('PEXPIRE', KEYS[1], win + 60000)\n"
	"end\n"
	"return 0\n";

static void load_settings(struct market *m);
static void load_bots(struct market *m);
static void arm(struct market *m);

const struct settings *market_settings(const struct market *m)
{
	return &m->set;
}

int market_settings_loaded(const struct market *m)
{
	return m->settings_loaded;
}

static void settings_answered(struct market *m)
{
	m->settings_loaded = 1;
	if (m->on_settings)
		m->on_settings(m->on_settings_arg);
}

static int64_t chat_window_ms(const struct market *m)
{
	double scale = m->set.scale_factor > 1 ? m->set.scale_factor : 1;
	int64_t ms = (int64_t)(60000.0 / scale);

	return ms > 0 ? ms : 1;
}

/* ---- settings ---- */

static void params_from_settings(struct market *m)
{
	struct sched_params *p = &m->par;

	sched_params_default(p);
	p->scale_factor = m->set.scale_factor;
	p->prime_boost = m->set.prime_hours_boost;
	p->nprime = m->set.nprime < SCHED_MAX_PRIME ? m->set.nprime : SCHED_MAX_PRIME;
	for (int i = 0; i < p->nprime; i++) {
		p->prime_from[i] = m->set.prime_from[i];
		p->prime_to[i] = m->set.prime_to[i];
	}
	p->hourly_min = m->set.hourly_min;
	p->hourly_max = m->set.hourly_max;
	p->hour_ms = sched_params_window_ms(p);
}

static void on_settings_rows(PGresult *res, const char *err, void *arg)
{
	struct market *m = arg;
	struct settings s;
	int was_active = m->set.simulation_active;
	double was_scale = m->set.scale_factor;
	char why[512];

	m->loading_settings = 0;
	if (!res) {
		log_warn("settings not loaded, keeping the last ones: %s", err ? err : "?");
		/* An outage (the connection lost under the query, a server
		 * shutting down or starting: 57P.., 08...) is no answer: the first
		 * load is asked again (market_settings_ensure). A refusal is one:
		 * the defaults hold. */
		if (!err || (strncmp(err, "connection lost", 15) && strcmp(err, "closing") &&
			     strncmp(err, "57P", 3) && strncmp(err, "08", 2)))
			settings_answered(m);
		return;
	}
	settings_defaults(&s);
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *v = json_loads(PQgetvalue(res, i, 1), JSON_DECODE_ANY, NULL);
		if (!v || settings_apply(&s, PQgetvalue(res, i, 0), v, why, sizeof why) < 0)
			log_warn("setting ignored, its default stays: %s",
				 v ? why : PQgetvalue(res, i, 0));
		json_decref(v);
	}
	m->set = s;
	params_from_settings(m);
	if (m->news) {
		const char *urls[SETTINGS_MAX_FEEDS];
		for (int i = 0; i < s.nfeeds; i++)
			urls[i] = s.feeds[i];
		news_set_feeds(m->news, urls, (size_t)s.nfeeds,
			       (long)(s.news_refresh_minutes * 60000.0));
	}
	/* Switching the simulation on or changing the pace re-draws every bot. */
	if (s.simulation_active != was_active || s.scale_factor != was_scale) {
		m->redraw = 1;
		load_bots(m);
	}
	if (m->settings_again) {
		m->settings_again = 0;
		load_settings(m);
	}
	settings_answered(m);
}

static void load_settings(struct market *m)
{
	if (m->loading_settings) {
		m->settings_again = 1;
		return;
	}
	if (pgc_query(pgpool_pick(m->pg), "SELECT key, value::text FROM settings", 0, NULL,
		      on_settings_rows, m) == 0)
		m->loading_settings = 1;
}

static void on_notice(const char *message, void *arg)
{
	struct market *m = arg;

	if (!m->started)
		return;
	if (message)
		log_info("settings changed (%s): reloading", message);
	load_settings(m);
	if (!message)
		load_bots(m); /* resubscribed: anything may have changed meanwhile */
}

/* ---- the bots we own ---- */

struct idlist {
	int64_t *ids;
	size_t n, cap;
};

static void collect_unseen(int64_t id, void *val, void *arg)
{
	struct idlist *l = arg;

	if (((struct mbot *)val)->seen)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		int64_t *ids = realloc(l->ids, cap * sizeof *ids);
		if (!ids)
			return;
		l->ids = ids;
		l->cap = cap;
	}
	l->ids[l->n++] = id;
}

/* Bots gone from the last load (disabled, moved, deleted) leave the schedule;
 * collected first, since the map cannot change while it is walked. */
static void forget_unseen(struct market *m)
{
	struct idlist l = { 0 };

	imap_each(m->bots, collect_unseen, &l);
	for (size_t i = 0; i < l.n; i++) {
		sched_forget(m->sched, l.ids[i]);
		free(imap_del(m->bots, l.ids[i]));
	}
	free(l.ids);
}

static void clear_seen(int64_t id, void *val, void *arg)
{
	(void)id;
	(void)arg;
	((struct mbot *)val)->seen = 0;
}

/* The index of zone among the interned names, added when new. Zones are few
 * (at most one per chat), so a linear search does. With no memory left the
 * chat counts as UTC, as an unknown zone does. */
static uint32_t zone_of(struct market *m, const char *zone)
{
	char **z, *copy;

	for (uint32_t i = 0; i < m->nzones; i++)
		if (strcmp(m->zones[i], zone) == 0)
			return i;
	if (m->nzones == m->zcap) {
		uint32_t cap = m->zcap ? m->zcap * 2 : 8;

		if (!(z = realloc(m->zones, cap * sizeof *z)))
			return 0;
		m->zones = z;
		m->zcap = cap;
	}
	if (!(copy = strdup(zone)))
		return 0;
	m->zones[m->nzones] = copy;
	return m->nzones++;
}

static void free_zones(struct market *m)
{
	for (uint32_t i = 0; i < m->nzones; i++)
		free(m->zones[i]);
	free(m->zones);
}

static int minute_in(const struct market *m, const struct mbot *b, int c, int64_t now_ms)
{
	struct tz_local l;
	char err[128];

	if (tz_local(m->zones[b->chats[c].tz], now_ms, &l, err, sizeof err) < 0 &&
	    tz_local("UTC", now_ms, &l, err, sizeof err) < 0)
		return 0;
	return l.minute_of_day;
}

static struct mrange *ranges_of(struct mbot *b)
{
	return (struct mrange *)(b->chats + b->nchats);
}

static void hours_of(struct mbot *b, struct sched_hours *h)
{
	const struct mrange *r = ranges_of(b);

	h->n = b->nhours;
	for (int k = 0; k < h->n; k++) {
		h->from[k] = r[k].from;
		h->to[k] = r[k].to;
	}
}

static void schedule_bot(struct market *m, struct mbot *b, int64_t now_ms)
{
	int64_t delay;

	if (!m->set.simulation_active || b->nchats == 0) {
		sched_remove(m->sched, b->id);
		return;
	}
	delay = (int64_t)(sched_delay_s(&m->par, &b->speed, minute_in(m, b, 0, now_ms),
					sched_favoured(&m->par, m->sched, b->id, now_ms), &m->rng) *
			  1000.0);
	if (sched_add(m->sched, b->id, now_ms + delay) < 0)
		log_warn("out of memory scheduling bot %lld", (long long)b->id);
}

/* One row of the bots' load, parsed, before it is stored compactly. */
struct mrow {
	struct sched_speed speed;
	struct sched_hours hours;
	int nchats;
	struct mchat chats[MAX_CHATS_PER_BOT];
};

static void row_parse(struct market *m, int64_t id, PGresult *res, int i, struct mrow *r)
{
	json_t *speed = json_loads(PQgetvalue(res, i, 1), 0, NULL);
	json_t *hours = json_loads(PQgetvalue(res, i, 2), 0, NULL);
	json_t *chats = json_loads(PQgetvalue(res, i, 3), 0, NULL), *c;
	struct log_ctx ctx = { .bot_id = id };
	char why[256];
	size_t k;

	if (sched_speed_from_json(speed, &r->speed, why, sizeof why) < 0) {
		log_msg(LOG_WARNING, &ctx, "speed profile ignored: %s", why);
		sched_speed_default(&r->speed);
	}
	if (sched_hours_from_json(hours, &r->hours, why, sizeof why) < 0) {
		log_msg(LOG_WARNING, &ctx, "active hours ignored: %s", why);
		r->hours.n = 0;
	}
	r->nchats = 0;
	json_array_foreach(chats, k, c) {
		if (r->nchats >= MAX_CHATS_PER_BOT)
			break;
		r->chats[r->nchats].id = json_integer_value(json_array_get(c, 0));
		r->chats[r->nchats].tz = zone_of(m, json_string_value(json_array_get(c, 1)) ?: "UTC");
		r->nchats++;
	}
	json_decref(speed);
	json_decref(hours);
	json_decref(chats);
}

static size_t bot_size(int nchats, int nhours)
{
	return sizeof(struct mbot) + (size_t)nchats * sizeof(struct mchat) +
	       (size_t)nhours * sizeof(struct mrange);
}

/* Bot id's record for r: old updated in place when it has the room, else a new
 * one (the counters carried over) in its place in the map. NULL when memory
 * runs out; old, if any, is then unchanged. */
static struct mbot *bot_store(struct market *m, struct mbot *old, int64_t id, const struct mrow *r,
			      int64_t now_ms)
{
	struct mbot *b = old;
	struct mrange *h;

	if (!old || old->nchats != r->nchats || old->nhours != r->hours.n) {
		if (!(b = calloc(1, bot_size(r->nchats, r->hours.n))))
			return NULL;
		if (old) {
			*b = *old;
		} else {
			b->id = id;
			b->refreshed_at = now_ms;
		}
		b->nchats = (uint8_t)r->nchats;
		b->nhours = (uint8_t)r->hours.n;
		if (imap_put(m->bots, id, b) < 0) {
			free(b);
			return NULL;
		}
		free(old);
	}
	b->speed = r->speed;
	memcpy(b->chats, r->chats, (size_t)r->nchats * sizeof *b->chats);
	h = ranges_of(b);
	for (int k = 0; k < r->hours.n; k++) {
		h[k].from = (uint16_t)r->hours.from[k];
		h[k].to = (uint16_t)r->hours.to[k];
	}
	return b;
}

static void on_sent_rows(PGresult *res, const char *err, void *arg)
{
	struct market *m = arg;

	m->loading_bots = 0;
	if (!res) {
		log_warn("recent sends not loaded: %s", err ? err : "?");
	} else {
		for (int i = 0; i < PQntuples(res); i++) {
			int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			if (imap_get(m->bots, id))
				sched_note_sent(m->sched, id, strtoll(PQgetvalue(res, i, 1), NULL, 10));
		}
	}
	if (m->bots_again) {
		m->bots_again = 0;
		load_bots(m);
		return;
	}
	arm(m);
}

struct sched_one {
	struct market *m;
	int64_t now;
};

static void schedule_each(int64_t id, void *val, void *arg)
{
	struct sched_one *o = arg;

	(void)id;
	/* A bot already queued keeps its turn, unless the pace changed. */
	if (!o->m->redraw && o->m->set.simulation_active &&
	    sched_due(o->m->sched, ((struct mbot *)val)->id) != INT64_MAX)
		return;
	schedule_bot(o->m, val, o->now);
}

static void on_bot_rows(PGresult *res, const char *err, void *arg)
{
	/* The send times of the window, so a restart does not reset the caps. */
	static const char sent_sql[] =
		"SELECT bot_id, (extract(epoch FROM sent_at) * 1000)::bigint FROM messages "
		"WHERE status = 'sent' AND bot_id % $1 = $2 "
		"AND sent_at > now() - make_interval(secs => $3::double precision / 1000)";
	struct market *m = arg;
	struct sched_one o = { m, job_now_ms() };
	struct mrow r;
	char n[16], idx[16], win[24];
	const char *p[3] = { n, idx, win };

	if (!res) {
		m->loading_bots = 0;
		log_warn("bots not loaded: %s", err ? err : "?");
		return;
	}
	imap_each(m->bots, clear_seen, NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		struct mbot *old = imap_get(m->bots, id), *b;

		row_parse(m, id, res, i, &r);
		if (!(b = bot_store(m, old, id, &r, o.now))) {
			log_warn("out of memory loading bot %lld", (long long)id);
			if (!(b = old))
				continue; /* a known bot keeps its last load, a new one waits */
		}
		b->seen = 1;
	}
	forget_unseen(m);
	imap_each(m->bots, schedule_each, &o);
	m->redraw = 0;
	shm_gauge(m->slot, SHM_G_BOTS, (int64_t)imap_count(m->bots));
	snprintf(n, sizeof n, "%d", m->count);
	snprintf(idx, sizeof idx, "%d", m->index);
	snprintf(win, sizeof win, "%lld", (long long)m->par.hour_ms);
	if (pgc_query(pgpool_pick(m->pg), sent_sql, 3, p, on_sent_rows, m) < 0) {
		m->loading_bots = 0;
		arm(m);
	}
}

static void load_bots(struct market *m)
{
	static const char sql[] =
		"SELECT b.id, b.speed_profile::text, b.active_hours::text, "
		"coalesce(json_agg(json_build_array(c.id, c.time_zone) ORDER BY c.id) "
		"FILTER (WHERE c.id IS NOT NULL), '[]')::text "
		"FROM bots b LEFT JOIN chat_bots cb ON cb.bot_id = b.id AND cb.status = 'member' "
		"LEFT JOIN chats c ON c.id = cb.chat_id AND c.enabled "
		"WHERE b.enabled AND b.id % $1 = $2 GROUP BY b.id";
	char n[16], idx[16];
	const char *p[2] = { n, idx };

	if (m->loading_bots) {
		m->bots_again = 1;
		return;
	}
	snprintf(n, sizeof n, "%d", m->count);
	snprintf(idx, sizeof idx, "%d", m->index);
	if (pgc_query(pgpool_pick(m->pg), sql, 2, p, on_bot_rows, m) == 0)
		m->loading_bots = 1;
}

/* ---- the timer ---- */

static void on_scheduled(int rc, void *arg)
{
	struct market *m = arg;

	if (rc == 1)
		shm_count(m->slot, SHM_C_SCHEDULED, 1);
}

static void speak_due(struct market *m, int64_t id, int64_t now)
{
	struct mbot *b = imap_get(m->bots, id);
	struct sched_hours hours;
	int64_t retry = 0;
	enum sched_verdict v;
	struct job j = { 0 };
	int c, minute;

	if (!b || !m->set.simulation_active || b->nchats == 0)
		return;
	c = (int)backoff_uniform_upto(b->nchats - 1, &m->rng);
	minute = minute_in(m, b, c, now);
	hours_of(b, &hours);
	v = sched_check(&m->par, m->sched, id, now, minute, &hours, 0, &retry);
	if (v == SCHED_SPEAK && m->par.hourly_max > 0 &&
	    sched_sent_last_hour(m->sched, id, now, m->par.hour_ms) + b->pending >= m->par.hourly_max) {
		v = SCHED_CAPPED;
		retry = m->par.hour_ms / (m->par.hourly_max + 1);
	}
	if (v == SCHED_INACTIVE || v == SCHED_CAPPED) {
		if (v == SCHED_CAPPED)
			shm_count(m->slot, SHM_C_CAP_BOT, 1);
		/* A little spread, so bots that wake together do not speak together. */
		retry += backoff_uniform_upto(retry / 10 + 1000, &m->rng);
		if (sched_add(m->sched, id, now + retry) < 0)
			log_warn("out of memory scheduling bot %lld", (long long)id);
		return;
	}
	job_new_id(j.id);
	j.kind = JOB_SPEAK;
	j.prio = PRIO_NORMAL;
	j.bot_id = id;
	j.chat_id = b->chats[c].id;
	j.payload = json_pack("{s:b}", "scheduled", 1);
	if (!j.payload || queue_enqueue(m->queue, &j, 0, on_scheduled, m) < 0)
		log_warn("could not queue a speak job for bot %lld", (long long)id);
	job_clear(&j);
	schedule_bot(m, b, now);
}

static void on_timer(uv_timer_t *t)
{
	struct market *m = t->data;
	int64_t ids[POP_BATCH], now = job_now_ms();
	size_t n;

	if (!ra_up(m->redis) || m->draining) {
		uv_timer_start(&m->timer, on_timer, 1000, 0);
		return;
	}
	n = sched_pop_due(m->sched, now, ids, POP_BATCH);
	for (size_t i = 0; i < n; i++)
		speak_due(m, ids[i], now);
	m->scheduled = sched_size(m->sched);
	if (n == POP_BATCH)
		uv_timer_start(&m->timer, on_timer, 0, 0);
	else
		arm(m);
}

static void arm(struct market *m)
{
	int64_t due = sched_next_due(m->sched), now = job_now_ms();

	m->scheduled = sched_size(m->sched);
	if (due == INT64_MAX) {
		uv_timer_stop(&m->timer);
		return;
	}
	uv_timer_start(&m->timer, on_timer, due > now ? (uint64_t)(due - now) : 0, 0);
}

static void on_reload_timer(uv_timer_t *t)
{
	load_bots(t->data);
}

/* ---- caps ---- */

int64_t market_bot_reserve(struct market *m, int64_t bot_id, int64_t now_ms)
{
	struct mbot *b = imap_get(m->bots, bot_id);
	int sent;

	if (!b)
		return 0; /* not scheduled here (disabled, no chats): nothing to count */
	if (m->par.hourly_max <= 0)
		return m->par.hour_ms;
	sent = sched_sent_last_hour(m->sched, bot_id, now_ms, m->par.hour_ms);
	if (sent + b->pending >= m->par.hourly_max) {
		int64_t retry = 0;
		if (sched_check(&m->par, m->sched, bot_id, now_ms, 0, NULL, 0, &retry) != SCHED_CAPPED ||
		    retry <= 0)
			retry = m->par.hour_ms / (m->par.hourly_max + 1);
		return retry;
	}
	b->pending++;
	return 0;
}

void market_bot_release(struct market *m, int64_t bot_id)
{
	struct mbot *b = imap_get(m->bots, bot_id);

	if (b && b->pending > 0)
		b->pending--;
}

#define MEMO_DELAY_MS 3000

static void on_memo_queued(int rc, void *arg)
{
	(void)arg;
	if (rc < 0)
		log_warn("could not queue a memorize job");
}

void market_bot_sent(struct market *m, int64_t bot_id, int64_t chat_id, int64_t now_ms)
{
	struct mbot *b = imap_get(m->bots, bot_id);
	struct job j = { 0 };

	if (!b)
		return;
	if (b->pending > 0)
		b->pending--;
	sched_note_sent(m->sched, bot_id, now_ms);
	b->since_refresh++;
	if (m->set.memorize_interval <= 0 || ++b->since_memo < m->set.memorize_interval)
		return;
	b->since_memo = 0;
	snprintf(j.id, sizeof j.id, "memo:%lld:%lld", (long long)bot_id, (long long)now_ms);
	j.kind = JOB_MEMORIZE;
	j.prio = PRIO_LOW;
	j.bot_id = bot_id;
	j.chat_id = chat_id;
	j.payload = json_object();
	/* Due a little later: this is Telegram's answer to the message, before its
	 * row reads 'sent'; a job run at once read the bot's sent messages without
	 * it (and, for a bot's first messages sent together, found none: the
	 * memories test saw every job skipped). */
	if (!j.payload || queue_enqueue(m->queue, &j, MEMO_DELAY_MS, on_memo_queued, NULL) < 0)
		log_warn("could not queue a memorize job for bot %lld", (long long)bot_id);
	job_clear(&j);
}

int market_refresh_due(struct market *m, int64_t bot_id, int64_t now_ms)
{
	struct mbot *b = imap_get(m->bots, bot_id);

	if (!b)
		return 0;
	if ((m->set.persona_refresh_interval > 0 && b->since_refresh >= m->set.persona_refresh_interval) ||
	    (m->set.persona_refresh_minutes > 0 &&
	     now_ms - b->refreshed_at >= (int64_t)m->set.persona_refresh_minutes * 60000)) {
		b->since_refresh = 0;
		b->refreshed_at = now_ms;
		return 1;
	}
	return 0;
}

struct capq {
	market_cap_cb cb;
	void *arg;
};

static void on_cap(redisReply *r, const char *err, void *arg)
{
	struct capq *q = arg;
	int64_t v = -1;

	if (r && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	else if (r && r->type == REDIS_REPLY_ERROR)
		log_warn("chat cap script: %s", r->str);
	(void)err;
	if (q->cb)
		q->cb(v, q->arg);
	free(q);
}

static int cap_call(struct market *m, const char *op, int64_t chat_id, const char *member,
		    market_cap_cb cb, void *arg)
{
	char key[160], win[24], max[16];
	const char *keys[] = { key }, *av[] = { op, win, max, member };
	struct capq *q;

	if (m->set.max_msgs_per_min <= 0) { /* no chat cap */
		if (cb)
			cb(0, arg);
		return 0;
	}
	if (!(q = malloc(sizeof *q)))
		return -1;
	q->cb = cb;
	q->arg = arg;
	snprintf(key, sizeof key, "%s:pace:%lld", m->cfg->redis_prefix, (long long)chat_id);
	snprintf(win, sizeof win, "%lld", (long long)chat_window_ms(m));
	snprintf(max, sizeof max, "%d", m->set.max_msgs_per_min);
	if (ra_eval_src(m->redis, cap_script, 1, keys, 4, av, on_cap, q) < 0) {
		free(q);
		return -1;
	}
	return 0;
}

int market_chat_cap(struct market *m, enum market_cap_op op, int64_t chat_id, const char *member,
		    market_cap_cb cb, void *arg)
{
	return cap_call(m, op == MARKET_CAP_CHECK ? "check" : "reserve", chat_id, member, cb, arg);
}

void market_chat_release(struct market *m, int64_t chat_id, const char *member)
{
	cap_call(m, "release", chat_id, member, NULL, NULL);
}

void market_chat_stamp(struct market *m, int64_t chat_id, const char *member)
{
	cap_call(m, "stamp", chat_id, member, NULL, NULL);
}

/* One more answer to a human message, up to ARGV[1], counted for a day. */
static const char join_script[] = "local n = redis.call('INCR', KEYS[1])\n"
				  "redis.call('EXPIRE', KEYS[1], 86400)\n"
				  "if n > tonumber(ARGV[1]) then\n"
				  "  redis.call('DECR', KEYS[1])\n"
				  "  return 1\n"
				  "end\n"
				  "return 0\n";

int market_human_join(struct market *m, int64_t chat_id, int64_t tg_id, int max, market_cap_cb cb,
		      void *arg)
{
	char key[160], n[16];
	const char *keys[] = { key }, *av[] = { n };
	struct capq *q = malloc(sizeof *q);

	if (!q)
		return -1;
	q->cb = cb;
	q->arg = arg;
	snprintf(key, sizeof key, "%s:joined:%lld:%lld", m->cfg->redis_prefix, (long long)chat_id,
		 (long long)tg_id);
	snprintf(n, sizeof n, "%d", max);
	if (ra_eval_src(m->redis, join_script, 1, keys, 1, av, on_cap, q) < 0) {
		free(q);
		return -1;
	}
	return 0;
}

void market_counts(const struct market *m, size_t *owned, size_t *scheduled)
{
	*owned = imap_count(m->bots);
	*scheduled = m->scheduled;
}

/* ---- life ---- */

struct market *market_new(const struct market_deps *d)
{
	struct market *m = calloc(1, sizeof *m);
	char channel[128], err[256];

	if (!m)
		return NULL;
	m->cfg = d->cfg;
	m->slot = d->slot;
	m->pg = d->pg;
	m->redis = d->redis;
	m->queue = d->queue;
	m->news = d->news;
	m->index = d->index;
	m->count = d->count;
	m->rng = d->seed;
	m->on_settings = d->on_settings;
	m->on_settings_arg = d->arg;
	settings_defaults(&m->set);
	params_from_settings(m);
	/* Zone 0 is "UTC": a chat's zone is that when it cannot be interned. */
	if (!(m->sched = sched_new()) || !(m->bots = imap_new()) || (zone_of(m, "UTC"), !m->nzones)) {
		sched_free(m->sched);
		imap_free(m->bots);
		free_zones(m);
		free(m);
		return NULL;
	}
	uv_timer_init(d->loop, &m->timer);
	uv_timer_init(d->loop, &m->reload);
	m->timer.data = m->reload.data = m;
	snprintf(channel, sizeof channel, "%s:settings", d->cfg->redis_prefix);
	if (!(m->notice = rsub_new(d->loop, d->cfg->redis_url, channel, on_notice, m, err, sizeof err)))
		log_warn("no settings change notice (%s): settings reload on SIGHUP only", err);
	return m;
}

void market_drain(struct market *m)
{
	m->draining = 1;
}

void market_start(struct market *m)
{
	if (m->started)
		return;
	m->started = 1;
	load_settings(m);
	load_bots(m);
	uv_timer_start(&m->reload, on_reload_timer, BOTS_RELOAD_MS, BOTS_RELOAD_MS);
}

void market_settings_ensure(struct market *m)
{
	if (m->started && !m->settings_loaded && !m->loading_settings)
		load_settings(m);
}

void market_reload(struct market *m)
{
	if (!m->started)
		return;
	load_settings(m);
	load_bots(m);
}

void market_bots_changed(struct market *m, const int64_t *ids, size_t n)
{
	size_t i = 0;

	if (!m->started)
		return;
	while (i < n && ids[i] % m->count != m->index)
		i++;
	if (n == 0 || i < n)
		load_bots(m);
}

static void free_bot(int64_t id, void *val, void *arg)
{
	(void)id;
	(void)arg;
	free(val);
}

static void on_market_timer_closed(uv_handle_t *h)
{
	struct market *m = h->data;

	/* The second of the two timers to close frees the rest (libuv does not
	 * promise the order of close callbacks). */
	if (++m->closed == 2) {
		imap_each(m->bots, free_bot, NULL);
		imap_free(m->bots);
		sched_free(m->sched);
		free_zones(m);
		free(m);
	}
}

void market_free(struct market *m)
{
	if (!m)
		return;
	rsub_free(m->notice);
	uv_close((uv_handle_t *)&m->timer, on_market_timer_closed);
	uv_close((uv_handle_t *)&m->reload, on_market_timer_closed);
}
