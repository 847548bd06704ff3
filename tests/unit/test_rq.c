/* The queue's Lua scripts against the real Redis of scripts/services: each
 * step of a job's life, the lease token, priorities, the epoch fence. */
#include "common/rqs.h"
#include "tests/check_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct rqs *q;
static char prefix[32];

static void setup(void)
{
	const char *url = getenv("PIYASA_REDIS_URL");
	char err[256];

	snprintf(prefix, sizeof prefix, "t%d", (int)getpid());
	q = rqs_connect(url ? url : "redis://127.0.0.1:26379", prefix, 2, err, sizeof err);
	ck_assert_msg(q != NULL, "%s (is scripts/services running?)", err);
}

static void teardown(void)
{
	redisReply *r = redisCommand(
		rqs_context(q), "EVAL %s 0 %s*",
		"for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end", prefix);
	freeReplyObject(r);
	rqs_free(q);
}

static void put(const char *id, int64_t bot, const char *prio)
{
	struct job j = { 0 }, *jp = &j;
	size_t added;
	char err[256];

	snprintf(j.id, sizeof j.id, "%s", id);
	j.kind = JOB_SPEAK;
	j.prio = job_prio_parse(prio);
	j.bot_id = bot;
	j.chat_id = 1;
	ck_assert_int_eq(rqs_enqueue(q, &jp, 1, 0, &added, err, sizeof err), 0);
}

/* Runs a script on worker 0 with epoch "1"; returns the reply (caller frees). */
static redisReply *run(enum rq_script s, int argc, const char **argv)
{
	const char *av[16] = { "1" };
	char err[256];
	redisReply *r;

	for (int i = 0; i < argc; i++)
		av[i + 1] = argv[i];
	r = rqs_eval(q, s, 0, argc + 1, av, err, sizeof err);
	ck_assert_msg(r != NULL, "%s", err);
	return r;
}

static redisReply *lease(const char *ms, const char *lowfirst, const char *max)
{
	const char *av[] = { ms, lowfirst, max };
	return run(RQ_LEASE, 3, av);
}

static long long run_int(enum rq_script s, int argc, const char **argv)
{
	redisReply *r = run(s, argc, argv);
	long long v = r->integer;

	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	freeReplyObject(r);
	return v;
}

START_TEST(enqueue_dedups_by_id)
{
	struct job j = { 0 }, *jp[2] = { &j, &j };
	size_t added;
	char err[256];

	snprintf(j.id, sizeof j.id, "same");
	j.kind = JOB_SPEAK;
	j.prio = PRIO_NORMAL;
	j.bot_id = 2;
	j.chat_id = 1;
	ck_assert_int_eq(rqs_enqueue(q, jp, 2, 0, &added, err, sizeof err), 0);
	ck_assert_int_eq(added, 1);
	redisReply *r = lease("10000", "0", "10");
	ck_assert_int_eq(r->elements, RQ_LEASE_FIELDS);
	freeReplyObject(r);
}
END_TEST

START_TEST(lease_takes_highest_priority_first)
{
	put("n1", 2, "normal");
	put("l1", 2, "low");
	put("h1", 2, "high");
	put("h2", 2, "high");
	redisReply *r = lease("10000", "0", "3");
	ck_assert_int_eq(r->elements, 3 * RQ_LEASE_FIELDS);
	ck_assert_str_eq(r->element[0]->str, "h1");
	ck_assert_str_eq(r->element[6]->str, "h2");
	ck_assert_str_eq(r->element[12]->str, "n1");
	ck_assert_int_eq(r->element[2]->integer, 1);  /* first attempt */
	ck_assert_int_eq(r->element[3]->integer, 0);  /* no fault */
	ck_assert_int_eq(r->element[4]->integer, 0);  /* no takeover */
	ck_assert_int_eq(r->element[5]->integer, -1); /* no fault: no age */
	freeReplyObject(r);
	r = lease("10000", "1", "1"); /* the anti-starvation turn looks at low first */
	ck_assert_str_eq(r->element[0]->str, "l1");
	freeReplyObject(r);
}
END_TEST

START_TEST(ack_needs_the_current_token)
{
	put("a", 2, "normal");
	redisReply *r = lease("10000", "0", "1");
	freeReplyObject(r);
	const char *wrong[] = { "a", "7" }, *right[] = { "a", "1" };
	ck_assert_int_eq(run_int(RQ_ACK, 2, wrong), 0);
	ck_assert_int_eq(run_int(RQ_ACK, 2, right), 1);
	ck_assert_int_eq(run_int(RQ_ACK, 2, right), 0); /* gone */
	r = lease("10000", "0", "5");
	ck_assert_int_eq(r->elements, 0);
	freeReplyObject(r);
}
END_TEST

START_TEST(nack_delays_then_promote_requeues_with_next_attempt)
{
	put("b", 2, "high");
	freeReplyObject(lease("10000", "0", "1"));
	const char *nack[] = { "b", "1", "100" }, *promote[] = { "100" };
	ck_assert_int_eq(run_int(RQ_NACK, 3, nack), 1);
	ck_assert_int_eq(run_int(RQ_PROMOTE, 1, promote), 0); /* not due yet */
	usleep(150000);
	ck_assert_int_eq(run_int(RQ_PROMOTE, 1, promote), 1);
	redisReply *r = lease("10000", "0", "1");
	ck_assert_str_eq(r->element[0]->str, "b");
	ck_assert_int_eq(r->element[2]->integer, 2);
	freeReplyObject(r);
}
END_TEST

START_TEST(reap_returns_expired_lease_to_front_of_its_queue)
{
	put("x", 2, "normal");
	put("y", 2, "normal");
	put("hi", 2, "high");
	freeReplyObject(lease("10000", "0", "1")); /* hi, long lease */
	redisReply *r = lease("1", "0", "1");      /* x, expires at once */
	ck_assert_str_eq(r->element[0]->str, "x");
	freeReplyObject(r);
	put("h2", 2, "high");
	usleep(20000);
	const char *reap[] = { "100", "0" };
	ck_assert_int_eq(run_int(RQ_REAP, 2, reap), 1);
	r = lease("10000", "0", "3");
	ck_assert_str_eq(r->element[0]->str, "h2"); /* never ahead of a higher priority */
	ck_assert_str_eq(r->element[6]->str, "x");  /* ahead of its own queue */
	ck_assert_str_eq(r->element[12]->str, "y");
	ck_assert_int_eq(r->element[8]->integer, 2);
	/* Its first lease was taken back, not failed: a takeover, no fault. */
	ck_assert_int_eq(r->element[9]->integer, 0);
	ck_assert_int_eq(r->element[10]->integer, 1);
	freeReplyObject(r);
	/* the first attempt of x lost its lease: its ack is refused */
	const char *old[] = { "x", "1" };
	ck_assert_int_eq(run_int(RQ_ACK, 2, old), 0);
}
END_TEST

START_TEST(renew_keeps_a_lease_alive)
{
	put("r", 2, "normal");
	freeReplyObject(lease("200", "0", "1"));
	const char *renew[] = { "10000", "r", "1" }, *reap[] = { "100", "0" };
	ck_assert_int_eq(run_int(RQ_RENEW, 3, renew), 1);
	usleep(300000);
	ck_assert_int_eq(run_int(RQ_REAP, 2, reap), 0);
	const char *bad[] = { "10000", "r", "5" };
	ck_assert_int_eq(run_int(RQ_RENEW, 3, bad), 0);
}
END_TEST

START_TEST(takeover_reaps_every_lease)
{
	put("t1", 2, "normal");
	put("t2", 2, "low");
	freeReplyObject(lease("60000", "0", "2"));
	const char *all[] = { "100", "1" };
	ck_assert_int_eq(run_int(RQ_REAP, 2, all), 2);
	redisReply *r = lease("60000", "0", "5");
	ck_assert_int_eq(r->elements, 2 * RQ_LEASE_FIELDS);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(r->element[i * RQ_LEASE_FIELDS + 2]->integer, 2); /* lease */
		ck_assert_int_eq(r->element[i * RQ_LEASE_FIELDS + 3]->integer, 0); /* faults */
		ck_assert_int_eq(r->element[i * RQ_LEASE_FIELDS + 4]->integer, 1); /* takeovers */
	}
	freeReplyObject(r);
}
END_TEST

/* The counting rule: a nack with fault 1 (or none given) is a failed try and
 * starts the fault clock; a nack with fault 0 (a wait) and a takeover are
 * not; the lease token goes up every time. */
START_TEST(only_a_fault_counts_as_a_failed_try)
{
	const char *fault[] = { "f", "1", "0", "1" }, *old_nack[] = { "f", "2", "0" };
	const char *wait[] = { "f", "3", "0", "0" }, *promote[] = { "100" };
	const char *all[] = { "100", "1" };
	redisReply *r;

	put("f", 2, "normal");
	freeReplyObject(lease("60000", "0", "1"));
	ck_assert_int_eq(run_int(RQ_NACK, 4, fault), 1);
	ck_assert_int_eq(run_int(RQ_PROMOTE, 1, promote), 1);
	freeReplyObject(lease("60000", "0", "1"));
	ck_assert_int_eq(run_int(RQ_NACK, 3, old_nack), 1); /* no flag: a fault, as before */
	ck_assert_int_eq(run_int(RQ_PROMOTE, 1, promote), 1);
	freeReplyObject(lease("60000", "0", "1"));
	ck_assert_int_eq(run_int(RQ_NACK, 4, wait), 1);
	ck_assert_int_eq(run_int(RQ_PROMOTE, 1, promote), 1);
	freeReplyObject(lease("60000", "0", "1"));
	ck_assert_int_eq(run_int(RQ_REAP, 2, all), 1); /* its worker died */
	usleep(20000);
	r = lease("60000", "0", "1");
	ck_assert_int_eq(r->elements, RQ_LEASE_FIELDS);
	ck_assert_int_eq(r->element[2]->integer, 5); /* the fifth lease */
	ck_assert_int_eq(r->element[3]->integer, 2); /* two faults */
	ck_assert_int_eq(r->element[4]->integer, 1); /* one takeover */
	ck_assert_int_ge(r->element[5]->integer, 20);
	ck_assert_int_lt(r->element[5]->integer, 5000);
	freeReplyObject(r);
	/* The token is still the lease number. */
	const char *ack[] = { "f", "5" };
	ck_assert_int_eq(run_int(RQ_ACK, 2, ack), 1);
}
END_TEST

static int leased_ids(redisReply *r, const char *id)
{
	for (size_t i = 0; i < r->elements; i += RQ_LEASE_FIELDS)
		if (!strcmp(r->element[i]->str, id))
			return 1;
	return 0;
}

/* A poison job and the jobs leased beside it die together: all three are
 * taken back twice. With alone 2 (retry_max_takeovers 3), a suspect is leased
 * only while its slot holds no other one: the others wait at the front of
 * their queue, in order, and a job never a suspect passes them. */
START_TEST(suspects_are_leased_one_at_a_time)
{
	const char *all[] = { "100", "1" }, *ack[] = { "s1", "3" };
	redisReply *r;

	put("s1", 2, "normal");
	put("s2", 2, "normal");
	put("s3", 2, "high");
	for (int i = 0; i < 2; i++) {
		freeReplyObject(lease("60000", "0", "10"));
		ck_assert_int_eq(run_int(RQ_REAP, 2, all), 3);
	}
	put("fresh", 2, "normal");
	{
		const char *av[] = { "60000", "0", "10", "2" };
		r = run(RQ_LEASE, 4, av);
	}
	/* s3 (high, a suspect) and fresh; s1 and s2 wait. */
	ck_assert_int_eq(r->elements, 2 * RQ_LEASE_FIELDS);
	ck_assert_str_eq(r->element[0]->str, "s3");
	ck_assert_int_eq(r->element[4]->integer, 2);
	ck_assert_str_eq(r->element[RQ_LEASE_FIELDS]->str, "fresh");
	freeReplyObject(r);
	/* Without alone (an older worker), everything goes. */
	r = lease("60000", "0", "10");
	ck_assert_int_eq(r->elements, 2 * RQ_LEASE_FIELDS);
	ck_assert(leased_ids(r, "s1") && leased_ids(r, "s2"));
	freeReplyObject(r);
	/* s1 done, s3 (the suspect held) ends: the next one may go. */
	ck_assert_int_eq(run_int(RQ_ACK, 2, ack), 1);
	{
		const char *back[] = { "100", "1" }, *av[] = { "60000", "0", "10", "2" };

		ck_assert_int_eq(run_int(RQ_REAP, 2, back), 3); /* s2 s3 fresh */
		r = run(RQ_LEASE, 4, av);
		ck_assert_int_eq(r->elements, 2 * RQ_LEASE_FIELDS); /* one suspect + fresh */
		ck_assert(leased_ids(r, "fresh"));
		freeReplyObject(r);
		r = run(RQ_LEASE, 4, av);
		ck_assert_int_eq(r->elements, 0); /* the other suspect waits */
		freeReplyObject(r);
	}
}
END_TEST

/* A job queued by an older build has a plain number in the att hash. */
START_TEST(a_plain_attempt_count_reads_as_leases)
{
	struct rq_keys k;
	redisReply *r;

	put("o", 2, "normal");
	rq_keys_for(&k, prefix, 0);
	freeReplyObject(redisCommand(rqs_context(q), "HSET %s o 3", k.k[RQ_K_ATT]));
	r = lease("60000", "0", "1");
	ck_assert_int_eq(r->element[2]->integer, 4);
	ck_assert_int_eq(r->element[3]->integer, 0);
	ck_assert_int_eq(r->element[4]->integer, 0);
	freeReplyObject(r);
	const char *ack[] = { "o", "4" };
	ck_assert_int_eq(run_int(RQ_ACK, 2, ack), 1);
}
END_TEST

START_TEST(give_up_by_faults_age_and_takeovers)
{
	char why[160];
	struct rq_tries t = { 6, 4, 1, 1000 };

	ck_assert_int_eq(rq_give_up(&t, 5, 600, 20, why, sizeof why), 0);
	t.faults = 5;
	ck_assert_int_eq(rq_give_up(&t, 5, 600, 20, why, sizeof why), 1);
	ck_assert_str_eq(why, "gave up after 5 attempts");
	/* Takeovers are not faults: many of them and no fault go on... */
	t = (struct rq_tries){ 20, 0, 19, -1 };
	ck_assert_int_eq(rq_give_up(&t, 5, 600, 20, why, sizeof why), 0);
	/* ... up to the takeover bound (a job that kills its worker). */
	t.takeovers = 20;
	ck_assert_int_eq(rq_give_up(&t, 5, 600, 20, why, sizeof why), 1);
	ck_assert_msg(strstr(why, "20 takeovers"), "%s", why);
	/* The time bound: one fault 600 s ago ends it, tries left or not. */
	t = (struct rq_tries){ 3, 1, 0, 599999 };
	ck_assert_int_eq(rq_give_up(&t, 5, 600, 20, why, sizeof why), 0);
	t.fault_age_ms = 600000;
	ck_assert_int_eq(rq_give_up(&t, 5, 600, 20, why, sizeof why), 1);
	ck_assert_str_eq(why, "gave up after 1 attempts over 600 s (retry_max_age_s 600)");
	/* ... and 0 turns it off. */
	ck_assert_int_eq(rq_give_up(&t, 5, 0, 20, why, sizeof why), 0);
	/* A long wait without any fault is no reason. */
	t = (struct rq_tries){ 3, 0, 2, -1 };
	ck_assert_int_eq(rq_give_up(&t, 5, 1, 20, why, sizeof why), 0);
	/* The last lease before the takeover bound is a suspect's; a bound of 1
	 * leaves no lease to tell a poison job from its neighbours. */
	ck_assert_int_eq(rq_alone_at(20), 19);
	ck_assert_int_eq(rq_alone_at(3), 2);
	ck_assert_int_eq(rq_alone_at(2), 1);
	ck_assert_int_eq(rq_alone_at(1), 0);
}
END_TEST

START_TEST(stale_epoch_is_refused)
{
	struct rq_keys k;
	char err[256];
	const char *av[] = { "1", "10000", "0", "5" };

	rq_keys_for(&k, prefix, 0);
	freeReplyObject(redisCommand(rqs_context(q), "HSET %s epoch 2", k.k[RQ_K_META]));
	redisReply *r = rqs_eval(q, RQ_LEASE, 0, 4, av, err, sizeof err);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	ck_assert_int_eq(r->integer, -1);
	freeReplyObject(r);
}
END_TEST

START_TEST(scripts_survive_script_flush)
{
	put("s", 2, "normal");
	freeReplyObject(redisCommand(rqs_context(q), "SCRIPT FLUSH"));
	redisReply *r = lease("10000", "0", "1");
	ck_assert_int_eq(r->elements, RQ_LEASE_FIELDS);
	freeReplyObject(r);
}
END_TEST

static Suite *rq_suite(void)
{
	Suite *s = suite_create("rq");
	TCase *tc = tcase_create("scripts");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, enqueue_dedups_by_id);
	tcase_add_test(tc, lease_takes_highest_priority_first);
	tcase_add_test(tc, ack_needs_the_current_token);
	tcase_add_test(tc, nack_delays_then_promote_requeues_with_next_attempt);
	tcase_add_test(tc, reap_returns_expired_lease_to_front_of_its_queue);
	tcase_add_test(tc, renew_keeps_a_lease_alive);
	tcase_add_test(tc, takeover_reaps_every_lease);
	tcase_add_test(tc, suspects_are_leased_one_at_a_time);
	tcase_add_test(tc, only_a_fault_counts_as_a_failed_try);
	tcase_add_test(tc, a_plain_attempt_count_reads_as_leases);
	tcase_add_test(tc, give_up_by_faults_age_and_takeovers);
	tcase_add_test(tc, stale_epoch_is_refused);
	tcase_add_test(tc, scripts_survive_script_flush);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(rq_suite)
