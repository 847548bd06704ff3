/* ownlog: each bot's own recent sent messages, kept by the worker that owns the
 * bot, so a speak or reply job does not read them from PostgreSQL every time.
 *
 * Per bot a history of at most OWNLOG_MAX messages, newest first, as loaded from
 * the messages table (ownlog_put) and then extended by every send of this worker
 * (ownlog_add). The cache is LRU over bots within a byte budget; a history older
 * than the TTL counts as missing, a safety net against any other writer.
 *
 * Histories are refcounted and copy-on-write: a handle from ownlog_get or
 * ownlog_put is an immutable snapshot, valid (with every string in it) until
 * ownlog_unref, whatever the cache does meanwhile (append, replace, evict, free).
 * A reader may therefore hold it across asynchronous steps.
 *
 * A send that the database does not show yet (its 'sent' commits after the
 * load's SELECT) would be lost when the load's list replaces the cached one, so
 * the cache also remembers every bot's sends of the last OWNLOG_JOURNAL_MS and
 * merges those missing from a load (by job id) into it.
 *
 * A message may carry its embedding for semantic dedup. Only a send brings one
 * (the database keeps no vectors): a load keeps the vectors of the messages
 * the cache already held (by job id), so a reload after the TTL loses none.
 *
 * Pure: no I/O, no clock (callers pass now_ms), no logging. One thread. */
#ifndef PIYASA_OWNLOG_H
#define PIYASA_OWNLOG_H

#include <stddef.h>
#include <stdint.h>

#define OWNLOG_MAX 100
#define OWNLOG_BYTES_DEFAULT ((size_t)4 << 20)
#define OWNLOG_TTL_MS_DEFAULT (10 * 60 * 1000LL)
/* How long a send may take to become visible to a load (the outbox UPDATE). */
#define OWNLOG_JOURNAL_MS 60000LL
#define OWNLOG_JOURNAL_MAX 32

struct ownlog;
struct ownlog_hist;

/* One message. In a handle topic, text and job_id are never NULL ("" for none). */
struct ownlog_msg {
	int64_t at_ms; /* sent at, ms since the epoch */
	uint64_t hash; /* dedup_hash(text) */
	const char *topic;
	const char *text;
	const char *job_id; /* identity for merging; NULL or "" when unknown */
	const int8_t *vec;  /* its embedding (dedup_quantize), NULL when unknown */
	uint32_t dim;       /* of vec, 0 when unknown */
};

/* A cache of at most max_bytes (strings and structs, not malloc's overhead; 0:
 * OWNLOG_BYTES_DEFAULT) whose histories expire ttl_ms after their load (<= 0:
 * OWNLOG_TTL_MS_DEFAULT). NULL when memory runs out. */
struct ownlog *ownlog_new(size_t max_bytes, int64_t ttl_ms);
/* A new budget (0: OWNLOG_BYTES_DEFAULT); the least recently used go now
 * when the cache is over it. */
void ownlog_set_max_bytes(struct ownlog *ol, size_t max_bytes);
/* Drops every history; handles still held stay valid until unref'd. NULL is safe. */
void ownlog_free(struct ownlog *ol);

/* bot's history, a new reference, or NULL (a miss) when it is not cached, was
 * loaded ttl_ms or more before now_ms (or after it: the clock stepped back), or
 * was loaded for a shorter window than window_ms. A hit makes bot most recent. */
struct ownlog_hist *ownlog_get(struct ownlog *ol, int64_t bot, int64_t now_ms, int64_t window_ms);

/* The loaded list rows[0..n) (newest first, as the SELECT gave it; strings and
 * vectors are copied) replaces bot's history, merged with the bot's sends of the journal
 * that rows lacks. window_ms is the window the SELECT looked back. Returns a new
 * reference to the history, or NULL when memory runs out (the cache is left as
 * it was). A history larger than the whole budget is returned but not kept. */
struct ownlog_hist *ownlog_put(struct ownlog *ol, int64_t bot, int64_t now_ms, int64_t window_ms,
			       const struct ownlog_msg *rows, size_t n)
	__attribute__((warn_unused_result));

/* bot sent m (strings and vector copied): it becomes the newest message of the cached
 * history (the oldest falls off past OWNLOG_MAX) and goes into the journal, even
 * when no history is cached. Handles already given out do not change. When
 * memory runs out the bot's history is dropped, so the next get reloads it. */
void ownlog_add(struct ownlog *ol, int64_t bot, int64_t now_ms, const struct ownlog_msg *m);

/* Readers. Index 0 is the newest; i < ownlog_len(h). NULL h has length 0. */
size_t ownlog_len(const struct ownlog_hist *h);
const struct ownlog_msg *ownlog_at(const struct ownlog_hist *h, size_t i);
void ownlog_unref(struct ownlog_hist *h); /* NULL is safe */

/* For tests and metrics: the bytes counted against the budget, the bots held. */
size_t ownlog_bytes(const struct ownlog *ol);
size_t ownlog_count(const struct ownlog *ol);

#endif
