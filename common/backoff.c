/* backoff: see backoff.h. The ceiling is computed by shifting the cap down rather
 * than the base up, so a large attempt (a worker that crashed all night) can never
 * overflow into a negative or zero delay. */
#include "common/backoff.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* Any odd constant with mixed bits works; this one is the 64-bit golden ratio. */
#define BACKOFF_DEFAULT_STATE 0x9e3779b97f4a7c15ull

uint64_t backoff_seed(void)
{
	struct timespec ts;
	uint64_t s, addr = (uint64_t)(uintptr_t)&ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	s = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec;
	s ^= ((uint64_t)getpid() << 32) ^ addr;
	/* One round of splitmix64 so close seeds give unrelated sequences. */
	s += BACKOFF_DEFAULT_STATE;
	s = (s ^ (s >> 30)) * 0xbf58476d1ce4e5b9ull;
	s = (s ^ (s >> 27)) * 0x94d049bb133111ebull;
	s ^= s >> 31;
	return s ? s : BACKOFF_DEFAULT_STATE;
}

uint64_t backoff_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : BACKOFF_DEFAULT_STATE;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

double backoff_uniform(uint64_t *state)
{
	return (double)(backoff_rand(state) >> 11) * 0x1.0p-53;
}

int64_t backoff_uniform_upto(int64_t n, uint64_t *state)
{
	if (n <= 0)
		return 0;
	/* Multiply-high maps 64 random bits onto [0, n] without modulo bias worth
	 * speaking of; n + 1 cannot overflow the 128-bit product. */
	return (int64_t)(((unsigned __int128)backoff_rand(state) * ((uint64_t)n + 1)) >> 64);
}

int64_t backoff_ceiling(int attempt, int64_t base_ms, int64_t cap_ms)
{
	if (base_ms <= 0 || cap_ms <= 0)
		return 0;
	if (attempt < 0)
		attempt = 0;
	/* base * 2^a <= cap  <=>  base <= floor(cap / 2^a), with no product formed. */
	if (attempt >= 63 || base_ms > (cap_ms >> attempt))
		return cap_ms;
	return base_ms << attempt;
}

int64_t backoff_full_jitter(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng)
{
	return backoff_uniform_upto(backoff_ceiling(attempt, base_ms, cap_ms), rng);
}

int64_t backoff_equal_jitter(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng)
{
	int64_t c = backoff_ceiling(attempt, base_ms, cap_ms);
	int64_t half = c / 2;

	return half + backoff_uniform_upto(c - half, rng);
}

int64_t backoff_retry_after_ms(long long s)
{
	if (s < 0)
		return -1;
	return (int64_t)(s < BACKOFF_RETRY_AFTER_MAX_S ? s : BACKOFF_RETRY_AFTER_MAX_S) * 1000;
}
