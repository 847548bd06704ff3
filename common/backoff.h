/* backoff: retry delays with jitter, and the tiny random number generator they use.
 *
 * Full jitter (AWS architecture blog, "Exponential Backoff And Jitter") spreads
 * retries of many clients that failed together: a delay is uniform in
 * [0, min(cap, base * 2^attempt)]. Equal jitter keeps half of that ceiling as a
 * floor, so a restart never comes back at once: the supervisor uses it to respawn
 * workers (about 100 ms first, doubling, capped). Nothing here overflows, for any
 * attempt; nothing here allocates or logs. The generator is xorshift64*: fast and
 * good enough for jitter, not for anything secret. */
#ifndef PIYASA_BACKOFF_H
#define PIYASA_BACKOFF_H

#include <stdint.h>

/* A seed that differs between processes and calls (time, pid, address); never 0. */
uint64_t backoff_seed(void);

/* Next 64 random bits from *state (xorshift64*). A zero state is replaced by a
 * fixed non-zero constant first, so a zeroed struct is a usable generator. */
uint64_t backoff_rand(uint64_t *state);

/* Uniform in [0, 1), 53 bits of precision. */
double backoff_uniform(uint64_t *state);

/* Uniform integer in [0, n] (inclusive); 0 when n <= 0. */
int64_t backoff_uniform_upto(int64_t n, uint64_t *state);

/* min(cap_ms, base_ms * 2^attempt) without overflow. A negative attempt counts as
 * 0; a negative base or cap as 0. */
int64_t backoff_ceiling(int attempt, int64_t base_ms, int64_t cap_ms);

/* Full jitter: uniform in [0, backoff_ceiling(attempt, base_ms, cap_ms)]. */
int64_t backoff_full_jitter(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng);

/* Equal jitter: c/2 + uniform in [0, c/2] with c = backoff_ceiling(...), so the
 * delay is at least half the ceiling and at most the ceiling. */
int64_t backoff_equal_jitter(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng);

/* The longest wait a Retry-After from outside may impose: a day. */
#define BACKOFF_RETRY_AFTER_MAX_S 86400

/* Milliseconds of a Retry-After of s seconds (an HTTP header, Telegram's
 * parameters.retry_after): clamped to BACKOFF_RETRY_AFTER_MAX_S, so a hostile
 * 2^62 neither overflows nor wraps to an immediate retry; -1 when s is negative
 * (no Retry-After), for the caller's default. */
int64_t backoff_retry_after_ms(long long s);

#endif
