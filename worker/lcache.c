/* lcache: see lcache.h. */
#include "lcache.h"

#include <stdlib.h>

#include "imap.h"

struct waiter {
	lcache_cb cb;
	void *arg;
	struct waiter *next;
};

struct entry {
	void *val;
	int loading;
	int stale;           /* invalidated while loading: answer waiters, then drop */
	int answering;       /* waiters' callbacks run: the entry must not be freed */
	uint64_t expires;
	struct waiter *waiters, *last;
};

struct lcache {
	uv_loop_t *loop;
	uint64_t ttl_ms;
	lcache_load_fn load;
	lcache_free_fn free_val;
	void *owner;
	struct imap *map;
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

static void entry_free(struct lcache *c, struct entry *e)
{
	if (e->val && c->free_val)
		c->free_val(e->val);
	free(e);
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

void lcache_get(struct lcache *c, int64_t key, lcache_cb cb, void *arg)
{
	struct entry *e = imap_get(c->map, key);
	uint64_t now = uv_now(c->loop);

	if (e && e->answering && !e->expires) {
		cb(NULL, "load failed", arg);
		return;
	}
	if (e && !e->loading && (e->expires > now || e->answering)) {
		c->hits++;
		cb(e->val, NULL, arg);
		return;
	}
	c->misses++;
	if (e && !e->loading) {
		imap_del(c->map, key);
		entry_free(c, e);
		e = NULL;
	}
	if (!e) {
		if (!(e = calloc(1, sizeof *e)) || imap_put(c->map, key, e) < 0) {
			free(e);
			cb(NULL, "out of memory", arg);
			return;
		}
		e->loading = 1;
		if (add_waiter(e, cb, arg) < 0) {
			imap_del(c->map, key);
			free(e);
			cb(NULL, "out of memory", arg);
			return;
		}
		c->load(c, key, c->owner);
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
	e->expires = err ? 0 : uv_now(c->loop) + c->ttl_ms;
	e->answering = 1;
	answer(e, val, err);
	e->answering = 0;
	if (err || e->stale) {
		imap_del(c->map, key);
		entry_free(c, e);
	}
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
	imap_del(c->map, key);
	entry_free(c, e);
}

static void mark_or_collect(int64_t key, void *val, void *arg)
{
	struct entry *e = val;
	int64_t **keys = arg;

	if (e->loading || e->answering)
		e->stale = 1;
	else
		*(*keys)++ = key;
}

void lcache_clear(struct lcache *c)
{
	size_t n = imap_count(c->map);
	int64_t *keys = malloc((n ? n : 1) * sizeof *keys), *end = keys;

	if (!keys)
		return;
	imap_each(c->map, mark_or_collect, &end);
	for (int64_t *k = keys; k < end; k++)
		entry_free(c, imap_del(c->map, *k));
	free(keys);
}

void lcache_stats(const struct lcache *c, uint64_t *hits, uint64_t *misses, size_t *size)
{
	*hits = c->hits;
	*misses = c->misses;
	*size = imap_count(c->map);
}
