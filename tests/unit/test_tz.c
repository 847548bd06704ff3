/* test_tz: local time in a chat's zone: fixed and DST zones at known instants, the
 * exact DST change, unknown names refused (glibc would quietly use UTC), TZ left as
 * it was, and the cache keeping the slow path to about once per zone per hour. */
#include "tests/check_main.h"
#include "worker/chat/tz.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2024-01-15 12:00:00 UTC (a Monday) and 2024-07-15 12:00:00 UTC (a Monday). */
#define JAN_NOON_MS 1705320000000LL
#define JUL_NOON_MS 1721044800000LL
/* New York: 2024-03-10 07:00:00 UTC is 02:00 EST -> 03:00 EDT. */
#define NY_SPRING_MS 1710054000000LL
/* New York: 2024-11-03 06:00:00 UTC is 02:00 EDT -> 01:00 EST. */
#define NY_FALL_MS 1730613600000LL

static struct tz_local at(const char *zone, int64_t ms)
{
	struct tz_local l;
	char err[128] = "";

	memset(&l, 0xff, sizeof l);
	ck_assert_msg(tz_local(zone, ms, &l, err, sizeof err) == 0, "%s: %s", zone, err);
	return l;
}

static void setup(void)
{
	tz_cache_clear();
}

START_TEST(istanbul_is_utc_plus_3_all_year)
{
	struct tz_local l = at("Europe/Istanbul", JAN_NOON_MS);

	ck_assert_int_eq(l.utc_offset_s, 3 * 3600);
	ck_assert_int_eq(l.hour, 15);
	ck_assert_int_eq(l.minute_of_day, 15 * 60);
	ck_assert_int_eq(l.wday, 1);
	l = at("Europe/Istanbul", JUL_NOON_MS);
	ck_assert_int_eq(l.utc_offset_s, 3 * 3600);
	ck_assert_int_eq(l.minute_of_day, 15 * 60);
}
END_TEST

START_TEST(new_york_follows_dst)
{
	struct tz_local l = at("America/New_York", JAN_NOON_MS);

	ck_assert_int_eq(l.utc_offset_s, -5 * 3600);
	ck_assert_int_eq(l.hour, 7);
	ck_assert_int_eq(l.minute_of_day, 7 * 60);
	l = at("America/New_York", JUL_NOON_MS);
	ck_assert_int_eq(l.utc_offset_s, -4 * 3600);
	ck_assert_int_eq(l.hour, 8);
	ck_assert_int_eq(l.minute_of_day, 8 * 60);
}
END_TEST

START_TEST(dst_change_is_exact_through_the_cache)
{
	/* Warm the cache half an hour before the change, then walk across it. */
	ck_assert_int_eq(at("America/New_York", NY_SPRING_MS - 1800000).utc_offset_s, -5 * 3600);
	ck_assert_int_eq(at("America/New_York", NY_SPRING_MS - 1000).utc_offset_s, -5 * 3600);
	ck_assert_int_eq(at("America/New_York", NY_SPRING_MS - 1000).minute_of_day, 1 * 60 + 59);
	ck_assert_int_eq(at("America/New_York", NY_SPRING_MS).utc_offset_s, -4 * 3600);
	ck_assert_int_eq(at("America/New_York", NY_SPRING_MS).minute_of_day, 3 * 60);
	/* Autumn: 01:59 EDT is followed by 01:00 EST. */
	ck_assert_int_eq(at("America/New_York", NY_FALL_MS - 20 * 60000).utc_offset_s, -4 * 3600);
	ck_assert_int_eq(at("America/New_York", NY_FALL_MS - 60000).minute_of_day, 1 * 60 + 59);
	ck_assert_int_eq(at("America/New_York", NY_FALL_MS).utc_offset_s, -5 * 3600);
	ck_assert_int_eq(at("America/New_York", NY_FALL_MS).minute_of_day, 1 * 60);
}
END_TEST

START_TEST(minute_of_day_half_hour_zone_and_midnight)
{
	struct tz_local l = at("Asia/Kolkata", JAN_NOON_MS + 59999);

	ck_assert_int_eq(l.utc_offset_s, 5 * 3600 + 1800);
	ck_assert_int_eq(l.minute_of_day, 17 * 60 + 30);
	ck_assert_int_eq(l.hour, 17);
	/* 21:00 UTC Monday is 00:00 Tuesday in Istanbul. */
	l = at("Europe/Istanbul", JAN_NOON_MS + 9 * 3600000LL);
	ck_assert_int_eq(l.minute_of_day, 0);
	ck_assert_int_eq(l.hour, 0);
	ck_assert_int_eq(l.wday, 2);
	l = at("Europe/Istanbul", JAN_NOON_MS + 9 * 3600000LL - 1);
	ck_assert_int_eq(l.minute_of_day, 1439);
	ck_assert_int_eq(l.wday, 1);
	/* Before the epoch: 1969-12-31 23:59:30 UTC was a Wednesday. */
	l = at("UTC", -30000);
	ck_assert_int_eq(l.minute_of_day, 1439);
	ck_assert_int_eq(l.wday, 3);
	ck_assert_int_eq(l.utc_offset_s, 0);
}
END_TEST

START_TEST(utc_names)
{
	ck_assert_int_eq(at("UTC", JUL_NOON_MS).minute_of_day, 12 * 60);
	ck_assert_int_eq(at("Etc/UTC", JUL_NOON_MS).utc_offset_s, 0);
	ck_assert_int_eq(at("GMT", JUL_NOON_MS).hour, 12);
}
END_TEST

START_TEST(unknown_zones_refused)
{
	static const char *const bad[] = { "Mars/Olympus",
					   "Europe/Istambul",
					   "",
					   "../etc/passwd",
					   "Europe/../Europe/Istanbul",
					   "/usr/share/zoneinfo/UTC",
					   "Europe",
					   "zone.tab",
					   "Europe/Istanbul/",
					   "Europe/Istanbul\n" };
	struct tz_local l;
	char err[128];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		ck_assert_msg(tz_local(bad[i], JAN_NOON_MS, &l, err, sizeof err) == -1, "%s", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "unknown time zone '"));
	}
	ck_assert_int_eq(tz_local("Mars/Olympus", JAN_NOON_MS, &l, err, sizeof err), -1);
	ck_assert_str_eq(err, "unknown time zone 'Mars/Olympus'");
	ck_assert_int_eq(tz_local(NULL, JAN_NOON_MS, &l, err, sizeof err), -1);
	/* A very long name is refused and cut in the message, not overflowing err. */
	char longname[300];
	memset(longname, 'A', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	ck_assert_int_eq(tz_local(longname, JAN_NOON_MS, &l, err, sizeof err), -1);
	ck_assert_int_lt(strlen(err), sizeof err);
	/* ... cut on a character boundary: "A" and 100 "ç" are cut at 64 bytes. */
	{
		char tr[202] = "A";
		json_t *e;

		for (int i = 0; i < 100; i++)
			strcat(tr, "\xc3\xa7");
		ck_assert_int_eq(tz_local(tr, JAN_NOON_MS, &l, err, sizeof err), -1);
		ck_assert_msg((e = json_string(err)) != NULL, "not UTF-8: %s", err);
		json_decref(e);
		ck_assert_uint_eq(strlen(err), strlen("unknown time zone 'A'") + 2 * 31);
	}
}
END_TEST

START_TEST(tz_environment_restored)
{
	struct tz_local l;
	char err[128];

	setenv("TZ", "Asia/Tokyo", 1);
	ck_assert_int_eq(tz_local("America/New_York", JAN_NOON_MS, &l, err, sizeof err), 0);
	ck_assert_str_eq(getenv("TZ"), "Asia/Tokyo");
	unsetenv("TZ");
	ck_assert_int_eq(tz_local("Europe/Istanbul", JAN_NOON_MS, &l, err, sizeof err), 0);
	ck_assert_ptr_null(getenv("TZ"));
}
END_TEST

START_TEST(cache_limits_the_slow_path)
{
	uint64_t before = tz_cache_misses();

	/* An hour of calls, one a second, for two zones: one miss each (the entry of a
	 * zone without a change that hour holds for the whole hour). */
	for (int64_t s = 0; s < 3600; s++) {
		ck_assert_int_eq(at("Europe/Istanbul", JAN_NOON_MS + s * 1000).hour, 15);
		ck_assert_int_eq(at("America/New_York", JAN_NOON_MS + s * 1000).utc_offset_s,
				 -5 * 3600);
	}
	ck_assert_uint_eq(tz_cache_misses() - before, 2);
	/* Unknown zones are remembered too: no repeated work for a misconfigured chat. */
	before = tz_cache_misses();
	for (int i = 0; i < 1000; i++) {
		struct tz_local l;
		char err[64];

		ck_assert_int_eq(tz_local("Mars/Olympus", JAN_NOON_MS + i, &l, err, sizeof err), -1);
	}
	ck_assert_uint_eq(tz_cache_misses() - before, 1);
}
END_TEST

START_TEST(many_zones_evict_but_stay_right)
{
	static const char *const zones[] = { "Europe/Istanbul", "America/New_York", "Asia/Tokyo",
					     "Europe/London",   "Australia/Sydney", "Asia/Kolkata" };
	static const long jan[] = { 10800, -18000, 32400, 0, 39600, 19800 };

	/* More lookups of more distinct zones than the cache holds. */
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
			ck_assert_int_eq(at(zones[i], JAN_NOON_MS).utc_offset_s, jan[i]);
	for (int i = 0; i < 40; i++) {
		char name[32];
		struct tz_local l;
		char err[64];

		snprintf(name, sizeof name, "Etc/GMT-%d", i % 14 + 1);
		ck_assert_int_eq(tz_local(name, JAN_NOON_MS, &l, err, sizeof err), 0);
		ck_assert_int_eq(l.utc_offset_s, (i % 14 + 1) * 3600L);
	}
	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
		ck_assert_int_eq(at(zones[i], JAN_NOON_MS).utc_offset_s, jan[i]);
}
END_TEST

static Suite *tz_suite(void)
{
	Suite *s = suite_create("tz");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, istanbul_is_utc_plus_3_all_year);
	tcase_add_test(tc, new_york_follows_dst);
	tcase_add_test(tc, dst_change_is_exact_through_the_cache);
	tcase_add_test(tc, minute_of_day_half_hour_zone_and_midnight);
	tcase_add_test(tc, utc_names);
	tcase_add_test(tc, unknown_zones_refused);
	tcase_add_test(tc, tz_environment_restored);
	tcase_add_test(tc, cache_limits_the_slow_path);
	tcase_add_test(tc, many_zones_evict_but_stay_right);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tz_suite)
