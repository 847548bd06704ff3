/* fa_util.h: logging, clocks and the per-thread seeded random source of the fake API. */
#ifndef FA_UTIL_H
#define FA_UTIL_H

#include <stdint.h>

extern int fa_log_level; /* 0 quiet, 1 normal, 2 verbose (every request) */

/* Logs to stderr; callers never pass a URL or token, only method names and ids. */
void fa_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int64_t fa_now_ms(void); /* CLOCK_MONOTONIC */

void fa_rand_seed(uint64_t seed);
uint64_t fa_rand(void);    /* per-thread xorshift, seeded from --seed */
double fa_rand01(void);    /* uniform in [0, 1) */

#endif
