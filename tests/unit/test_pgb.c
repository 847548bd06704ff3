/* test_pgb: the row batcher against the real PostgreSQL (scripts/services
 * start; conninfo from PIYASA_DATABASE_URL), on a temporary table of the one
 * connection each test opens. */
#include "common/net/pgb.h"
#include "common/net/pgc.h"
#include "tests/check_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char *dburl(void)
{
	const char *u = getenv("PIYASA_DATABASE_URL");

	return u && *u ? u : "postgresql://postgres@127.0.0.1:25432/piyasa";
}

static struct pgc *the_conn;

static struct pgc *conn_fn(void *arg)
{
	(void)arg;
	return the_conn;
}

struct row_ans {
	int done;
	int ok;
	char val[64];
	char err[256];
};

static int answered;

static void on_row(PGresult *res, int row, const char *err, void *arg)
{
	struct row_ans *a = arg;

	a->done = 1;
	answered++;
	a->ok = res != NULL;
	if (res && row >= 0)
		snprintf(a->val, sizeof a->val, "%s", PQgetvalue(res, row, 1));
	else if (res)
		snprintf(a->val, sizeof a->val, "(no row)");
	if (err)
		snprintf(a->err, sizeof a->err, "%s", err);
}

static int plain_done;

static void on_plain(PGresult *res, const char *err, void *arg)
{
	(void)arg;
	ck_assert_msg(res != NULL, "setup failed: %s", err ? err : "?");
	plain_done = 1;
}

static void run_until_answered(uv_loop_t *loop, int want)
{
	for (int i = 0; answered < want && i < 100000; i++)
		uv_run(loop, UV_RUN_ONCE);
	ck_assert_int_eq(answered, want);
}

/* A loop, one connection and a temp table t(k text primary key, v int CHECK v >= 0). */
static void setup(uv_loop_t *loop)
{
	char err[256];

	ck_assert_int_eq(uv_loop_init(loop), 0);
	the_conn = pgc_new(loop, dburl(), err, sizeof err);
	ck_assert_msg(the_conn != NULL, "pgc_new: %s", err);
	plain_done = 0;
	ck_assert_int_eq(pgc_query(the_conn,
				   "CREATE TEMP TABLE t (k text PRIMARY KEY, "
				   "v int NOT NULL CHECK (v >= 0))",
				   0, NULL, on_plain, NULL),
			 0);
	for (int i = 0; !plain_done && i < 100000; i++)
		uv_run(loop, UV_RUN_ONCE);
	ck_assert(plain_done);
	answered = 0;
}

static void teardown(uv_loop_t *loop, struct pgb *b)
{
	pgb_free(b);
	pgc_free(the_conn);
	uv_run(loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(loop), 0);
}

static const char upsert[] =
	"INSERT INTO t (k, v) SELECT x.k, x.v FROM json_to_recordset($1::json) AS x(k text, v int) "
	"ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v RETURNING k, v";

static json_t *kv(int v)
{
	return json_pack("{s:s, s:i}", "k", "", "v", v);
}

static int add(struct pgb *b, const char *k, int v, struct row_ans *a)
{
	json_t *r = kv(v);

	json_object_set_new(r, "k", json_string(k));
	return pgb_add(b, k, r, on_row, a);
}

START_TEST(one_turn_one_statement)
{
	uv_loop_t loop;
	struct pgb *b;
	struct row_ans a[50] = { { 0 } };
	unsigned long long rows, stmts;
	char k[16];

	setup(&loop);
	b = pgb_new(&loop, upsert, 256, conn_fn, NULL);
	for (int i = 0; i < 50; i++) {
		snprintf(k, sizeof k, "k%d", i);
		ck_assert_int_eq(add(b, k, i * 10, &a[i]), 0);
	}
	ck_assert_int_eq(answered, 0); /* never inside pgb_add */
	run_until_answered(&loop, 50);
	for (int i = 0; i < 50; i++) {
		char want[16];
		snprintf(want, sizeof want, "%d", i * 10);
		ck_assert_msg(a[i].ok, "row %d: %s", i, a[i].err);
		ck_assert_str_eq(a[i].val, want); /* its own result row, by key */
	}
	pgb_stats(b, &rows, &stmts);
	ck_assert_int_eq(rows, 50);
	ck_assert_int_eq(stmts, 1);
	teardown(&loop, b);
}
END_TEST

START_TEST(same_key_goes_in_the_next_statement)
{
	uv_loop_t loop;
	struct pgb *b;
	struct row_ans a[3] = { { 0 } };
	unsigned long long rows, stmts;

	setup(&loop);
	b = pgb_new(&loop, upsert, 256, conn_fn, NULL);
	ck_assert_int_eq(add(b, "x", 1, &a[0]), 0);
	ck_assert_int_eq(add(b, "y", 2, &a[1]), 0);
	ck_assert_int_eq(add(b, "x", 3, &a[2]), 0); /* would hit its own row twice */
	run_until_answered(&loop, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(a[i].ok, "row %d: %s", i, a[i].err);
	ck_assert_str_eq(a[0].val, "1");
	ck_assert_str_eq(a[2].val, "3");
	pgb_stats(b, &rows, &stmts);
	ck_assert_int_eq(stmts, 2);
	teardown(&loop, b);
}
END_TEST

START_TEST(a_bad_row_fails_alone)
{
	uv_loop_t loop;
	struct pgb *b;
	struct row_ans a[4] = { { 0 } };

	setup(&loop);
	b = pgb_new(&loop, upsert, 256, conn_fn, NULL);
	ck_assert_int_eq(add(b, "a", 1, &a[0]), 0);
	ck_assert_int_eq(add(b, "b", -1, &a[1]), 0); /* violates the CHECK */
	ck_assert_int_eq(add(b, "c", 3, &a[2]), 0);
	ck_assert_int_eq(add(b, "d", 4, &a[3]), 0);
	run_until_answered(&loop, 4);
	ck_assert(a[0].ok && a[2].ok && a[3].ok);
	ck_assert(!a[1].ok);
	ck_assert_msg(strncmp(a[1].err, "23514", 5) == 0, "err: %s", a[1].err);
	ck_assert_str_eq(a[3].val, "4");
	teardown(&loop, b);
}
END_TEST

START_TEST(full_batches_split)
{
	uv_loop_t loop;
	struct pgb *b;
	struct row_ans a[10] = { { 0 } };
	unsigned long long rows, stmts;
	char k[16];

	setup(&loop);
	b = pgb_new(&loop, upsert, 4, conn_fn, NULL);
	for (int i = 0; i < 10; i++) {
		snprintf(k, sizeof k, "k%d", i);
		ck_assert_int_eq(add(b, k, i, &a[i]), 0);
	}
	run_until_answered(&loop, 10);
	pgb_stats(b, &rows, &stmts);
	ck_assert_int_eq(rows, 10);
	ck_assert_int_eq(stmts, 3); /* 4 + 4 + 2 */
	teardown(&loop, b);
}
END_TEST

START_TEST(free_fails_what_waits)
{
	uv_loop_t loop;
	struct pgb *b;
	struct row_ans a[2] = { { 0 } };

	setup(&loop);
	b = pgb_new(&loop, upsert, 256, conn_fn, NULL);
	ck_assert_int_eq(add(b, "a", 1, &a[0]), 0);
	ck_assert_int_eq(add(b, "b", 2, &a[1]), 0);
	pgb_free(b);
	ck_assert_int_eq(answered, 2);
	ck_assert(!a[0].ok && !a[1].ok);
	ck_assert_str_eq(a[0].err, "closing");
	teardown(&loop, NULL);
}
END_TEST

/* Window 1: while the first statement is out, rows of later turns wait and
 * then go out together; a key met again waits for the next statement, so the
 * last value written is the last added. */
START_TEST(window_gathers_turns)
{
	uv_loop_t loop;
	struct pgb *b;
	struct row_ans a[21] = { { 0 } };
	unsigned long long rows, stmts;
	char k[16];

	setup(&loop);
	b = pgb_new(&loop, upsert, 256, conn_fn, NULL);
	pgb_set_window(b, 1);
	ck_assert_int_eq(add(b, "first", 1, &a[0]), 0);
	uv_run(&loop, UV_RUN_NOWAIT); /* the first statement goes */
	for (int i = 1; i <= 20; i++) {
		snprintf(k, sizeof k, "k%d", i % 10);
		ck_assert_int_eq(add(b, k, i, &a[i]), 0);
		uv_run(&loop, UV_RUN_NOWAIT); /* one turn per row */
	}
	run_until_answered(&loop, 21);
	for (int i = 0; i <= 20; i++)
		ck_assert_msg(a[i].ok, "row %d: %s", i, a[i].err);
	pgb_stats(b, &rows, &stmts);
	ck_assert_int_eq(rows, 21);
	ck_assert_msg(stmts <= 4, "%llu statements for 21 rows", stmts); /* not 21 */
	ck_assert_str_eq(a[20].val, "20");
	teardown(&loop, b);
}
END_TEST

static void on_pause(uv_timer_t *h)
{
	(void)h;
}

/* Turn the loop for about ms, as rows trickling in from other work would. */
static void pause_ms(uv_loop_t *loop, uint64_t ms)
{
	uv_timer_t t;

	uv_timer_init(loop, &t);
	uv_timer_start(&t, on_pause, ms, 0);
	while (uv_is_active((uv_handle_t *)&t))
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

/* With a delay, rows that come one by one within it share one statement, and
 * none is answered before the delay; without it, each went on its own turn. */
START_TEST(delay_gathers_rows_that_trickle_in)
{
	uv_loop_t loop;
	struct pgb *b;
	struct row_ans a[4] = { { 0 } };
	unsigned long long rows, stmts;
	uint64_t t0;
	char k[16];

	setup(&loop);
	b = pgb_new(&loop, upsert, 256, conn_fn, NULL);
	pgb_set_window(b, 1);
	pgb_set_delay(b, 200);
	t0 = uv_hrtime();
	for (int i = 0; i < 4; i++) {
		snprintf(k, sizeof k, "d%d", i);
		ck_assert_int_eq(add(b, k, i, &a[i]), 0);
		pause_ms(&loop, 20);
	}
	ck_assert_int_eq(answered, 0);
	run_until_answered(&loop, 4);
	ck_assert_uint_ge((uv_hrtime() - t0) / 1000000, 190);
	pgb_stats(b, &rows, &stmts);
	ck_assert_int_eq(rows, 4);
	ck_assert_int_eq(stmts, 1);
	/* back to 0: the next row goes on the next turn */
	pgb_set_delay(b, 0);
	t0 = uv_hrtime();
	ck_assert_int_eq(add(b, "now", 9, &a[0]), 0);
	run_until_answered(&loop, 5);
	ck_assert_uint_lt((uv_hrtime() - t0) / 1000000, 150);
	teardown(&loop, b);
}
END_TEST

static Suite *pgb_suite(void)
{
	Suite *s = suite_create("pgb");
	TCase *tc = tcase_create("pgb");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, one_turn_one_statement);
	tcase_add_test(tc, same_key_goes_in_the_next_statement);
	tcase_add_test(tc, a_bad_row_fails_alone);
	tcase_add_test(tc, full_batches_split);
	tcase_add_test(tc, free_fails_what_waits);
	tcase_add_test(tc, window_gathers_turns);
	tcase_add_test(tc, delay_gathers_rows_that_trickle_in);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(pgb_suite)
