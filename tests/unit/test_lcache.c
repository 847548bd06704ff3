/* test_lcache: the worker's read-through cache. One load per miss however many
 * wait, the LRU bound (never dropping an entry loading or being read), expired
 * entries reaped from the tail, and a loop that closes clean. */
#include "tests/check_main.h"
#include "worker/chat/lcache.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

struct fix {
	uv_loop_t loop;
	struct lcache *c;
	int64_t loads[64]; /* keys asked of the owner, in order */
	int nloads;
	int freed; /* values released by the cache */
	int sync;  /* answer loads at once with a value */
};

struct call {
	struct fix *f;
	int n;
	int val; /* the value seen, -1 none */
	char err[32];
	int64_t nested;   /* a key to get from inside the callback, 0 none */
	int invalidate;   /* invalidate this key from inside the callback */
	int freed_inside; /* f->freed after the nested get, still in the callback */
};

static int *val_new(int v)
{
	int *p = malloc(sizeof *p);

	*p = v;
	return p;
}

static void on_load(struct lcache *c, int64_t key, void *owner)
{
	struct fix *f = owner;

	f->loads[f->nloads++] = key;
	if (f->sync)
		lcache_loaded(c, key, val_new((int)key * 10), NULL);
}

static struct fix *cur; /* for the free function, which gets no owner */

static void on_freed_val(void *p)
{
	cur->freed++;
	free(p);
}

static void fix_init(struct fix *f, uint64_t ttl_ms)
{
	memset(f, 0, sizeof *f);
	cur = f;
	ck_assert_int_eq(uv_loop_init(&f->loop), 0);
	f->c = lcache_new(&f->loop, ttl_ms, on_load, on_freed_val, f);
	ck_assert_ptr_nonnull(f->c);
}

static void fix_done(struct fix *f)
{
	lcache_free(f->c);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static void on_val(const void *val, const char *err, void *arg)
{
	struct call *k = arg;

	k->n++;
	k->val = val ? *(const int *)val : -1;
	snprintf(k->err, sizeof k->err, "%s", err ? err : "");
	if (k->nested)
		lcache_get(k->f->c, k->nested, on_val, &(struct call){ .f = k->f });
	if (k->invalidate)
		lcache_invalidate(k->f->c, k->invalidate);
	k->freed_inside = k->f->freed;
}

static void get(struct fix *f, int64_t key, struct call *k)
{
	k->f = f;
	lcache_get(f->c, key, on_val, k);
}

static size_t size_of(struct fix *f)
{
	uint64_t h, m;
	size_t n;

	lcache_stats(f->c, &h, &m, &n);
	return n;
}

/* Load key synchronously through the test's own answer. */
static void load(struct fix *f, int64_t key)
{
	struct call k = { 0 };

	get(f, key, &k);
	lcache_loaded(f->c, key, val_new((int)key * 10), NULL);
	ck_assert_int_eq(k.n, 1);
	ck_assert_int_eq(k.val, (int)key * 10);
}

START_TEST(one_load_for_many_waiters)
{
	struct fix f;
	struct call a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t h, m;
	size_t n;

	fix_init(&f, 60000);
	get(&f, 7, &a);
	get(&f, 7, &b);
	ck_assert_int_eq(f.nloads, 1);
	ck_assert_int_eq(a.n + b.n, 0);
	lcache_loaded(f.c, 7, val_new(70), NULL);
	ck_assert_int_eq(a.val, 70);
	ck_assert_int_eq(b.val, 70);
	get(&f, 7, &c);
	ck_assert_int_eq(c.val, 70);
	ck_assert_int_eq(f.nloads, 1);
	lcache_stats(f.c, &h, &m, &n);
	ck_assert_int_eq(h, 1);
	ck_assert_int_eq(m, 2);
	ck_assert_int_eq(n, 1);
	fix_done(&f);
	ck_assert_int_eq(f.freed, 1);
}
END_TEST

START_TEST(errors_are_not_cached)
{
	struct fix f;
	struct call a = { 0 }, b = { 0 };

	fix_init(&f, 60000);
	get(&f, 1, &a);
	lcache_loaded(f.c, 1, NULL, "db down");
	ck_assert_str_eq(a.err, "db down");
	ck_assert_int_eq(size_of(&f), 0);
	get(&f, 1, &b);
	ck_assert_int_eq(f.nloads, 2);
	fix_done(&f);
	ck_assert_str_eq(b.err, "closing");
}
END_TEST

START_TEST(bound_drops_least_recently_used)
{
	struct fix f;
	struct call k = { 0 };

	fix_init(&f, 60000);
	lcache_set_max(f.c, 3);
	load(&f, 1);
	load(&f, 2);
	load(&f, 3);
	get(&f, 1, &k); /* 1 is now the most recent: 2 is the oldest */
	load(&f, 4);
	ck_assert_int_eq(size_of(&f), 3);
	ck_assert_int_eq(f.freed, 1);
	f.sync = 1;
	get(&f, 1, &k);
	get(&f, 3, &k);
	get(&f, 4, &k);
	ck_assert_int_eq(f.nloads, 4); /* all hits */
	get(&f, 2, &k);                /* gone: loaded again, 1 goes */
	ck_assert_int_eq(f.nloads, 5);
	ck_assert_int_eq(size_of(&f), 3);
	ck_assert_int_eq(f.freed, 2);
	get(&f, 1, &k);
	ck_assert_int_eq(f.nloads, 6);
	fix_done(&f);
}
END_TEST

START_TEST(loading_entries_are_never_dropped)
{
	struct fix f;
	struct call a = { 0 }, b = { 0 }, c = { 0 };

	fix_init(&f, 60000);
	lcache_set_max(f.c, 1);
	get(&f, 1, &a);
	get(&f, 2, &b);
	ck_assert_int_eq(size_of(&f), 2);
	lcache_loaded(f.c, 2, val_new(20), NULL);
	/* Over the bound, and 1 cannot go: 2, the only ready one, goes. */
	ck_assert_int_eq(b.val, 20);
	ck_assert_int_eq(size_of(&f), 1);
	lcache_loaded(f.c, 1, val_new(10), NULL);
	ck_assert_int_eq(a.val, 10);
	ck_assert_int_eq(size_of(&f), 1);
	get(&f, 1, &c);
	ck_assert_int_eq(c.val, 10);
	ck_assert_int_eq(f.nloads, 2);
	fix_done(&f);
	ck_assert_int_eq(f.freed, 2);
}
END_TEST

START_TEST(value_read_in_a_callback_survives_a_nested_load)
{
	struct fix f;
	struct call k = { 0 };

	fix_init(&f, 60000);
	lcache_set_max(f.c, 1);
	load(&f, 1);
	f.sync = 1;
	k.nested = 2; /* loads 2 at once, from inside 1's hit */
	get(&f, 1, &k);
	ck_assert_int_eq(k.val, 10);
	/* 1 was being read: 2, just loaded, went in its place. */
	ck_assert_int_eq(f.nloads, 2);
	ck_assert_int_eq(f.freed, 1);
	ck_assert_int_eq(size_of(&f), 1);
	k.nested = 0;
	get(&f, 1, &k);
	ck_assert_int_eq(f.nloads, 2);
	fix_done(&f);
	ck_assert_int_eq(f.freed, 2);
}
END_TEST

START_TEST(invalidate_inside_a_hit)
{
	struct fix f;
	struct call k = { 0 };

	fix_init(&f, 60000);
	load(&f, 5);
	k.invalidate = 5;
	get(&f, 5, &k);
	ck_assert_int_eq(k.val, 50);
	ck_assert_int_eq(k.freed_inside, 0);
	ck_assert_int_eq(size_of(&f), 0);
	ck_assert_int_eq(f.freed, 1);
	fix_done(&f);
}
END_TEST

START_TEST(lower_bound_trims_now)
{
	struct fix f;

	fix_init(&f, 60000);
	for (int64_t i = 1; i <= 10; i++)
		load(&f, i);
	ck_assert_int_eq(size_of(&f), 10);
	lcache_set_max(f.c, 4);
	ck_assert_int_eq(size_of(&f), 4);
	ck_assert_int_eq(f.freed, 6);
	lcache_set_max(f.c, 0);
	load(&f, 11);
	ck_assert_int_eq(size_of(&f), 5);
	fix_done(&f);
}
END_TEST

START_TEST(expired_entries_are_reaped)
{
	struct fix f;
	struct call k = { 0 };

	fix_init(&f, 10);
	load(&f, 1);
	load(&f, 2);
	uv_sleep(20);
	uv_update_time(&f.loop);
	load(&f, 3); /* the load trims the expired tail */
	ck_assert_int_eq(size_of(&f), 1);
	ck_assert_int_eq(f.freed, 2);
	get(&f, 3, &k);
	ck_assert_int_eq(f.nloads, 3);
	fix_done(&f);
}
END_TEST

/* A change elsewhere: the value is served at most ms more, and a load under
 * way when it came lives only ms; 0 drops it at once. */
START_TEST(expire_within_bounds_staleness)
{
	struct fix f;
	struct call a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };

	fix_init(&f, 60000);
	load(&f, 1);
	lcache_expire_within(f.c, 1, 20);
	get(&f, 1, &a);
	ck_assert_int_eq(f.nloads, 1);       /* still served */
	lcache_expire_within(f.c, 1, 50000); /* never lengthens */
	uv_sleep(30);
	uv_update_time(&f.loop);
	get(&f, 1, &b);
	ck_assert_int_eq(f.nloads, 2);    /* expired: loaded again */
	lcache_expire_within(f.c, 1, 20); /* while loading */
	lcache_loaded(f.c, 1, val_new(11), NULL);
	ck_assert_int_eq(b.val, 11);
	uv_sleep(30);
	uv_update_time(&f.loop);
	get(&f, 1, &c);
	ck_assert_int_eq(f.nloads, 3);
	lcache_loaded(f.c, 1, val_new(12), NULL);
	lcache_expire_within(f.c, 1, 0);
	get(&f, 1, &d);
	ck_assert_int_eq(f.nloads, 4);
	lcache_loaded(f.c, 1, val_new(13), NULL);
	ck_assert_int_eq(d.val, 13);
	fix_done(&f);
}
END_TEST

/* The owner updates a loaded value in place; an entry loading, being read or
 * gone refuses (the new value is freed and the key invalidated). */
START_TEST(peek_and_replace)
{
	struct fix f;
	struct call a = { 0 }, b = { 0 };

	fix_init(&f, 60000);
	ck_assert_ptr_null(lcache_peek(f.c, 1));
	load(&f, 1);
	ck_assert_int_eq(*(const int *)lcache_peek(f.c, 1), 10);
	lcache_replace(f.c, 1, val_new(11));
	ck_assert_int_eq(f.freed, 1); /* the old value */
	get(&f, 1, &a);
	ck_assert_int_eq(a.val, 11);
	ck_assert_int_eq(f.nloads, 1); /* no reload */
	get(&f, 2, &b);                /* loading: refused */
	ck_assert_ptr_null(lcache_peek(f.c, 2));
	lcache_replace(f.c, 2, val_new(99));
	ck_assert_int_eq(f.freed, 2);
	lcache_loaded(f.c, 2, val_new(20), NULL); /* answered, then dropped */
	ck_assert_int_eq(b.val, 20);
	ck_assert_ptr_null(lcache_peek(f.c, 2));
	lcache_replace(f.c, 3, val_new(30)); /* unknown key */
	ck_assert_int_eq(size_of(&f), 1);
	fix_done(&f);
}
END_TEST

START_TEST(clear_keeps_loads_under_way)
{
	struct fix f;
	struct call a = { 0 };

	fix_init(&f, 60000);
	load(&f, 1);
	load(&f, 2);
	get(&f, 3, &a);
	lcache_clear(f.c);
	ck_assert_int_eq(size_of(&f), 1);
	lcache_loaded(f.c, 3, val_new(30), NULL);
	ck_assert_int_eq(a.val, 30); /* answered, then dropped: it was cleared */
	ck_assert_int_eq(size_of(&f), 0);
	fix_done(&f);
	ck_assert_int_eq(f.freed, 3);
}
END_TEST

static Suite *lcache_suite(void)
{
	Suite *s = suite_create("lcache");
	TCase *tc = tcase_create("lcache");

	tcase_add_test(tc, one_load_for_many_waiters);
	tcase_add_test(tc, errors_are_not_cached);
	tcase_add_test(tc, bound_drops_least_recently_used);
	tcase_add_test(tc, loading_entries_are_never_dropped);
	tcase_add_test(tc, value_read_in_a_callback_survives_a_nested_load);
	tcase_add_test(tc, invalidate_inside_a_hit);
	tcase_add_test(tc, lower_bound_trims_now);
	tcase_add_test(tc, expired_entries_are_reaped);
	tcase_add_test(tc, clear_keeps_loads_under_way);
	tcase_add_test(tc, expire_within_bounds_staleness);
	tcase_add_test(tc, peek_and_replace);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(lcache_suite)
