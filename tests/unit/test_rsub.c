/* test_rsub: a subscription through Redis outages, against a private
 * redis-server (tests/unit/rtest.h). Subscribed again within seconds of Redis
 * coming back, whatever the outage's length (before the fix, the first retry
 * that found Redis down hung for good), and freed clean while a connect hangs
 * (it used to leak the subscription and leave its timer open). Each test ends by
 * asserting the loop closes clean. */
#include "common/net/rsub.h"
#include "tests/check_main.h"
#include "tests/unit/rtest.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#define CHANNEL "rtest:notices"

struct sub {
	int subscribed; /* times the callback said (re)subscribed */
	int got;        /* a message arrived */
	char msg[64];
};

static void on_notice(const char *message, void *arg)
{
	struct sub *s = arg;

	if (!message) {
		s->subscribed++;
		return;
	}
	s->got = 1;
	snprintf(s->msg, sizeof s->msg, "%s", message);
}

static struct rsub *subscribe(uv_loop_t *loop, int port, struct sub *s)
{
	char url[64], err[128];
	struct rsub *r;

	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	r = rsub_new(loop, url, CHANNEL, on_notice, s, err, sizeof err);
	ck_assert_msg(r != NULL, "rsub_new: %s", err);
	return r;
}

static void publish(int port, const char *msg)
{
	redisContext *c = redisConnect("127.0.0.1", port);
	redisReply *r;

	ck_assert(c && !c->err);
	r = redisCommand(c, "PUBLISH %s %s", CHANNEL, msg);
	ck_assert(r != NULL);
	freeReplyObject(r);
	redisFree(c);
}

/* Wait for the count of subscriptions to reach n; ms taken, -1 when it did not. */
static int64_t time_to_subscribed(uv_loop_t *loop, struct sub *s, int n, unsigned ms)
{
	int64_t t0 = rtest_now_ms(), end = t0 + ms;

	while (s->subscribed < n && rtest_now_ms() < end)
		rtest_run_for(loop, 20);
	return s->subscribed >= n ? rtest_now_ms() - t0 : -1;
}

START_TEST(resubscribes_after_an_outage)
{
	uv_loop_t loop;
	struct sub s = { 0 };
	int port = rtest_free_port();
	pid_t rs = rtest_redis_start(port);
	struct rsub *r;
	int64_t took;

	uv_loop_init(&loop);
	r = subscribe(&loop, port, &s);
	ck_assert(time_to_subscribed(&loop, &s, 1, 3000) >= 0);
	publish(port, "one");
	ck_assert(rtest_run_until(&loop, &s.got, 2000));
	ck_assert_str_eq(s.msg, "one");

	rtest_redis_kill(rs);
	rtest_run_for(&loop, 5000); /* two retries, both refused */
	ck_assert_int_eq(s.subscribed, 1);
	rs = rtest_redis_start(port);
	took = time_to_subscribed(&loop, &s, 2, 5000);
	ck_assert_msg(took >= 0, "not subscribed again within 5 s of Redis coming back");
	ck_assert_msg(took <= 2500, "subscribed again %lld ms after Redis came back", (long long)took);
	s.got = 0;
	publish(port, "two");
	ck_assert(rtest_run_until(&loop, &s.got, 2000));
	ck_assert_str_eq(s.msg, "two");
	fprintf(stderr, "rsub: subscribed %lld ms after a 5 s outage\n", (long long)took);
	rsub_free(r);
	rtest_close_loop(&loop);
	rtest_redis_kill(rs);
}
END_TEST

/* A connect nobody answers is given up at its deadline (2 s) and tried again
 * after the retry's 2 s: the local port of the waiting connect changes. Once
 * something answers, it subscribes. A subscription freed while its connect
 * hangs closes clean. */
START_TEST(a_connect_without_answer_times_out)
{
	uv_loop_t loop;
	struct sub s = { 0 };
	int port = rtest_free_port(), hole[2], first, second;
	struct rsub *r;
	pid_t rs;

	rtest_blackhole(port, hole);
	uv_loop_init(&loop);
	r = subscribe(&loop, port, &s);
	rtest_run_for(&loop, 1000);
	first = rtest_syn_sent_port(port);
	ck_assert_msg(first != 0, "no connect is waiting");
	rtest_run_for(&loop, 4000); /* given up at 2 s, tried again at 4 s */
	second = rtest_syn_sent_port(port);
	ck_assert_msg(second != 0 && second != first,
		      "the connect from port %d still waits after 5 s (now: %d)", first, second);
	close(hole[1]);
	close(hole[0]);
	rs = rtest_redis_start(port);
	ck_assert_msg(time_to_subscribed(&loop, &s, 1, 6000) >= 0,
		      "not subscribed within 6 s of Redis starting");
	rsub_free(r);
	rtest_close_loop(&loop);
	rtest_redis_kill(rs);

	port = rtest_free_port();
	rtest_blackhole(port, hole);
	uv_loop_init(&loop);
	r = subscribe(&loop, port, &s);
	rtest_run_for(&loop, 300);
	ck_assert_int_ne(rtest_syn_sent_port(port), 0);
	rsub_free(r);
	rtest_close_loop(&loop);
	close(hole[1]);
	close(hole[0]);
}
END_TEST

/* Connections the server of port (password pass) has accepted so far. */
static long long connections(int port, const char *pass)
{
	redisContext *c = redisConnect("127.0.0.1", port);
	redisReply *r;
	const char *p;
	long long n = -1;

	ck_assert(c && !c->err);
	freeReplyObject(redisCommand(c, "AUTH %s", pass));
	r = redisCommand(c, "INFO stats");
	if (r && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, "total_connections_received:")))
		n = atoll(p + strlen("total_connections_received:"));
	freeReplyObject(r);
	redisFree(c);
	return n;
}

/* A Redis that asks a password: subscribed with the URL's password or an ACL
 * user's (AUTH user password); with a wrong one, never subscribed, and the
 * refusal drops the connection: it is tried again later (as after an outage),
 * not left connected and deaf. */
START_TEST(authenticates_with_the_urls_user_and_password)
{
	const char *urls[] = { "redis://:s3cret@127.0.0.1:%d", "redis://piyasa:u-pass@127.0.0.1:%d",
			       "redis://:wrong@127.0.0.1:%d" };
	int port = rtest_free_port();
	pid_t rs = rtest_redis_start_auth(port, "s3cret");

	rtest_acl_user(port, "s3cret", "piyasa", "u-pass");
	for (int i = 0; i < 3; i++) {
		uv_loop_t loop;
		struct sub s = { 0 };
		char url[128], err[128];
		struct rsub *r;

		uv_loop_init(&loop);
		snprintf(url, sizeof url, urls[i], port);
		r = rsub_new(&loop, url, CHANNEL, on_notice, &s, err, sizeof err);
		ck_assert_msg(r != NULL, "rsub_new: %s", err);
		if (i < 2)
			ck_assert_msg(time_to_subscribed(&loop, &s, 1, 3000) >= 0,
				      "not subscribed with %s", url);
		else {
			long long before = connections(port, "s3cret");

			ck_assert_msg(time_to_subscribed(&loop, &s, 1, 7000) < 0,
				      "subscribed with a wrong password");
			/* a retry every 2 s or so, and ours; staying connected and
			 * deaf would show 1 or 2 */
			ck_assert_int_ge(connections(port, "s3cret") - before, 3);
		}
		rsub_free(r);
		rtest_close_loop(&loop);
	}
	rtest_redis_kill(rs);
}
END_TEST

static Suite *rsub_suite(void)
{
	Suite *s = suite_create("rsub");
	TCase *tc = tcase_create("outages");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, resubscribes_after_an_outage);
	tcase_add_test(tc, a_connect_without_answer_times_out);
	tcase_add_test(tc, authenticates_with_the_urls_user_and_password);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(rsub_suite)
