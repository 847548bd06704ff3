/* rlim: request rate limits, token buckets by name ("addr:127.0.0.1",
 * "key:deploy", "login:alice").
 *
 * Each name gets its own bucket (common/tbucket) of a rate per minute and a
 * burst, made full on first use; names idle long enough to be full again are
 * forgotten, so the table holds only the recently active. The numbers an
 * answer carries (X-RateLimit-Limit, -Remaining, -Reset, Retry-After) come
 * from the result. A pure structure: the caller passes the clock. */
#ifndef PIYASA_RLIM_H
#define PIYASA_RLIM_H

#include <stddef.h>
#include <stdint.h>

struct rlim;

struct rlim_result {
	int ok;             /* 1: taken */
	long limit;         /* the burst: what a client may spend at once */
	long remaining;     /* whole tokens left */
	long reset_s;       /* seconds until the bucket is full again */
	long retry_after_s; /* when refused: seconds until one token is there */
};

/* A table of at most max names. NULL when out of memory. */
struct rlim *rlim_new(size_t max);
void rlim_free(struct rlim *r);

/* Take one token from name's bucket (per_minute, burst); fills *out. */
void rlim_take(struct rlim *r, const char *name, double per_minute, double burst, int64_t now_ms,
	       struct rlim_result *out);
/* Forget name's bucket (a login that succeeded clears its failures). */
void rlim_forget(struct rlim *r, const char *name);
/* Names held now. */
size_t rlim_count(const struct rlim *r);

#endif
