/* test_pgc: pgc against the real PostgreSQL (scripts/services start; conninfo
 * from PIYASA_DATABASE_URL). Each test runs its own loop and ends by asserting
 * the loop closes clean. Prints the pipelined INSERT throughput. */
#include "common/net/pgc.h"
#include "tests/check_main.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static const char *dburl(void)
{
	const char *u = getenv("PIYASA_DATABASE_URL");

	return u && *u ? u : "postgresql://postgres@127.0.0.1:25432/piyasa";
}

static void on_deadline(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

/* Run the loop until *flag is set or ms pass. */
static void run_until(uv_loop_t *loop, const int *flag, unsigned ms)
{
	uv_timer_t t;
	int expired = 0;

	uv_timer_init(loop, &t);
	t.data = &expired;
	uv_timer_start(&t, on_deadline, ms, 0);
	while (!*flag && !expired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT); /* t lives on this stack: let it close */
}

static void close_loop(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(loop), 0);
}

/* One answer kept for the checks. */
struct ans {
	int done;
	int calls;
	int ok;
	char val[128];
	char err[512];
};

static void on_ans(PGresult *res, const char *err, void *arg)
{
	struct ans *a = arg;

	a->calls++;
	a->done = 1;
	a->ok = res != NULL;
	if (res && PQntuples(res) > 0 && PQnfields(res) > 0)
		snprintf(a->val, sizeof a->val, "%s",
			 PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
	if (err)
		snprintf(a->err, sizeof a->err, "%s", err);
}

/* Query and wait for the answer. */
static void sync_query(uv_loop_t *loop, struct pgc *c, const char *sql, int n,
		       const char *const *params, struct ans *a)
{
	memset(a, 0, sizeof *a);
	ck_assert_int_eq(pgc_query(c, sql, n, params, on_ans, a), 0);
	run_until(loop, &a->done, 15000);
	ck_assert_msg(a->done, "no answer to %s", sql);
}

static struct pgc *connect_up(uv_loop_t *loop)
{
	char err[256];
	struct pgc *c = pgc_new(loop, dburl(), err, sizeof err);
	int up = 0;

	ck_assert_msg(c != NULL, "pgc_new: %s", err);
	while (!pgc_ok(c) && up++ < 5000)
		uv_run(loop, UV_RUN_ONCE);
	ck_assert_msg(pgc_ok(c), "no connection to %s", dburl());
	return c;
}

START_TEST(simple_query)
{
	uv_loop_t loop;
	struct pgc *c;
	struct ans a;
	const char *p[] = { "41" };

	uv_loop_init(&loop);
	c = connect_up(&loop);
	sync_query(&loop, c, "SELECT $1::int + 1", 1, p, &a);
	ck_assert_msg(a.ok, "%s", a.err);
	ck_assert_str_eq(a.val, "42");
	ck_assert_int_eq(a.calls, 1);
	ck_assert_uint_eq(pgc_inflight(c), 0);
	pgc_free(c);
	close_loop(&loop);
}
END_TEST

/* --- many pipelined inserts -------------------------------------------- */

struct bulk {
	int next; /* the index the next callback must carry */
	int n;
	int failed;
	int done;
	char err[256];
};

struct bulk_arg {
	struct bulk *b;
	int i;
};

static void on_insert(PGresult *res, const char *err, void *arg)
{
	struct bulk_arg *ba = arg;
	struct bulk *b = ba->b;

	if (ba->i != b->next)
		b->failed++;
	if (!res) {
		b->failed++;
		snprintf(b->err, sizeof b->err, "%s", err);
	}
	b->next++;
	b->done = b->next == b->n;
}

/* n single-row INSERTs into table, pipelined; rows/s. */
static double insert_many(uv_loop_t *loop, struct pgc *c, const char *table, int n)
{
	struct bulk b = { .n = n };
	struct bulk_arg *args = calloc(n, sizeof *args);
	char sql[128], id[16], val[32];
	const char *p[] = { id, val };
	uint64_t t0 = uv_hrtime();
	double s;

	snprintf(sql, sizeof sql, "INSERT INTO %s (id, v) VALUES ($1, $2)", table);
	for (int i = 0; i < n; i++) {
		args[i] = (struct bulk_arg){ &b, i };
		snprintf(id, sizeof id, "%d", i);
		snprintf(val, sizeof val, "row %d", i);
		ck_assert_int_eq(pgc_query(c, sql, 2, p, on_insert, &args[i]), 0);
	}
	ck_assert_uint_eq(pgc_inflight(c), (size_t)n);
	run_until(loop, &b.done, 120000);
	s = (uv_hrtime() - t0) / 1e9;
	ck_assert_msg(b.done, "only %d of %d answered", b.next, n);
	ck_assert_msg(b.failed == 0, "%d failures, last: %s", b.failed, b.err);
	free(args);
	return n / s;
}

static void check_count(uv_loop_t *loop, struct pgc *c, const char *table, const char *want)
{
	struct ans a;
	char sql[128];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	sync_query(loop, c, sql, 0, NULL, &a);
	ck_assert_msg(a.ok, "%s", a.err);
	ck_assert_str_eq(a.val, want);
}

START_TEST(pipelined_inserts)
{
	uv_loop_t loop;
	struct pgc *c;
	struct ans a;
	char table[64], sql[160];
	double temp_rate, durable_rate;

	uv_loop_init(&loop);
	c = connect_up(&loop);

	sync_query(&loop, c, "CREATE TEMP TABLE pgc_tmp (id int PRIMARY KEY, v text)", 0, NULL, &a);
	ck_assert_msg(a.ok, "%s", a.err);
	temp_rate = insert_many(&loop, c, "pgc_tmp", 10000);
	check_count(&loop, c, "pgc_tmp", "10000");

	/* A real table: every INSERT is its own durable commit. */
	snprintf(table, sizeof table, "pgc_test_%d", (int)getpid());
	snprintf(sql, sizeof sql, "CREATE TABLE %s (id int PRIMARY KEY, v text)", table);
	sync_query(&loop, c, sql, 0, NULL, &a);
	ck_assert_msg(a.ok, "%s", a.err);
	durable_rate = insert_many(&loop, c, table, 10000);
	check_count(&loop, c, table, "10000");
	snprintf(sql, sizeof sql, "DROP TABLE %s", table);
	sync_query(&loop, c, sql, 0, NULL, &a);
	ck_assert_msg(a.ok, "%s", a.err);

	printf("pgc: 10000 pipelined single-row INSERTs: temp table %.0f rows/s, "
	       "durable table %.0f rows/s\n",
	       temp_rate, durable_rate);
	fflush(stdout);
	pgc_free(c);
	close_loop(&loop);
}
END_TEST

START_TEST(failure_in_the_middle)
{
	uv_loop_t loop;
	struct pgc *c;
	struct ans a[4] = { 0 };

	uv_loop_init(&loop);
	c = connect_up(&loop);
	ck_assert_int_eq(pgc_query(c, "SELECT 1", 0, NULL, on_ans, &a[0]), 0);
	ck_assert_int_eq(pgc_query(c, "SELECT 1/0", 0, NULL, on_ans, &a[1]), 0);
	ck_assert_int_eq(pgc_query(c, "SELECT no_such_column", 0, NULL, on_ans, &a[2]), 0);
	ck_assert_int_eq(pgc_query(c, "SELECT 3", 0, NULL, on_ans, &a[3]), 0);
	run_until(&loop, &a[3].done, 5000);
	ck_assert(a[0].ok && strcmp(a[0].val, "1") == 0);
	ck_assert(!a[1].ok);
	ck_assert_msg(strncmp(a[1].err, "22012: ", 7) == 0, "%s", a[1].err);
	ck_assert_msg(strncmp(a[2].err, "42703: ", 7) == 0, "%s", a[2].err);
	ck_assert(a[3].ok && strcmp(a[3].val, "3") == 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(a[i].calls, 1);
	ck_assert(pgc_ok(c));
	pgc_free(c);
	close_loop(&loop);
}
END_TEST

/* The statement cache: a Prepare that fails reaches every query pipelined on
 * it; a statement whose result type changed is prepared afresh; SQL beyond the
 * cache goes unnamed. */
START_TEST(statement_cache)
{
	uv_loop_t loop;
	struct pgc *c;
	struct ans a[3] = { 0 }, b, many[300] = { 0 };
	char sql[300][48];

	uv_loop_init(&loop);
	c = connect_up(&loop);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pgc_query(c, "SELECT x FROM pgc_nowhere", 0, NULL, on_ans, &a[i]), 0);
	run_until(&loop, &a[2].done, 5000);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(strncmp(a[i].err, "42P01: ", 7) == 0, "%d: %s", i, a[i].err);

	sync_query(&loop, c, "CREATE TEMP TABLE pgc_shape (a int)", 0, NULL, &b);
	sync_query(&loop, c, "INSERT INTO pgc_shape VALUES (7)", 0, NULL, &b);
	sync_query(&loop, c, "SELECT * FROM pgc_shape", 0, NULL, &b);
	ck_assert_str_eq(b.val, "7");
	sync_query(&loop, c, "ALTER TABLE pgc_shape ADD COLUMN b int", 0, NULL, &b);
	ck_assert_msg(b.ok, "%s", b.err);
	sync_query(&loop, c, "SELECT * FROM pgc_shape", 0, NULL, &b);
	ck_assert_msg(strncmp(b.err, "0A000: ", 7) == 0, "%s", b.err); /* once */
	sync_query(&loop, c, "SELECT * FROM pgc_shape", 0, NULL, &b);
	ck_assert_msg(b.ok, "%s", b.err);
	ck_assert_str_eq(b.val, "7");

	for (int i = 0; i < 300; i++) {
		snprintf(sql[i], sizeof sql[i], "SELECT %d", i);
		ck_assert_int_eq(pgc_query(c, sql[i], 0, NULL, on_ans, &many[i]), 0);
	}
	run_until(&loop, &many[299].done, 5000);
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(atoi(many[i].val), i);
	sync_query(&loop, c, "SELECT 299", 0, NULL, &b);
	ck_assert_str_eq(b.val, "299");
	pgc_free(c);
	close_loop(&loop);
}
END_TEST

START_TEST(null_params)
{
	uv_loop_t loop;
	struct pgc *c;
	struct ans a;
	const char *p[] = { NULL, "x" };

	uv_loop_init(&loop);
	c = connect_up(&loop);
	sync_query(&loop, c, "SELECT ($1::text IS NULL)::text || ',' || $2", 2, p, &a);
	ck_assert_msg(a.ok, "%s", a.err);
	ck_assert_str_eq(a.val, "true,x");
	sync_query(&loop, c, "SELECT $1::text", 1, p, &a);
	ck_assert_str_eq(a.val, "(null)");
	pgc_free(c);
	close_loop(&loop);
}
END_TEST

START_TEST(queued_before_connect)
{
	uv_loop_t loop;
	struct pgc *c;
	struct ans a[50] = { 0 };
	char err[256], num[50][12];
	const char *p[1];

	uv_loop_init(&loop);
	c = pgc_new(&loop, dburl(), err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(!pgc_ok(c));
	for (int i = 0; i < 50; i++) {
		snprintf(num[i], sizeof num[i], "%d", i);
		p[0] = num[i];
		ck_assert_int_eq(pgc_query(c, "SELECT $1::int * 2", 1, p, on_ans, &a[i]), 0);
	}
	ck_assert_uint_eq(pgc_inflight(c), 50);
	run_until(&loop, &a[49].done, 5000);
	for (int i = 0; i < 50; i++) {
		ck_assert_msg(a[i].ok, "%d: %s", i, a[i].err);
		ck_assert_int_eq(atoi(a[i].val), 2 * i);
		ck_assert_int_eq(a[i].calls, 1);
	}
	ck_assert(pgc_ok(c));
	pgc_free(c);
	close_loop(&loop);
}
END_TEST

/* --- a killed backend -------------------------------------------------- */

struct states {
	int ups, downs;
};

static void on_state(int up, void *arg)
{
	struct states *s = arg;

	if (up)
		s->ups++;
	else
		s->downs++;
}

START_TEST(backend_killed_then_reconnect)
{
	uv_loop_t loop;
	struct pgc *c, *killer;
	struct states st = { 0 };
	struct ans pid, kill, slow[3] = { 0 }, after, pid2;
	const char *p[1];

	uv_loop_init(&loop);
	c = connect_up(&loop);
	pgc_on_state(c, on_state, &st);
	killer = connect_up(&loop);
	sync_query(&loop, c, "SELECT pg_backend_pid()::text", 0, NULL, &pid);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pgc_query(c, "SELECT pg_sleep(30)", 0, NULL, on_ans, &slow[i]), 0);
	run_until(&loop, &slow[0].done, 200); /* let them reach the server */
	p[0] = pid.val;
	sync_query(&loop, killer, "SELECT pg_terminate_backend($1::int)::text", 1, p, &kill);
	ck_assert_msg(kill.ok, "%s", kill.err);
	ck_assert_str_eq(kill.val, "true");
	run_until(&loop, &slow[2].done, 5000);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(slow[i].calls, 1);
		ck_assert(!slow[i].ok);
		ck_assert_msg(strncmp(slow[i].err, "connection lost: ", 17) == 0, "%s", slow[i].err);
	}
	ck_assert_int_eq(st.downs, 1);
	ck_assert(!pgc_ok(c));
	/* Down and waiting to retry: refused at once. */
	ck_assert_int_eq(pgc_query(c, "SELECT 1", 0, NULL, on_ans, &after), -1);
	run_until(&loop, &st.ups, 5000);
	ck_assert_int_eq(st.ups, 1);
	sync_query(&loop, c, "SELECT pg_backend_pid()::text", 0, NULL, &pid2);
	ck_assert_msg(pid2.ok, "%s", pid2.err);
	ck_assert_str_ne(pid2.val, pid.val);
	pgc_free(killer);
	pgc_free(c);
	close_loop(&loop);
}
END_TEST

START_TEST(query_timeout_breaks_and_recovers)
{
	uv_loop_t loop;
	struct pgc *c;
	struct states st = { 0 };
	struct ans slow, after;

	uv_loop_init(&loop);
	c = connect_up(&loop);
	pgc_on_state(c, on_state, &st);
	pgc_set_timeout_ms(c, 200);
	sync_query(&loop, c, "SELECT pg_sleep(2)", 0, NULL, &slow);
	ck_assert_str_eq(slow.err, "connection lost: query timeout");
	run_until(&loop, &st.ups, 5000);
	sync_query(&loop, c, "SELECT 'back'", 0, NULL, &after);
	ck_assert_str_eq(after.val, "back");
	ck_assert_int_eq(st.downs, 1);
	pgc_free(c);
	close_loop(&loop);
}
END_TEST

START_TEST(server_down)
{
	uv_loop_t loop;
	struct pgc *c;
	struct ans a = { 0 }, b = { 0 };
	char err[256];

	uv_loop_init(&loop);
	ck_assert(pgc_new(&loop, "host=127.0.0.1 port=25432 nosuchoption=1", err, sizeof err) == NULL);
	ck_assert(strstr(err, "nosuchoption") != NULL);
	c = pgc_new(&loop, "postgresql://postgres@127.0.0.1:1/piyasa", err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	/* Refused may be known at once (down) or after a poll (queued then failed). */
	if (pgc_query(c, "SELECT 1", 0, NULL, on_ans, &a) == 0) {
		run_until(&loop, &a.done, 5000);
		ck_assert_int_eq(a.calls, 1);
		ck_assert_msg(strncmp(a.err, "connection lost: ", 17) == 0, "%s", a.err);
	}
	ck_assert_int_eq(pgc_query(c, "SELECT 1", 0, NULL, on_ans, &b), -1);
	ck_assert(!pgc_ok(c));
	pgc_free(c);
	close_loop(&loop);
}
END_TEST

/* --- pgc_free with queries in flight ----------------------------------- */

struct counted {
	int calls[300];
	int closing;
};

struct counted_arg {
	struct counted *k;
	int i;
};

static void on_counted(PGresult *res, const char *err, void *arg)
{
	struct counted_arg *ca = arg;

	(void)res;
	ca->k->calls[ca->i]++;
	if (err && strcmp(err, "closing") == 0)
		ca->k->closing++;
}

static void on_free_timer(uv_timer_t *t)
{
	pgc_free(t->data);
	uv_close((uv_handle_t *)t, NULL);
}

START_TEST(free_with_queries_in_flight)
{
	uv_loop_t loop;
	uv_timer_t t;
	struct pgc *c;
	struct counted k = { 0 };
	struct counted_arg args[300];
	char err[256];

	uv_loop_init(&loop);
	c = pgc_new(&loop, dburl(), err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	for (int i = 0; i < 300; i++) {
		args[i] = (struct counted_arg){ &k, i };
		ck_assert_int_eq(pgc_query(c, i % 3 ? "SELECT 1" : "SELECT pg_sleep(0.01)", 0, NULL,
					   on_counted, &args[i]),
				 0);
	}
	uv_timer_init(&loop, &t);
	t.data = c;
	uv_timer_start(&t, on_free_timer, 150, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	for (int i = 0; i < 300; i++)
		ck_assert_msg(k.calls[i] == 1, "query %d called %d times", i, k.calls[i]);
	ck_assert_msg(k.closing > 0, "nothing was left in flight");
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Freeing from inside a callback, with more answers already buffered. */
struct self_free {
	struct pgc *c;
	int calls, closing, ok;
};

static void on_self_free(PGresult *res, const char *err, void *arg)
{
	struct self_free *s = arg;

	s->calls++;
	s->ok += res != NULL;
	if (err && strcmp(err, "closing") == 0)
		s->closing++;
	if (s->calls == 5)
		pgc_free(s->c);
}

START_TEST(free_from_callback)
{
	uv_loop_t loop;
	struct self_free s = { 0 };

	uv_loop_init(&loop);
	s.c = connect_up(&loop);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(pgc_query(s.c, "SELECT 1", 0, NULL, on_self_free, &s), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(s.calls, 100);
	ck_assert_int_eq(s.ok, 5);
	ck_assert_int_eq(s.closing, 95);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *pgc_suite(void)
{
	Suite *s = suite_create("pgc");
	TCase *tc = tcase_create("pgc");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, simple_query);
	tcase_add_test(tc, pipelined_inserts);
	tcase_add_test(tc, failure_in_the_middle);
	tcase_add_test(tc, statement_cache);
	tcase_add_test(tc, null_params);
	tcase_add_test(tc, queued_before_connect);
	tcase_add_test(tc, backend_killed_then_reconnect);
	tcase_add_test(tc, query_timeout_breaks_and_recovers);
	tcase_add_test(tc, server_down);
	tcase_add_test(tc, free_with_queries_in_flight);
	tcase_add_test(tc, free_from_callback);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(pgc_suite)
