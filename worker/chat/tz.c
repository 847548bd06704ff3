/* tz: local time per zone; see tz.h for the contracts.
 *
 * This is the one module with a static cache, on purpose: the UTC offset of a zone
 * is a fact about the world, the same for every caller, and the only way glibc
 * gives it (switching the process-wide TZ) is too slow and too global to do on
 * every scheduler tick. The cache holds TZ_SLOTS zones (a worker's chats use a
 * handful); when full, slots are reused in turn.
 *
 * An entry holds [from_s, until_s): the offset is right for any instant in it.
 * The slow path probes the offset now and an hour later; if they differ, a binary
 * search to the second finds the change and the entry ends there. Zones never
 * change offset twice within an hour, so one probe an hour ahead is enough. */
#include "worker/chat/tz.h"

#include "common/utf8.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TZ_SLOTS 32
#define TZ_NAME_MAX 64
#define TZ_HOLD_S 3600

struct tz_slot {
	char zone[TZ_NAME_MAX]; /* "" = free */
	int known;
	long offset_s;
	int64_t from_s, until_s;
};

static struct tz_slot cache[TZ_SLOTS];
static unsigned next_victim;
static uint64_t misses;

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int is_utc_name(const char *z)
{
	return strcmp(z, "UTC") == 0 || strcmp(z, "Etc/UTC") == 0 || strcmp(z, "GMT") == 0;
}

/* A plain relative name: no '.', so no "..", no leading '/', nothing odd. */
static int name_ok(const char *z)
{
	size_t n = strlen(z);

	if (n == 0 || n >= TZ_NAME_MAX || z[0] == '/' || z[n - 1] == '/')
		return 0;
	return strspn(z, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/") == n;
}

/* The file exists and is a TZif file (not a directory, not zone.tab). */
static int zone_file_ok(const char *z)
{
	const char *dir = getenv("TZDIR");
	char path[512], magic[4];
	int fd, ok;

	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, z) >= sizeof path)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	ok = read(fd, magic, sizeof magic) == (ssize_t)sizeof magic && memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}

static long offset_at(int64_t t_s)
{
	time_t t = (time_t)t_s;
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return 0;
	return tm.tm_gmtoff;
}

/* With TZ already switched: the offset at now_s and until when it holds. */
static void probe(int64_t now_s, long *offset_s, int64_t *until_s)
{
	long a = offset_at(now_s);
	int64_t lo = now_s, hi = now_s + TZ_HOLD_S;

	*offset_s = a;
	if (offset_at(hi) == a) {
		*until_s = hi;
		return;
	}
	/* offset(lo) == a, offset(hi) != a: the change is at some second in (lo, hi]. */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (offset_at(mid) == a)
			lo = mid;
		else
			hi = mid;
	}
	*until_s = hi;
}

/* Switch TZ to zone, probe, switch back: 0, or -1 when the environment could not
 * be changed (out of memory). */
static int slow_probe(const char *zone, int64_t now_s, long *offset_s, int64_t *until_s)
{
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	char want[TZ_NAME_MAX + 1];
	int rc = 0;

	if (old && !saved)
		return -1;
	/* The colon makes glibc read the file, never parse the name as a POSIX rule. */
	snprintf(want, sizeof want, ":%s", zone);
	if (setenv("TZ", want, 1) == 0) {
		tzset();
		probe(now_s, offset_s, until_s);
	} else {
		rc = -1;
	}
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	return rc;
}

static struct tz_slot *find_slot(const char *zone)
{
	for (int i = 0; i < TZ_SLOTS; i++)
		if (cache[i].zone[0] && strcmp(cache[i].zone, zone) == 0)
			return &cache[i];
	return NULL;
}

static struct tz_slot *claim_slot(const char *zone)
{
	struct tz_slot *s = NULL;

	for (int i = 0; i < TZ_SLOTS && !s; i++)
		if (!cache[i].zone[0])
			s = &cache[i];
	if (!s)
		s = &cache[next_victim++ % TZ_SLOTS];
	snprintf(s->zone, sizeof s->zone, "%s", zone);
	return s;
}

/* Fill (or refill) the slot of zone for now_s: 0, or -1 when out of memory. */
static int refresh(struct tz_slot *s, const char *zone, int64_t now_s)
{
	misses++;
	s->from_s = now_s;
	s->until_s = now_s + TZ_HOLD_S;
	s->offset_s = 0;
	s->known = name_ok(zone) && (is_utc_name(zone) || zone_file_ok(zone));
	if (!s->known || is_utc_name(zone))
		return 0;
	if (slow_probe(zone, now_s, &s->offset_s, &s->until_s) < 0) {
		s->zone[0] = '\0';
		return -1;
	}
	return 0;
}

static void fill_local(int64_t now_s, long offset_s, struct tz_local *out)
{
	int64_t local = now_s + offset_s;
	int64_t days = floor_div(local, 86400);
	int64_t sod = local - days * 86400;

	out->minute_of_day = (int)(sod / 60);
	out->hour = out->minute_of_day / 60;
	out->wday = (int)(((days + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
	out->utc_offset_s = offset_s;
}

int tz_local(const char *zone, int64_t now_ms, struct tz_local *out, char *err, size_t errlen)
{
	int64_t now_s = floor_div(now_ms, 1000);
	struct tz_slot *s;

	if (!zone)
		zone = "";
	s = strlen(zone) < TZ_NAME_MAX ? find_slot(zone) : NULL;
	if (!s || now_s < s->from_s || now_s >= s->until_s) {
		if (!s && strlen(zone) < TZ_NAME_MAX)
			s = claim_slot(zone);
		if (s && refresh(s, zone, now_s) < 0) {
			utf8_fmt(err, errlen, "time zone '%s': out of memory", zone);
			return -1;
		}
	}
	if (!s || !s->known) {
		char z[TZ_NAME_MAX + 1];

		/* The name is the chat's, from outside: cut, never inside a character. */
		utf8_cut(z, sizeof z, zone);
		utf8_fmt(err, errlen, "unknown time zone '%s'", z);
		return -1;
	}
	fill_local(now_s, s->offset_s, out);
	return 0;
}

void tz_cache_clear(void)
{
	memset(cache, 0, sizeof cache);
	next_victim = 0;
}

uint64_t tz_cache_misses(void)
{
	return misses;
}
