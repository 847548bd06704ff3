/* test_queue: the worker's side of the Redis queue (worker/jobs/queue.c) on a
 * real libuv loop against the real Redis of scripts/services
 * (PIYASA_REDIS_URL), each test under a key prefix of its own (tq<pid>). The
 * fleet is made as the supervisor makes it, with reshard_run (`worker
 * --reshard N`); jobs are put as producers put them (rqs_enqueue, or
 * queue_enqueue). The queue's hooks are the test's: they record what the queue
 * reports. The tick is driven with a clock of the test's own. Each test ends
 * by asserting that the loop closes clean. */
#include "common/cfg.h"
#include "common/job.h"
#include "common/log.h"
#include "common/net/ra.h"
#include "common/rq.h"
#include "common/rqs.h"
#include "common/shm.h"
#include "tests/check_main.h"
#include "worker/jobs/queue.h"
#include "worker/jobs/reshard.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define MAX_JOBS 512

/* A job on_job handed over. live: the test holds it (room, renewal). */
struct held {
	char id[JOB_ID_MAX];
	char token[16];
	char *body;
	int attempts;
	int faults, takeovers; /* what ended the earlier leases */
	int live;
};

/* What the queue reported through its hooks. */
static struct {
	struct held jobs[MAX_JOBS];
	int njobs;
	int ready, stopped, exit_code;
	int room_max; /* room() answers room_max minus the live jobs */
	int each_calls;
} R;

/* An ack's or nack's answer. */
struct answer {
	int calls;
	int acked;
};

static uv_loop_t loop;
static struct cfg cfg;
static struct shm_slot slot;
static struct ra *redis, *rwait;
static struct queue *q;
static struct rqs *rs;    /* blocking client: the producer's side and the checks */
static uint64_t fake_now; /* the tick's clock */

/* ---- the hooks ---- */

static void on_job(const char *id, const char *body, size_t len, const struct rq_tries *tries, void *arg)
{
	struct held *h;
	int attempts = tries->lease;

	(void)arg;
	ck_assert_int_lt(R.njobs, MAX_JOBS);
	h = &R.jobs[R.njobs++];
	snprintf(h->id, sizeof h->id, "%s", id);
	snprintf(h->token, sizeof h->token, "%d", attempts);
	h->body = strndup(body, len);
	h->attempts = attempts;
	h->faults = tries->faults;
	h->takeovers = tries->takeovers;
	h->live = 1;
}

static void on_ready(void *arg)
{
	(void)arg;
	R.ready++;
}

static void on_stopped(int exit_code, void *arg)
{
	(void)arg;
	R.stopped++;
	R.exit_code = exit_code;
}

static int live_jobs(void)
{
	int n = 0;

	for (int i = 0; i < R.njobs; i++)
		n += R.jobs[i].live;
	return n;
}

static int room(void *arg)
{
	(void)arg;
	return R.room_max - live_jobs();
}

static void each_lease(queue_lease_fn fn, void *fn_arg, void *arg)
{
	(void)arg;
	R.each_calls++;
	for (int i = 0; i < R.njobs; i++)
		if (R.jobs[i].live)
			fn(R.jobs[i].id, R.jobs[i].token, fn_arg);
}

static const struct queue_hooks hooks = { on_job, on_ready, on_stopped, room, each_lease, NULL };

static void on_answer(int acked, void *arg)
{
	struct answer *a = arg;

	a->calls++;
	a->acked = acked;
}

/* ---- the loop ---- */

static void on_deadline(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

/* Run the loop until cond() holds or ms pass; cond()'s last value. */
static int run_until(int (*cond)(void), unsigned ms)
{
	uv_timer_t t;
	int expired = 0;

	uv_timer_init(&loop, &t);
	t.data = &expired;
	uv_timer_start(&t, on_deadline, ms, 0);
	while (!cond() && !expired)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT); /* t lives on this stack: let it close */
	return cond();
}

static int never(void)
{
	return 0;
}

/* Just run the loop for ms. */
static void run_for(unsigned ms)
{
	run_until(never, ms);
}

static int links_up(void)
{
	return ra_up(redis) && ra_up(rwait);
}

static int started(void)
{
	return R.ready || R.stopped;
}

static int want_jobs;
static int have_jobs(void)
{
	return R.njobs >= want_jobs;
}

static int pong;
static int got_pong(void)
{
	return pong;
}

static void on_pong(redisReply *r, const char *err, void *arg)
{
	(void)r;
	(void)err;
	(void)arg;
	pong = 1;
}

/* Everything sent on the queue's script connection so far has been answered:
 * replies on one connection come in order, so a PING's answer is a barrier. */
static void redis_barrier(void)
{
	const char *av[] = { "PING" };

	pong = 0;
	ck_assert_int_eq(ra_cmd(redis, on_pong, NULL, 0, 1, av), 0);
	ck_assert_msg(run_until(got_pong, 5000), "no PONG");
}

/* ---- Redis from the outside ---- */

static long long redis_int(const char *fmt, const char *a, const char *b)
{
	redisReply *r = redisCommand(rqs_context(rs), fmt, a, b);
	long long v;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

static double lease_deadline(const char *id)
{
	struct rq_keys k;
	redisReply *r;
	double v;

	rq_keys_for(&k, cfg.redis_prefix, 0);
	r = redisCommand(rqs_context(rs), "ZSCORE %s %s", k.k[RQ_K_LEASED], id);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(r->type == REDIS_REPLY_STRING, "%s is not leased", id);
	v = atof(r->str);
	freeReplyObject(r);
	return v;
}

struct depth {
	long long q[3], leased, delayed;
};

static struct depth depth_of(int w)
{
	struct depth d;
	char err[256];

	ck_assert_msg(rqs_depth(rs, w, d.q, &d.leased, &d.delayed, err, sizeof err) == 0, "%s", err);
	return d;
}

/* Script calls Redis ran so far (all clients; the test is alone on its server). */
static long long evalsha_calls(void)
{
	redisReply *r = redisCommand(rqs_context(rs), "INFO commandstats");
	const char *p;
	long long v = 0;

	ck_assert_ptr_nonnull(r);
	if ((p = strstr(r->str, "cmdstat_evalsha:calls=")))
		v = atoll(p + strlen("cmdstat_evalsha:calls="));
	freeReplyObject(r);
	return v;
}

/* Enqueue a job as a producer does; the bot decides its owner. */
static void put(const char *id, int64_t bot, enum job_prio prio)
{
	struct job j = { 0 }, *jp = &j;
	size_t added;
	char err[256];

	snprintf(j.id, sizeof j.id, "%s", id);
	j.kind = JOB_SPEAK;
	j.prio = prio;
	j.bot_id = bot;
	j.chat_id = -1001;
	j.payload = json_pack("{s:s}", "mark", id);
	ck_assert_msg(rqs_enqueue(rs, &jp, 1, 0, &added, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(added, 1);
	job_clear(&j);
}

static void delete_keys(void)
{
	char pattern[64];
	redisReply *r;

	snprintf(pattern, sizeof pattern, "%s:*", cfg.redis_prefix);
	r = redisCommand(rqs_context(rs), "EVAL %s 0 %s",
			 "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end",
			 pattern);
	freeReplyObject(r);
}

/* ---- set-up ---- */

static void setup(void)
{
	char err[512];

	memset(&R, 0, sizeof R);
	memset(&slot, 0, sizeof slot);
	ck_assert_msg(cfg_load(&cfg, NULL, err, sizeof err) == 0, "%s", err);
	log_init("test_queue", "text", cfg.log_level);
	snprintf(cfg.redis_prefix, sizeof cfg.redis_prefix, "tq%d", (int)getpid());
	cfg.lease_ms = 30000;
	rs = rqs_connect(cfg.redis_url, cfg.redis_prefix, 1, err, sizeof err);
	ck_assert_msg(rs != NULL, "%s (is scripts/services running?)", err);
	delete_keys();
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	redis = ra_new(&loop, cfg.redis_url, 5000, NULL, NULL, err, sizeof err);
	ck_assert_msg(redis != NULL, "%s", err);
	rwait = ra_new(&loop, cfg.redis_url, 5000, NULL, NULL, err, sizeof err);
	ck_assert_msg(rwait != NULL, "%s", err);
	ck_assert_msg(run_until(links_up, 5000), "no connection to %s", cfg.redis_url);
	fake_now = 1000000;
	R.room_max = 64;
}

static void teardown(void)
{
	delete_keys();
	rqs_free(rs);
	for (int i = 0; i < R.njobs; i++)
		free(R.jobs[i].body);
}

/* The fleet of count workers, as the supervisor makes it before starting them. */
static void make_fleet(int count)
{
	ck_assert_int_eq(reshard_run(&cfg, count), 0);
}

/* queue_new for worker 0 of count, then queue_start (the link is up). */
static void start(int count)
{
	q = queue_new(&loop, &cfg, 0, count, redis, rwait, &slot, &hooks);
	ck_assert_ptr_nonnull(q);
	queue_start(q);
	ck_assert_msg(run_until(started, 5000), "neither ready nor stopped");
}

static void wait_jobs(int n, unsigned ms)
{
	want_jobs = n;
	ck_assert_msg(run_until(have_jobs, ms), "%d jobs leased, %d expected", R.njobs, n);
}

static void tick(uint64_t advance_ms)
{
	fake_now += advance_ms;
	queue_tick(q, fake_now);
}

/* Close everything (the acks held are answered "closing") and check the loop
 * closes clean. */
static void close_all(void)
{
	queue_free(q);
	ra_free(redis);
	ra_free(rwait);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static struct held *job(const char *id)
{
	for (int i = R.njobs - 1; i >= 0; i--)
		if (strcmp(R.jobs[i].id, id) == 0)
			return &R.jobs[i];
	ck_abort_msg("job %s was never leased", id);
	return NULL;
}

static struct answer *awaited;
static int answer_came(void)
{
	return awaited->calls > 0;
}

/* Run until a's done came; it comes once. */
static void wait_answer(struct answer *a)
{
	awaited = a;
	ck_assert_msg(run_until(answer_came, 5000), "no answer");
	run_for(10);
	ck_assert_int_eq(a->calls, 1);
}

static int is_stopped(void)
{
	return R.stopped > 0;
}

/* ---- start ---- */

START_TEST(start_refuses_without_a_fleet)
{
	start(1);
	ck_assert_int_eq(R.stopped, 1);
	ck_assert_int_eq(R.exit_code, 3);
	ck_assert_int_eq(R.ready, 0);
	queue_maybe_lease(q); /* stopped: no lease goes out */
	ck_assert_int_eq(queue_leasing(q), 0);
	close_all();
}
END_TEST

START_TEST(start_refuses_a_fleet_of_another_size)
{
	make_fleet(2);
	start(1);
	ck_assert_int_eq(R.stopped, 1);
	ck_assert_int_eq(R.exit_code, 3);
	ck_assert_int_eq(R.ready, 0);
	close_all();
}
END_TEST

static int is_ready(void)
{
	return R.ready > 0;
}

/* A slot whose epoch is not the fleet's (a reshard cut short) refuses the
 * takeover: the worker waits, neither ready nor stopped, and the tick starts
 * again until the epoch is right, without the Redis link going down. */
START_TEST(a_start_refused_by_a_stale_slot_is_tried_again)
{
	struct rq_keys k;
	redisReply *r;
	char epoch[32];

	make_fleet(1);
	rq_keys_for(&k, cfg.redis_prefix, 0);
	r = redisCommand(rqs_context(rs), "HGET %s epoch", k.k[RQ_K_META]);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	snprintf(epoch, sizeof epoch, "%s", r->str);
	freeReplyObject(r);
	freeReplyObject(redisCommand(rqs_context(rs), "HSET %s epoch resharding", k.k[RQ_K_META]));
	q = queue_new(&loop, &cfg, 0, 1, redis, rwait, &slot, &hooks);
	queue_start(q);
	run_for(300);
	ck_assert_int_eq(R.ready, 0);
	ck_assert_int_eq(R.stopped, 0);
	tick(2000); /* still stale: tried and refused again */
	run_for(200);
	ck_assert_int_eq(R.ready + R.stopped, 0);
	freeReplyObject(redisCommand(rqs_context(rs), "HSET %s epoch %s", k.k[RQ_K_META], epoch));
	tick(2000);
	ck_assert_msg(run_until(is_ready, 5000), "not ready once the epoch is the fleet's");
	ck_assert_int_eq(R.ready, 1);
	close_all();
}
END_TEST

START_TEST(ready_once_then_jobs_come_with_body_and_attempt_1)
{
	struct job j;
	char err[256];

	make_fleet(1);
	start(1);
	ck_assert_int_eq(R.ready, 1);
	ck_assert_int_eq(R.stopped, 0);
	put("a", 7, PRIO_NORMAL);
	put("b", 7, PRIO_LOW);
	put("c", 7, PRIO_HIGH);
	wait_jobs(3, 5000);
	ck_assert_str_eq(R.jobs[0].id, "c"); /* high first */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(R.jobs[i].attempts, 1);
		ck_assert_msg(job_decode(&j, R.jobs[i].body, strlen(R.jobs[i].body), err,
					 sizeof err) == 0,
			      "%s", err);
		ck_assert_str_eq(j.id, R.jobs[i].id);
		ck_assert_int_eq(j.bot_id, 7);
		ck_assert_int_eq(j.chat_id, -1001);
		ck_assert_str_eq(json_string_value(json_object_get(j.payload, "mark")), j.id);
		job_clear(&j);
	}
	ck_assert_uint_eq(slot.counters[SHM_C_LEASED], 3);
	/* A second start (Redis came back) and the ticks do not say ready again. */
	queue_start(q);
	tick(1000);
	redis_barrier();
	tick(1000);
	redis_barrier();
	ck_assert_int_eq(R.ready, 1);
	ck_assert_int_eq(R.njobs, 3);
	close_all();
}
END_TEST

START_TEST(start_takes_back_the_predecessors_leases)
{
	const char *av[] = { "1", "60000", "0", "10" };
	char err[256];
	redisReply *r;

	make_fleet(1);
	put("p1", 3, PRIO_NORMAL);
	/* A worker 0 before us leased it for a minute and was killed. */
	r = rqs_eval(rs, RQ_LEASE, 0, 4, av, err, sizeof err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(r->elements, RQ_LEASE_FIELDS);
	freeReplyObject(r);
	start(1);
	ck_assert_int_eq(R.ready, 1);
	wait_jobs(1, 5000);
	ck_assert_str_eq(R.jobs[0].id, "p1");
	ck_assert_int_eq(R.jobs[0].attempts, 2);
	/* Its first lease was taken back, not failed. */
	ck_assert_int_eq(R.jobs[0].faults, 0);
	ck_assert_int_eq(R.jobs[0].takeovers, 1);
	close_all();
}
END_TEST

START_TEST(a_resize_stops_the_worker_of_the_old_epoch)
{
	make_fleet(1);
	start(1);
	ck_assert_int_eq(R.ready, 1);
	run_for(50); /* the first lease came back empty: the queue waits on its wake key */
	make_fleet(2);
	put("r1", 2, PRIO_NORMAL); /* bot 2 is worker 0's in a fleet of 2: it wakes us */
	ck_assert_msg(run_until(is_stopped, 5000), "the old epoch's worker kept going");
	ck_assert_int_eq(R.exit_code, 3);
	ck_assert_int_eq(R.njobs, 0); /* and leased nothing of the new fleet */
	close_all();
}
END_TEST

/* ---- leasing, acks and nacks ---- */

START_TEST(leasing_stops_at_the_room_the_hook_gives)
{
	struct answer a = { 0 };
	struct depth d;
	char id[16];

	make_fleet(1);
	R.room_max = 3;
	start(1);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "j%d", i);
		put(id, 5, PRIO_NORMAL);
	}
	wait_jobs(3, 5000);
	run_for(100);
	tick(1000); /* a tick leases too, if there is room */
	redis_barrier();
	ck_assert_int_eq(R.njobs, 3);
	d = depth_of(0);
	ck_assert_int_eq(d.q[PRIO_NORMAL], 7);
	ck_assert_int_eq(d.leased, 3);
	/* The tick sampled the depth for the exporter. */
	ck_assert_int_eq(slot.gauges[SHM_G_QUEUE_NORMAL], 7);
	ck_assert_int_eq(slot.gauges[SHM_G_LEASED], 3);
	/* One job ends: room for one more, and only one. */
	queue_ack(q, R.jobs[0].id, R.jobs[0].token, on_answer, &a);
	wait_answer(&a);
	ck_assert_int_eq(a.acked, 1);
	R.jobs[0].live = 0;
	queue_maybe_lease(q);
	wait_jobs(4, 5000);
	run_for(100);
	ck_assert_int_eq(R.njobs, 4);
	d = depth_of(0);
	ck_assert_int_eq(d.q[PRIO_NORMAL], 6);
	ck_assert_int_eq(d.leased, 3);
	close_all();
}
END_TEST

START_TEST(ack_makes_the_job_gone)
{
	struct answer a = { 0 };
	struct depth d;
	struct rq_keys k;

	make_fleet(1);
	start(1);
	put("done1", 5, PRIO_HIGH);
	wait_jobs(1, 5000);
	queue_ack(q, job("done1")->id, job("done1")->token, on_answer, &a);
	wait_answer(&a);
	ck_assert_int_eq(a.acked, 1);
	d = depth_of(0);
	ck_assert_int_eq(d.q[0] + d.q[1] + d.q[2] + d.leased + d.delayed, 0);
	rq_keys_for(&k, cfg.redis_prefix, 0);
	ck_assert_int_eq(redis_int("HEXISTS %s %s", k.k[RQ_K_JOBS], "done1"), 0);
	ck_assert_int_eq(redis_int("HEXISTS %s %s", k.k[RQ_K_ATT], "done1"), 0);
	ck_assert_uint_eq(slot.counters[SHM_C_LEASES_LOST], 0);
	close_all();
}
END_TEST

START_TEST(nack_delays_then_the_job_comes_back_with_attempt_2)
{
	struct answer a = { 0 };
	struct depth d;

	make_fleet(1);
	start(1);
	put("n1", 5, PRIO_NORMAL);
	wait_jobs(1, 5000);
	queue_nack(q, "n1", job("n1")->token, 400, 1, on_answer, &a);
	wait_answer(&a);
	ck_assert_int_eq(a.acked, 1);
	job("n1")->live = 0;
	d = depth_of(0);
	ck_assert_int_eq(d.delayed, 1);
	ck_assert_int_eq(d.leased, 0);
	ck_assert_int_eq(d.q[PRIO_NORMAL], 0);
	/* Not due yet: the promotion of a tick leaves it. */
	tick(1000);
	redis_barrier();
	run_for(20);
	ck_assert_int_eq(R.njobs, 1);
	ck_assert_int_eq(depth_of(0).delayed, 1);
	/* Due: the next tick promotes it and it is leased again. */
	run_for(450);
	tick(1000);
	wait_jobs(2, 5000);
	ck_assert_str_eq(R.jobs[1].id, "n1");
	ck_assert_int_eq(R.jobs[1].attempts, 2);
	ck_assert_str_eq(R.jobs[1].token, "2");
	ck_assert_int_eq(R.jobs[1].faults, 1); /* nacked as a failed try */
	d = depth_of(0);
	ck_assert_int_eq(d.delayed, 0);
	ck_assert_int_eq(d.leased, 1);
	/* A wait (fault 0) comes back with the same count of failed tries. */
	a = (struct answer){ 0 };
	queue_nack(q, "n1", "2", 0, 0, on_answer, &a);
	wait_answer(&a);
	ck_assert_int_eq(a.acked, 1);
	job("n1")->live = 0;
	run_for(20);
	tick(1000);
	wait_jobs(3, 5000);
	ck_assert_int_eq(R.jobs[2].attempts, 3);
	ck_assert_int_eq(R.jobs[2].faults, 1);
	ck_assert_int_eq(R.jobs[2].takeovers, 0);
	close_all();
}
END_TEST

#define NBATCH 300

START_TEST(the_acks_of_a_loop_turn_go_as_one_batch)
{
	static struct answer a[NBATCH];
	struct job js[NBATCH], *jp[NBATCH];
	long long before, after;
	size_t added;
	struct depth d;
	char err[256];
	int n = 0;

	make_fleet(1);
	R.room_max = NBATCH;
	start(1);
	for (int i = 0; i < NBATCH; i++) {
		memset(&js[i], 0, sizeof js[i]);
		snprintf(js[i].id, sizeof js[i].id, "b%03d", i);
		js[i].kind = JOB_SPEAK;
		js[i].prio = PRIO_NORMAL;
		js[i].bot_id = 9;
		js[i].chat_id = -1001;
		jp[i] = &js[i];
	}
	ck_assert_msg(rqs_enqueue(rs, jp, NBATCH, 0, &added, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(added, NBATCH);
	wait_jobs(NBATCH, 10000);
	R.room_max = 0; /* nothing more is leased while the acks go */
	redis_barrier();
	before = evalsha_calls();
	for (int i = 0; i < NBATCH; i++)
		queue_ack(q, R.jobs[i].id, R.jobs[i].token, on_answer, &a[i]);
	awaited = &a[NBATCH - 1];
	ck_assert_msg(run_until(answer_came, 10000), "the acks were not answered");
	redis_barrier();
	after = evalsha_calls();
	for (int i = 0; i < NBATCH; i++) {
		ck_assert_int_eq(a[i].calls, 1);
		n += a[i].acked;
	}
	ck_assert_int_eq(n, NBATCH);
	/* 300 acks, 256 to a script call: two calls. */
	ck_assert_int_eq(after - before, 2);
	d = depth_of(0);
	ck_assert_int_eq(d.q[0] + d.q[1] + d.q[2] + d.leased + d.delayed, 0);
	ck_assert_uint_eq(slot.counters[SHM_C_LEASES_LOST], 0);
	close_all();
}
END_TEST

START_TEST(a_wrong_or_expired_lease_is_refused)
{
	struct answer wrong = { 0 }, stale_nack = { 0 }, stale_ack = { 0 }, good = { 0 };
	struct rq_keys k;

	make_fleet(1);
	cfg.lease_ms = 100; /* cfg is read at each use */
	start(1);
	put("x1", 5, PRIO_NORMAL);
	wait_jobs(1, 5000);
	/* A token that is not the lease's. */
	queue_nack(q, "x1", "7", 0, 1, on_answer, &wrong);
	wait_answer(&wrong);
	ck_assert_int_eq(wrong.acked, 0);
	ck_assert_int_eq(depth_of(0).leased, 1);
	/* The lease expires: the tick's reap hands it back, and it comes to us
	 * again as attempt 2 (for a long lease this time). */
	run_for(150);
	cfg.lease_ms = 30000;
	job("x1")->live = 0;
	tick(1000);
	wait_jobs(2, 5000);
	ck_assert_int_eq(R.jobs[1].attempts, 2);
	/* The first attempt can no longer finish it. */
	queue_nack(q, "x1", "1", 0, 1, on_answer, &stale_nack);
	wait_answer(&stale_nack);
	ck_assert_int_eq(stale_nack.acked, 0);
	rq_keys_for(&k, cfg.redis_prefix, 0);
	ck_assert_int_eq(redis_int("HEXISTS %s %s", k.k[RQ_K_JOBS], "x1"), 1);
	ck_assert_int_eq(depth_of(0).leased, 1);
	/* In one batch, the stale ack is refused and the second attempt's taken:
	 * queue.h promises acked 0 for a lost lease, batched or not. */
	queue_ack(q, "x1", "1", on_answer, &stale_ack);
	queue_ack(q, "x1", "2", on_answer, &good);
	wait_answer(&stale_ack);
	wait_answer(&good);
	ck_assert_int_eq(stale_ack.acked, 0);
	ck_assert_int_eq(good.acked, 1);
	/* Each refusal counted once: the wrong token, the stale nack and ack. */
	ck_assert_uint_eq(slot.counters[SHM_C_LEASES_LOST], 3);
	ck_assert_int_eq(redis_int("HEXISTS %s %s", k.k[RQ_K_JOBS], "x1"), 0);
	close_all();
}
END_TEST

START_TEST(the_tick_renews_the_leases_held)
{
	double before_a, before_b;

	make_fleet(1);
	cfg.lease_ms = 1000;
	start(1);
	put("ra", 5, PRIO_NORMAL);
	put("rb", 5, PRIO_NORMAL);
	wait_jobs(2, 5000);
	before_a = lease_deadline("ra");
	before_b = lease_deadline("rb");
	job("rb")->live = 0; /* no longer ours: not renewed */
	cfg.lease_ms = 60000;
	tick(1000);
	redis_barrier();
	ck_assert_int_eq(R.each_calls, 1);
	ck_assert_msg(lease_deadline("ra") >= before_a + 50000, "ra's lease was not renewed");
	ck_assert_msg(lease_deadline("rb") == before_b, "rb's lease was renewed");
	/* The next renewal is lease_ms / 3 later. */
	tick(19000);
	redis_barrier();
	ck_assert_int_eq(R.each_calls, 1);
	tick(1000);
	redis_barrier();
	ck_assert_int_eq(R.each_calls, 2);
	close_all();
}
END_TEST

/* ---- producing ---- */

static int enq_rc[4], enq_n;

static void on_enqueued(int rc, void *arg)
{
	(void)arg;
	enq_rc[enq_n++] = rc;
}

static int enq_want;
static int enqueued(void)
{
	return enq_n >= enq_want;
}

START_TEST(enqueue_dedups_by_id)
{
	struct job j = { 0 };
	struct depth d;

	make_fleet(1);
	R.room_max = 0; /* leave them in the queue */
	start(1);
	snprintf(j.id, sizeof j.id, "dup");
	j.kind = JOB_MEMORIZE;
	j.prio = PRIO_LOW;
	j.bot_id = 11;
	j.chat_id = -1001;
	ck_assert_int_eq(queue_enqueue(q, &j, 0, on_enqueued, NULL), 0);
	ck_assert_int_eq(queue_enqueue(q, &j, 0, on_enqueued, NULL), 0);
	snprintf(j.id, sizeof j.id, "later");
	ck_assert_int_eq(queue_enqueue(q, &j, 60000, on_enqueued, NULL), 0);
	enq_want = 3;
	ck_assert_msg(run_until(enqueued, 5000), "enqueues not answered");
	ck_assert_int_eq(enq_rc[0], 1);
	ck_assert_int_eq(enq_rc[1], 0);
	ck_assert_int_eq(enq_rc[2], 1);
	d = depth_of(0);
	ck_assert_int_eq(d.q[PRIO_LOW], 1);
	ck_assert_int_eq(d.delayed, 1);
	close_all();
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("start");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, start_refuses_without_a_fleet);
	tcase_add_test(tc, start_refuses_a_fleet_of_another_size);
	tcase_add_test(tc, ready_once_then_jobs_come_with_body_and_attempt_1);
	tcase_add_test(tc, a_start_refused_by_a_stale_slot_is_tried_again);
	tcase_add_test(tc, start_takes_back_the_predecessors_leases);
	tcase_add_test(tc, a_resize_stops_the_worker_of_the_old_epoch);
	suite_add_tcase(s, tc);
	tc = tcase_create("lease");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, leasing_stops_at_the_room_the_hook_gives);
	tcase_add_test(tc, ack_makes_the_job_gone);
	tcase_add_test(tc, nack_delays_then_the_job_comes_back_with_attempt_2);
	tcase_add_test(tc, the_acks_of_a_loop_turn_go_as_one_batch);
	tcase_add_test(tc, a_wrong_or_expired_lease_is_refused);
	tcase_add_test(tc, the_tick_renews_the_leases_held);
	suite_add_tcase(s, tc);
	tc = tcase_create("enqueue");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, enqueue_dedups_by_id);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(queue_suite)
