/* fa_util.c: logging, monotonic clock and random numbers. Each MHD thread gets its own
 * generator (derived from --seed and a thread number) so drawing faults takes no lock. */
#include "tests/fakeapi/fa_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int fa_log_level = 1;

static uint64_t fa_seed_base = 0x9e3779b97f4a7c15ULL;
static unsigned fa_thread_counter;
static __thread uint64_t fa_rng_state;

void fa_log(int level, const char *fmt, ...)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    va_list ap;

    if (level > fa_log_level)
        return;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    flockfile(stderr);
    fprintf(stderr, "%s piyasa-fakeapi: ", ts);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

void fa_log_scrub(char *s)
{
    char *p = s;

    while ((p = strstr(p, "/bot")) != NULL) {
        char *tok = p + 4, *end = tok;
        while (*end && *end != '/' && *end != ' ' && *end != '?' && *end != '\n')
            end++;
        if (end > tok) {
            memcpy(tok, "***", 3);
            memmove(tok + 3, end, strlen(end) + 1);
        }
        p = tok;
    }
}

void fa_log_mhd(void *cls, const char *fmt, va_list ap)
{
    char buf[1024];
    size_t n;

    (void)cls;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    fa_log_scrub(buf);
    fa_log(1, "mhd: %s", buf);
}

int64_t fa_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fa_rand_seed(uint64_t seed)
{
    fa_seed_base = seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
}

uint64_t fa_rand(void)
{
    uint64_t x = fa_rng_state;

    if (!x) {
        unsigned n = __atomic_add_fetch(&fa_thread_counter, 1, __ATOMIC_RELAXED);
        x = fa_seed_base ^ ((uint64_t)n * 0xd1b54a32d192ed03ULL);
        if (!x)
            x = 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    fa_rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

double fa_rand01(void)
{
    return (double)(fa_rand() >> 11) * (1.0 / 9007199254740992.0);
}
