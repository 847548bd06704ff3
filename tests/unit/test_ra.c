/* test_ra: ra's link through Redis outages, against a private redis-server
 * (tests/unit/rtest.h) that each test starts, kills, hangs and starts again.
 *
 * The promise under test (issue 18): whatever state the link was in when Redis
 * went away, ra keeps trying, at most about a second apart, and is up again
 * within seconds of Redis coming back. Before the fix a connect refused while
 * Redis was down was never reported by hiredis 0.14's libuv adapter, and the
 * link stayed down for good. Each test ends by asserting the loop closes clean. */
#include "common/net/ra.h"
#include "tests/check_main.h"
#include "tests/unit/rtest.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

struct link {
	int up;         /* as the state callback last said */
	int ups, downs; /* transitions seen */
	char why[64];   /* the last down's reason */
};

static void on_state(int up, const char *why, void *arg)
{
	struct link *l = arg;

	l->up = up;
	if (up) {
		l->ups++;
	} else {
		l->downs++;
		snprintf(l->why, sizeof l->why, "%s", why ? why : "");
	}
}

struct ans {
	int done;
	int ok;
	char text[64];
};

static void on_ans(redisReply *r, const char *err, void *arg)
{
	struct ans *a = arg;

	a->done = 1;
	a->ok = r != NULL;
	snprintf(a->text, sizeof a->text, "%s", r ? (r->str ? r->str : "") : err);
}

static struct ra *link_to(uv_loop_t *loop, int port, long timeout_ms, struct link *l)
{
	char url[64], err[128];
	struct ra *r;

	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	r = ra_new(loop, url, timeout_ms, on_state, l, err, sizeof err);
	ck_assert_msg(r != NULL, "ra_new: %s", err);
	return r;
}

/* PING answers PONG: the link is really usable, not just marked up. */
static void ping(uv_loop_t *loop, struct ra *r)
{
	const char *av[] = { "PING" };
	struct ans a = { 0 };

	ck_assert_int_eq(ra_cmd(r, on_ans, &a, 0, 1, av), 0);
	ck_assert(rtest_run_until(loop, &a.done, 3000));
	ck_assert_str_eq(a.text, "PONG");
}

/* How long, in ms, the link took to come up (-1: not within ms). */
static int64_t time_to_up(uv_loop_t *loop, struct link *l, unsigned ms)
{
	int64_t t0 = rtest_now_ms();

	return rtest_run_until(loop, &l->up, ms) ? rtest_now_ms() - t0 : -1;
}

/* Redis is not there when the worker starts (every connect refused), then it
 * is: the link comes up within about the backoff's cap. */
START_TEST(comes_up_when_redis_starts_late)
{
	uv_loop_t loop;
	struct link l = { 0 };
	int port = rtest_free_port();
	struct ra *r;
	pid_t rs;
	int64_t took;

	uv_loop_init(&loop);
	r = link_to(&loop, port, 1000, &l);
	rtest_run_for(&loop, 2500); /* refused, again and again */
	ck_assert_int_eq(l.ups, 0);
	ck_assert_int_eq(ra_up(r), 0);
	rs = rtest_redis_start(port);
	took = time_to_up(&loop, &l, 5000);
	ck_assert_msg(took >= 0, "the link did not come up within 5 s of Redis starting");
	ck_assert_msg(took <= 1500, "the link came up %lld ms after Redis started", (long long)took);
	ping(&loop, r);
	fprintf(stderr, "ra: up %lld ms after a late Redis started\n", (long long)took);
	ra_free(r);
	rtest_close_loop(&loop);
	rtest_redis_kill(rs);
}
END_TEST

/* Up, Redis killed with a command outstanding (its callback says the link was
 * lost), kept away for 5 s, started again: up within about a second. Twice, so
 * the backoff starts over after each recovery. */
START_TEST(reconnects_after_an_outage)
{
	uv_loop_t loop;
	struct link l = { 0 };
	int port = rtest_free_port();
	pid_t rs = rtest_redis_start(port);
	struct ra *r;

	uv_loop_init(&loop);
	r = link_to(&loop, port, 1000, &l);
	ck_assert(time_to_up(&loop, &l, 3000) >= 0);
	for (int round = 1; round <= 2; round++) {
		const char *av[] = { "BLPOP", "rtest:nothing", "10" };
		struct ans a = { 0 };
		int64_t took;

		ck_assert_int_eq(ra_cmd(r, on_ans, &a, 15000, 3, av), 0);
		rtest_run_for(&loop, 100);
		rtest_redis_kill(rs);
		ck_assert_msg(rtest_run_until(&loop, &a.done, 2000), "the BLPOP was never answered");
		ck_assert_int_eq(a.ok, 0);
		ck_assert_str_eq(a.text, "connection lost");
		ck_assert_int_eq(l.up, 0);
		ck_assert_int_eq(ra_cmd(r, on_ans, &a, 0, 1, av), -1); /* down: refused at once */
		rtest_run_for(&loop, 5000);
		ck_assert_int_eq(l.up, 0);
		rs = rtest_redis_start(port);
		took = time_to_up(&loop, &l, 5000);
		ck_assert_msg(took >= 0, "round %d: not up within 5 s of Redis coming back", round);
		ck_assert_msg(took <= 1500, "round %d: up %lld ms after Redis came back", round,
			      (long long)took);
		ck_assert_int_eq(l.ups, round + 1);
		ping(&loop, r);
		fprintf(stderr, "ra: round %d: up %lld ms after a 5 s outage\n", round,
			(long long)took);
	}
	ra_free(r);
	rtest_close_loop(&loop);
	rtest_redis_kill(rs);
}
END_TEST

/* Redis hangs (SIGSTOP): a command's deadline drops the link, the reconnects
 * get no answer either; once Redis runs again the link is back. */
START_TEST(recovers_from_a_hung_redis)
{
	uv_loop_t loop;
	struct link l = { 0 };
	int port = rtest_free_port();
	pid_t rs = rtest_redis_start(port);
	const char *av[] = { "PING" };
	struct ans a = { 0 };
	struct ra *r;
	int64_t took;

	uv_loop_init(&loop);
	r = link_to(&loop, port, 500, &l);
	ck_assert(time_to_up(&loop, &l, 3000) >= 0);
	kill(rs, SIGSTOP);
	ck_assert_int_eq(ra_cmd(r, on_ans, &a, 0, 1, av), 0);
	ck_assert_msg(rtest_run_until(&loop, &a.done, 2000), "the PING past its deadline never ended");
	ck_assert_str_eq(a.text, "connection lost");
	ck_assert_str_eq(l.why, "command timed out");
	rtest_run_for(&loop, 3000);
	kill(rs, SIGCONT);
	took = time_to_up(&loop, &l, 5000);
	ck_assert_msg(took >= 0, "not up within 5 s of Redis running again");
	ping(&loop, r);
	fprintf(stderr, "ra: up %lld ms after a hung Redis ran again\n", (long long)took);
	ra_free(r);
	rtest_close_loop(&loop);
	rtest_redis_kill(rs);
}
END_TEST

/* A connect nobody answers (SYNs dropped: a full backlog here, a dead host or
 * a firewall elsewhere) is given up at its deadline (2 s) and another started:
 * the local port of the waiting connect changes. Once something answers, the
 * link comes up. Freeing the link while a connect hangs closes everything. */
START_TEST(a_connect_without_answer_times_out)
{
	uv_loop_t loop;
	struct link l = { 0 };
	int port = rtest_free_port(), hole[2], first, second;
	struct ra *r;
	pid_t rs;

	rtest_blackhole(port, hole);
	uv_loop_init(&loop);
	r = link_to(&loop, port, 1000, &l);
	rtest_run_for(&loop, 1000);
	first = rtest_syn_sent_port(port);
	ck_assert_msg(first != 0, "no connect is waiting");
	rtest_run_for(&loop, 2000); /* the first's deadline at 2 s, the next 100 ms later */
	second = rtest_syn_sent_port(port);
	ck_assert_msg(second != 0 && second != first,
		      "the connect from port %d still waits after 3 s (now: %d)", first, second);
	ck_assert_int_eq(l.ups, 0);
	close(hole[1]);
	close(hole[0]);
	rs = rtest_redis_start(port);
	ck_assert_msg(time_to_up(&loop, &l, 5000) >= 0, "not up within 5 s of Redis starting");
	ra_free(r);
	rtest_close_loop(&loop);

	/* Freed while a connect hangs. */
	rtest_redis_kill(rs);
	port = rtest_free_port();
	rtest_blackhole(port, hole);
	uv_loop_init(&loop);
	r = link_to(&loop, port, 1000, &l);
	rtest_run_for(&loop, 300);
	ck_assert_int_ne(rtest_syn_sent_port(port), 0);
	ra_free(r);
	rtest_close_loop(&loop);
	close(hole[1]);
	close(hole[0]);
}
END_TEST

/* A Redis that asks a password (issue 19, item 1): the link comes up with the
 * URL's password, or an ACL user and its password (AUTH user password), and
 * never with a wrong one (the handshake's error drops the connection). */
START_TEST(authenticates_with_the_urls_user_and_password)
{
	const char *urls[] = { "redis://:s3cret@127.0.0.1:%d", "redis://piyasa:u%%2Dpass@127.0.0.1:%d",
			       "redis://:wrong@127.0.0.1:%d", "redis://piyasa:wrong@127.0.0.1:%d" };
	int port = rtest_free_port();
	pid_t rs = rtest_redis_start_auth(port, "s3cret");

	rtest_acl_user(port, "s3cret", "piyasa", "u-pass");
	for (int i = 0; i < 4; i++) {
		uv_loop_t loop;
		struct link l = { 0 };
		char url[128], err[128];
		struct ra *r;

		uv_loop_init(&loop);
		snprintf(url, sizeof url, urls[i], port);
		r = ra_new(&loop, url, 1000, on_state, &l, err, sizeof err);
		ck_assert_msg(r != NULL, "ra_new: %s", err);
		if (i < 2) {
			ck_assert_msg(time_to_up(&loop, &l, 3000) >= 0, "not up with %s", url);
			ping(&loop, r);
		} else {
			rtest_run_for(&loop, 1500);
			ck_assert_msg(l.ups == 0, "up with a wrong password (%s)", url);
		}
		ra_free(r);
		rtest_close_loop(&loop);
	}
	rtest_redis_kill(rs);
}
END_TEST

static Suite *ra_suite(void)
{
	Suite *s = suite_create("ra");
	TCase *tc = tcase_create("outages");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, comes_up_when_redis_starts_late);
	tcase_add_test(tc, reconnects_after_an_outage);
	tcase_add_test(tc, recovers_from_a_hung_redis);
	tcase_add_test(tc, a_connect_without_answer_times_out);
	tcase_add_test(tc, authenticates_with_the_urls_user_and_password);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ra_suite)
