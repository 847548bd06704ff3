/* lcache: an asynchronous read-through cache keyed by int64 (bot id, chat id).
 *
 * A miss calls the owner's load function once, however many callers wait; every
 * waiter is answered when the owner calls lcache_loaded. Values live until their
 * TTL passes or they are invalidated; a caller must copy what it needs inside its
 * callback and keep no pointer to the value. */
#ifndef PIYASA_LCACHE_H
#define PIYASA_LCACHE_H

#include <stdint.h>
#include <uv.h>

struct lcache;

typedef void (*lcache_cb)(const void *val, const char *err, void *arg);
/* Start loading key; must end in exactly one lcache_loaded(c, key, ...). */
typedef void (*lcache_load_fn)(struct lcache *c, int64_t key, void *owner);
typedef void (*lcache_free_fn)(void *val);

struct lcache *lcache_new(uv_loop_t *loop, uint64_t ttl_ms, lcache_load_fn load,
			  lcache_free_fn free_val, void *owner);
/* Waiters still pending are answered with "closing". */
void lcache_free(struct lcache *c);

/* cb runs at once on a hit, later on a miss. */
void lcache_get(struct lcache *c, int64_t key, lcache_cb cb, void *arg);

/* The owner's answer to a load: val (owned by the cache from now on) or NULL
 * with err. A NULL val with NULL err means "does not exist" (cached too). */
void lcache_loaded(struct lcache *c, int64_t key, void *val, const char *err);

void lcache_invalidate(struct lcache *c, int64_t key);
void lcache_clear(struct lcache *c);
void lcache_stats(const struct lcache *c, uint64_t *hits, uint64_t *misses, size_t *size);

#endif
