/* fa_util.h: logging, clocks and the per-thread seeded random source of the fake API. */
#ifndef FA_UTIL_H
#define FA_UTIL_H

#include <stdarg.h>
#include <stdint.h>

extern int fa_log_level; /* 0 quiet, 1 normal, 2 verbose (every request) */

/* Logs to stderr; callers never pass a URL or token, only method names and ids. */
void fa_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* libmicrohttpd's error logger (MHD_OPTION_EXTERNAL_LOGGER): goes through fa_log with
 * anything that looks like a bot token removed, in case MHD ever quotes a URL. */
void fa_log_mhd(void *cls, const char *fmt, va_list ap);
/* Replaces every "/bot<token>" in s (in place) by "/bot***". */
void fa_log_scrub(char *s);

int64_t fa_now_ms(void); /* CLOCK_MONOTONIC */

void fa_rand_seed(uint64_t seed);
uint64_t fa_rand(void); /* per-thread xorshift, seeded from --seed */
double fa_rand01(void); /* uniform in [0, 1) */

#endif
