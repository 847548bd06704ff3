/* lcache: an asynchronous read-through cache keyed by int64 (bot id, chat id).
 *
 * A miss calls the owner's load function once, however many callers wait; every
 * waiter is answered when the owner calls lcache_loaded. Values live until their
 * TTL passes, they are invalidated, or (with a bound) they are the least recently
 * used when the cache is over it; a caller must copy what it needs inside its
 * callback and keep no pointer to the value. */
#ifndef PIYASA_LCACHE_H
#define PIYASA_LCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct lcache;

typedef void (*lcache_cb)(const void *val, const char *err, void *arg);
/* Start loading key; must end in exactly one lcache_loaded(c, key, ...). */
typedef void (*lcache_load_fn)(struct lcache *c, int64_t key, void *owner);
typedef void (*lcache_free_fn)(void *val);

/* Unbounded until lcache_set_max. NULL when memory is short. */
struct lcache *lcache_new(uv_loop_t *loop, uint64_t ttl_ms, lcache_load_fn load,
			  lcache_free_fn free_val, void *owner);
/* Waiters still pending are answered with "closing". */
void lcache_free(struct lcache *c);

/* At most max entries (0: no bound). Over it, the least recently used entries
 * that are ready are dropped, now and after each load; entries loading, with
 * waiters or inside a callback are never dropped, so the count may exceed max
 * while that many loads are under way. */
void lcache_set_max(struct lcache *c, size_t max);

/* cb runs at once on a hit, later on a miss. */
void lcache_get(struct lcache *c, int64_t key, lcache_cb cb, void *arg);

/* The owner's answer to a load: val (owned by the cache from now on) or NULL
 * with err. A NULL val with NULL err means "does not exist" (cached too). */
void lcache_loaded(struct lcache *c, int64_t key, void *val, const char *err);

void lcache_invalidate(struct lcache *c, int64_t key);
/* The value if it is loaded, fresh and not being read right now; else NULL.
 * Not a hit or a miss. */
const void *lcache_peek(struct lcache *c, int64_t key);
/* The owner's newer value for a key lcache_peek found (val is taken over; the
 * old one is freed, its expiry kept). When the entry has moved on meanwhile,
 * val is freed and the key invalidated instead. */
void lcache_replace(struct lcache *c, int64_t key, void *val);
/* The value may be out of date: it is served at most ms longer (a load under
 * way when this comes lives ms once loaded, since it may predate the change). */
void lcache_expire_within(struct lcache *c, int64_t key, uint64_t ms);
void lcache_clear(struct lcache *c);
void lcache_stats(const struct lcache *c, uint64_t *hits, uint64_t *misses, size_t *size);

#endif
