/* lcache: see lcache.h.
 *
 * Every entry is in the map and in one recency list (head: most recently used).
 * Whenever a load ends the list is trimmed from its tail: over the bound the
 * least recently used ready entries go, and expired ones at the tail go too, so
 * a short TTL (the chats') does not leave every key ever seen in memory. */
#include "worker/chat/lcache.h"

#include "common/imap.h"

#include <stdlib.h>

struct waiter {
	lcache_cb cb;
	void *arg;
	struct waiter *next;
};

struct entry {
	int64_t key;
	void *val;
	int loading;
	int stale;        /* invalidated while loading: answer waiters, then drop */
	int answering;    /* callbacks run with val: the entry must not be freed */
	uint64_t soon_ms; /* asked to expire this soon while loading (0: no) */
	uint64_t expires;
	struct waiter *waiters, *last;
	struct entry *prev, *next; /* recency list */
};

struct lcache {
	uv_loop_t *loop;
	uint64_t ttl_ms;
	size_t max; /* 0: no bound */
	lcache_load_fn load;
	lcache_free_fn free_val;
	void *owner;
	struct imap *map;
	struct entry *head, *tail;
	uint64_t hits, misses;
};

struct lcache *lcache_new(uv_loop_t *loop, uint64_t ttl_ms, lcache_load_fn load,
			  lcache_free_fn free_val, void *owner)
{
	struct lcache *c = calloc(1, sizeof *c);

	if (!c || !(c->map = imap_new())) {
		free(c);
		return NULL;
	}
	c->loop = loop;
	c->ttl_ms = ttl_ms;
	c->load = load;
	c->free_val = free_val;
	c->owner = owner;
	return c;
}

static void lru_unlink(struct lcache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct lcache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	else
		c->tail = e;
	c->head = e;
}

static void lru_touch(struct lcache *c, struct entry *e)
{
	if (c->head == e)
		return;
	lru_unlink(c, e);
	lru_push(c, e);
}

static void entry_free(struct lcache *c, struct entry *e)
{
	if (e->val && c->free_val)
		c->free_val(e->val);
	free(e);
}

/* Out of the map and the list, and freed. */
static void drop(struct lcache *c, struct entry *e)
{
	imap_del(c->map, e->key);
	lru_unlink(c, e);
	entry_free(c, e);
}

static int droppable(const struct entry *e)
{
	return !e->loading && !e->answering && !e->waiters;
}

static void trim(struct lcache *c)
{
	uint64_t now = uv_now(c->loop);
	struct entry *e, *prev;

	for (e = c->tail; e; e = prev) {
		prev = e->prev;
		if (!droppable(e))
			continue;
		if ((c->max && imap_count(c->map) > c->max) || e->expires <= now)
			drop(c, e);
		else
			break;
	}
}

void lcache_set_max(struct lcache *c, size_t max)
{
	c->max = max;
	trim(c);
}

static void answer(struct entry *e, const void *val, const char *err)
{
	struct waiter *w = e->waiters, *next;

	e->waiters = e->last = NULL;
	for (; w; w = next) {
		next = w->next;
		w->cb(val, err, w->arg);
		free(w);
	}
}

static void drop_one(int64_t key, void *val, void *arg)
{
	struct lcache *c = arg;
	struct entry *e = val;

	(void)key;
	answer(e, NULL, "closing");
	entry_free(c, e);
}

void lcache_free(struct lcache *c)
{
	if (!c)
		return;
	imap_each(c->map, drop_one, c);
	imap_free(c->map);
	free(c);
}

static int add_waiter(struct entry *e, lcache_cb cb, void *arg)
{
	struct waiter *w = malloc(sizeof *w);

	if (!w)
		return -1;
	w->cb = cb;
	w->arg = arg;
	w->next = NULL;
	if (e->last)
		e->last->next = w;
	else
		e->waiters = w;
	e->last = w;
	return 0;
}

/* The entry is marked answering while cb runs: a get or a load that cb starts
 * must not trim away the value cb is reading. */
static void hit(struct lcache *c, struct entry *e, lcache_cb cb, void *arg)
{
	int outer = !e->answering;

	c->hits++;
	lru_touch(c, e);
	e->answering = 1;
	cb(e->val, NULL, arg);
	if (!outer)
		return;
	e->answering = 0;
	if (e->stale)
		drop(c, e);
}

static void miss(struct lcache *c, int64_t key, lcache_cb cb, void *arg)
{
	struct entry *e = calloc(1, sizeof *e);

	if (!e || imap_put(c->map, key, e) < 0) {
		free(e);
		cb(NULL, "out of memory", arg);
		return;
	}
	e->key = key;
	e->loading = 1;
	lru_push(c, e);
	if (add_waiter(e, cb, arg) < 0) {
		drop(c, e);
		cb(NULL, "out of memory", arg);
		return;
	}
	c->load(c, key, c->owner);
}

void lcache_get(struct lcache *c, int64_t key, lcache_cb cb, void *arg)
{
	struct entry *e = imap_get(c->map, key);
	uint64_t now = uv_now(c->loop);

	if (e && e->answering && !e->expires) {
		cb(NULL, "load failed", arg);
		return;
	}
	if (e && !e->loading && (e->expires > now || e->answering)) {
		hit(c, e, cb, arg);
		return;
	}
	c->misses++;
	if (e && !e->loading) {
		drop(c, e);
		e = NULL;
	}
	if (!e) {
		miss(c, key, cb, arg);
		return;
	}
	if (add_waiter(e, cb, arg) < 0)
		cb(NULL, "out of memory", arg);
}

void lcache_loaded(struct lcache *c, int64_t key, void *val, const char *err)
{
	struct entry *e = imap_get(c->map, key);

	if (!e || !e->loading) {
		if (val && c->free_val)
			c->free_val(val);
		return;
	}
	e->loading = 0;
	e->val = val;
	/* Errors are not cached: the next caller tries again. */
	e->expires = err ? 0 : uv_now(c->loop) + (e->soon_ms ? e->soon_ms : c->ttl_ms);
	e->soon_ms = 0;
	lru_touch(c, e);
	e->answering = 1;
	answer(e, val, err);
	e->answering = 0;
	if (err || e->stale)
		drop(c, e);
	trim(c);
}

void lcache_invalidate(struct lcache *c, int64_t key)
{
	struct entry *e = imap_get(c->map, key);

	if (!e)
		return;
	if (e->loading || e->answering) {
		e->stale = 1;
		return;
	}
	drop(c, e);
}

/* Ready, fresh and not being read: the one state where the value may change. */
static struct entry *settled(struct lcache *c, int64_t key)
{
	struct entry *e = imap_get(c->map, key);

	if (!e || e->loading || e->stale || e->answering || e->expires <= uv_now(c->loop))
		return NULL;
	return e;
}

const void *lcache_peek(struct lcache *c, int64_t key)
{
	struct entry *e = settled(c, key);

	return e ? e->val : NULL;
}

void lcache_replace(struct lcache *c, int64_t key, void *val)
{
	struct entry *e = settled(c, key);

	if (!e) {
		if (val && c->free_val)
			c->free_val(val);
		lcache_invalidate(c, key);
		return;
	}
	if (e->val && c->free_val)
		c->free_val(e->val);
	e->val = val;
}

void lcache_expire_within(struct lcache *c, int64_t key, uint64_t ms)
{
	struct entry *e = imap_get(c->map, key);
	uint64_t at = uv_now(c->loop) + ms;

	if (ms == 0) {
		lcache_invalidate(c, key);
		return;
	}
	if (!e || e->stale)
		return;
	if (e->loading) {
		/* The load may have started before the change: its value lives ms. */
		if (!e->soon_ms || ms < e->soon_ms)
			e->soon_ms = ms < c->ttl_ms ? ms : c->ttl_ms;
		return;
	}
	if (e->expires > at)
		e->expires = at;
}

void lcache_clear(struct lcache *c)
{
	struct entry *e, *next;

	for (e = c->head; e; e = next) {
		next = e->next;
		if (e->loading || e->answering)
			e->stale = 1;
		else
			drop(c, e);
	}
}

void lcache_stats(const struct lcache *c, uint64_t *hits, uint64_t *misses, size_t *size)
{
	*hits = c->hits;
	*misses = c->misses;
	*size = imap_count(c->map);
}
