/* tz: the local time of a chat's time zone (an IANA name such as "Europe/Istanbul").
 *
 * The scheduler needs the minute of the day in the chat's zone to apply active
 * hours and prime hours, many times a second across thousands of bots. glibc only
 * knows one zone per process (TZ), so the slow path sets TZ, calls tzset() and
 * localtime_r(), and restores TZ; its answer (the UTC offset) is cached per zone
 * together with the instant until which it holds: up to an hour ahead, or exactly
 * up to the next DST change when one falls inside that hour. So the slow path runs
 * at most about once per zone per hour and DST changes are honoured to the second.
 *
 * glibc silently treats an unknown TZ name as UTC, so a name is only accepted when
 * it is a plain relative name (letters, digits, '_', '-', '+', '/'; no '.', no
 * leading '/') of a TZif file under $TZDIR or /usr/share/zoneinfo. "UTC", "Etc/UTC"
 * and "GMT" are known even without zone files (minimal containers).
 *
 * Not thread-safe: the cache is process state and the slow path changes the
 * environment. Call it from the one loop thread of a worker only. */
#ifndef PIYASA_TZ_H
#define PIYASA_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz_local {
	int minute_of_day; /* 0..1439, local */
	int wday;          /* 0 = Sunday .. 6 = Saturday, local */
	int hour;          /* 0..23, local */
	long utc_offset_s; /* local time - UTC, seconds (Istanbul: 10800) */
};

/* The local time at now_ms (ms since the epoch) in zone: 0, or -1 with
 * "unknown time zone 'X'" in err (X cut to fit). An unknown zone is remembered
 * for an hour like a known one, so a misconfigured chat costs no file checks on
 * every call. */
int tz_local(const char *zone, int64_t now_ms, struct tz_local *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Forget every cached zone (tests; a tzdata update without a restart). */
void tz_cache_clear(void);

/* How many lookups missed the cache (and checked the zone file, switched TZ)
 * since start, for the tests that check the cache does its job. */
uint64_t tz_cache_misses(void);

#endif
