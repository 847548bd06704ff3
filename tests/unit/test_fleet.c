/* test_fleet: the supervisor's fleet logic on a fake clock with fake children.
 *
 * The fleet acts only through struct fleet_ops, so the test plays the owner:
 * starts and kills are recorded (no fork), timers are deadlines on a virtual
 * clock that advance() fires in order, and a death is the test calling
 * fleet_child_gone. What is asserted is what an operator would check: which
 * processes run with which --count, the respawn delays, the crash-loop report
 * (log line, STATUS= text, /metrics), resizes and drains, and the view that
 * /status and /metrics are made from. */
#include "common/backoff.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/shm.h"
#include "supervisor/fleet.h"
#include "supervisor/metrics.h"
#include "supervisor/view.h"
#include "tests/check_main.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the fake owner ---- */

struct fake {
	int64_t now;
	int next_pid;
	int starts[FLEET_NIDS];   /* starts asked for, per child id */
	int count_of[FLEET_NIDS]; /* the count of the last start */
	int pid[FLEET_NIDS];
	int alive[FLEET_NIDS];     /* started and not gone yet */
	int fail_next[FLEET_NIDS]; /* the next start of id fails */
	int failed[FLEET_NIDS];    /* a failed start whose gone is still owed */
	int kills[FLEET_NIDS];
	int last_sig[FLEET_NIDS];
	int64_t due[FLEET_NIDS]; /* when timer id fires; -1 when not armed */
	int finished;
};

static struct fake fk;
static struct cfg cfg;
static struct shm *shm;
static struct view view;
static struct fleet *fl;
static char err[256];

static int64_t op_now(void *ctx)
{
	(void)ctx;
	return fk.now;
}

static int op_start(void *ctx, int id, int count, int *pid, char *e, size_t n)
{
	(void)ctx;
	ck_assert_msg(!fk.alive[id] && !fk.failed[id], "child %d started twice", id);
	fk.starts[id]++;
	fk.count_of[id] = count;
	if (fk.fail_next[id]) {
		fk.fail_next[id] = 0;
		fk.failed[id] = 1;
		snprintf(e, n, "cannot spawn fake: no such file or directory");
		return -1;
	}
	fk.alive[id] = 1;
	*pid = fk.pid[id] = fk.next_pid++;
	return 0;
}

static int op_kill(void *ctx, int id, int sig)
{
	(void)ctx;
	if (!fk.alive[id])
		return -1;
	fk.kills[id]++;
	fk.last_sig[id] = sig;
	return 0;
}

static void op_timer(void *ctx, int id, int64_t delay_ms)
{
	(void)ctx;
	ck_assert_int_ge(id, 0);
	ck_assert_int_lt(id, FLEET_NIDS);
	fk.due[id] = delay_ms < 0 ? -1 : fk.now + delay_ms;
}

static void op_finished(void *ctx)
{
	(void)ctx;
	fk.finished++;
}

static const struct fleet_ops ops = {
	.now = op_now,
	.start = op_start,
	.kill = op_kill,
	.timer = op_timer,
	.finished = op_finished,
};

/* ---- helpers ---- */

/* Every test runs in its own process (CK_FORK): the log goes to a file of its
 * own, read back by log_has. */
static FILE *log_file;

static void setup(void)
{
	memset(&fk, 0, sizeof fk);
	fk.now = 1000000;
	fk.next_pid = 100;
	for (int i = 0; i < FLEET_NIDS; i++)
		fk.due[i] = -1;
	cfg_defaults(&cfg);
	cfg.respawn_max_ms = 5000;
	cfg.worker_timeout_ms = 3000;
	cfg.drain_timeout_ms = 2000;
	ck_assert_ptr_nonnull(log_file = tmpfile());
	ck_assert_int_eq(dup2(fileno(log_file), STDERR_FILENO), STDERR_FILENO);
	ck_assert_int_eq(log_init("test_fleet", "text", "info"), 0);
	ck_assert_msg((shm = shm_create(SHM_MAX_WORKERS, err, sizeof err)) != NULL, "%s", err);
	ck_assert_int_eq(view_init(&view, shm), 0);
	ck_assert_ptr_nonnull(fl = fleet_new(&ops, NULL, &cfg, &view, 42));
}

static void teardown(void)
{
	fleet_free(fl);
	view_destroy(&view);
	shm_free(shm);
}

/* 1 when the log so far holds text. */
static int log_has(const char *text)
{
	static char buf[1 << 16];
	size_t n;

	fflush(stderr);
	n = (size_t)pread(fileno(log_file), buf, sizeof buf - 1, 0);
	buf[n < sizeof buf ? n : 0] = '\0';
	return strstr(buf, text) != NULL;
}

/* Move the clock by ms, firing every timer that falls due on the way, in order. */
static void advance(int64_t ms)
{
	int64_t end = fk.now + ms;

	for (;;) {
		int first = -1;

		for (int i = 0; i < FLEET_NIDS; i++) {
			if (fk.due[i] < 0 || fk.due[i] > end)
				continue;
			if (first < 0 || fk.due[i] < fk.due[first])
				first = i;
		}
		if (first < 0)
			break;
		fk.now = fk.due[first];
		fk.due[first] = -1;
		fleet_timer_due(fl, first);
	}
	fk.now = end;
}

/* Child id is gone with this status; a failed start owed its report too. */
static void gone(int id, int64_t status, int sig)
{
	ck_assert_msg(fk.alive[id] || fk.failed[id], "child %d is not there", id);
	fk.alive[id] = 0;
	fk.failed[id] = 0;
	fleet_child_gone(fl, id, status, sig);
}

static void ready(int i)
{
	struct shm_slot *sl = shm_slot(shm, i);

	sl->state = SHM_READY;
	sl->heartbeat_ms = fk.now;
}

static void tick(void)
{
	fleet_tick(fl, fk.now);
}

/* Start n workers: the reshard child succeeds, every worker says READY. */
static void run_fleet(int n)
{
	fleet_start(fl, n);
	gone(FLEET_RESHARD, 0, 0);
	for (int i = 0; i < n; i++)
		ready(i);
	tick();
	ck_assert_int_eq(fleet_phase(fl), FLEET_RUNNING);
}

static struct view_worker shown(int i)
{
	struct view_worker w;

	pthread_mutex_lock(&view.mu);
	w = view.w[i];
	pthread_mutex_unlock(&view.mu);
	return w;
}

static void status_is(const char *want)
{
	char st[256];

	fleet_status(fl, st, sizeof st);
	ck_assert_str_eq(st, want);
}

/* The worker dies after up_ms of running; returns the respawn delay it got. */
static int64_t crash_after(int i, int64_t up_ms)
{
	advance(up_ms);
	gone(i, 1, 0);
	ck_assert_int_eq(fk.alive[i], 0);
	ck_assert_int_ge(fk.due[i], 0);
	return fk.due[i] - fk.now;
}

/* Run the respawn timer of i; the worker must start again then. */
static void respawn(int i)
{
	int before = fk.starts[i];

	advance(fk.due[i] - fk.now);
	ck_assert_int_eq(fk.starts[i], before + 1);
	ck_assert(fk.alive[i]);
}

/* ---- start ---- */

START_TEST(workers_start_only_after_the_reshard)
{
	fleet_start(fl, 3);
	ck_assert_int_eq(fleet_phase(fl), FLEET_RESHARDING);
	ck_assert_int_eq(fk.starts[FLEET_RESHARD], 1);
	ck_assert_int_eq(fk.count_of[FLEET_RESHARD], 3);
	ck_assert_int_eq(fk.due[FLEET_RESHARD], fk.now + FLEET_RESHARD_TIMEOUT_MS);
	ck_assert_int_eq(fk.starts[0], 0);
	ck_assert_str_eq(view.phase, "resharding");
	status_is("resharding for 3 workers");

	advance(20);
	gone(FLEET_RESHARD, 0, 0);
	ck_assert_int_eq(fk.due[FLEET_RESHARD], -1); /* the timeout is off */
	ck_assert_int_eq(fleet_phase(fl), FLEET_RUNNING);
	ck_assert_str_eq(view.phase, "running");
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(fk.starts[i], 1);
		ck_assert_int_eq(fk.count_of[i], 3);
		ck_assert_int_eq(shown(i).pid, fk.pid[i]);
	}
	ck_assert_int_eq(fk.starts[3], 0);
	ck_assert(!fleet_settled(fl, fk.now));
	ck_assert(!fleet_was_ready(fl));

	ready(0);
	ready(1);
	tick();
	status_is("2/3 workers ready, 0 restarts");
	ck_assert(!fleet_was_ready(fl));
	ready(2);
	tick();
	status_is("3/3 workers ready, 0 restarts");
	ck_assert(fleet_was_ready(fl));
	ck_assert(fleet_settled(fl, fk.now));
	ck_assert(log_has("all 3 workers ready in "));
}
END_TEST

START_TEST(a_failed_reshard_is_retried_with_backoff)
{
	fleet_start(fl, 2);
	gone(FLEET_RESHARD, 1, 0);
	ck_assert_int_eq(fk.starts[0], 0);
	ck_assert_int_eq(fleet_phase(fl), FLEET_RESHARDING);
	ck_assert_int_ge(fk.due[FLEET_RESHARD], fk.now + FLEET_RESHARD_BASE_MS / 2);
	ck_assert_int_le(fk.due[FLEET_RESHARD], fk.now + FLEET_RESHARD_BASE_MS);
	status_is("resharding for 2 workers (failed, retrying)");
	ck_assert(log_has("reshard for 2 workers exited with status 1 (attempt 1)"));

	/* Second failure: the reshard child could not be started at all. */
	fk.fail_next[FLEET_RESHARD] = 1;
	advance(FLEET_RESHARD_BASE_MS);
	ck_assert_int_eq(fk.starts[FLEET_RESHARD], 2);
	gone(FLEET_RESHARD, -1, 0);
	ck_assert(log_has("reshard: cannot spawn fake"));
	ck_assert(log_has("reshard for 2 workers could not be started (attempt 2)"));
	ck_assert_int_ge(fk.due[FLEET_RESHARD], fk.now + FLEET_RESHARD_BASE_MS);
	ck_assert_int_le(fk.due[FLEET_RESHARD], fk.now + 2 * FLEET_RESHARD_BASE_MS);

	advance(2 * FLEET_RESHARD_BASE_MS);
	ck_assert_int_eq(fk.starts[FLEET_RESHARD], 3);
	gone(FLEET_RESHARD, 0, 0);
	ck_assert_int_eq(fk.starts[0], 1);
	ck_assert_int_eq(fk.starts[1], 1);
	status_is("0/2 workers ready, 0 restarts");
}
END_TEST

START_TEST(a_hung_reshard_is_killed)
{
	fleet_start(fl, 1);
	advance(FLEET_RESHARD_TIMEOUT_MS);
	ck_assert_int_eq(fk.last_sig[FLEET_RESHARD], SIGKILL);
	gone(FLEET_RESHARD, 0, SIGKILL);
	ck_assert(log_has("reshard for 1 workers killed by signal 9"));
	ck_assert_int_eq(fk.starts[0], 0);
}
END_TEST

/* ---- respawn ---- */

START_TEST(a_dead_worker_is_respawned_after_a_backoff)
{
	int64_t delay;
	int old;

	run_fleet(2);
	old = fk.pid[1];
	delay = crash_after(1, 60000);
	ck_assert(log_has("worker 1 (pid "));
	ck_assert(log_has(" exited with status 1"));
	/* Not at once: 50..100 ms after a first crash. */
	ck_assert_int_eq(fk.starts[1], 1);
	ck_assert_int_ge(delay, FLEET_RESPAWN_BASE_MS / 2);
	ck_assert_int_le(delay, FLEET_RESPAWN_BASE_MS);
	ck_assert_int_eq(shown(1).pid, 0);
	ck_assert_int_eq(shown(1).respawning, 1);
	status_is("1/2 workers ready, 0 restarts");

	advance(delay - 1);
	ck_assert_int_eq(fk.starts[1], 1);
	advance(1);
	ck_assert_int_eq(fk.starts[1], 2);
	ck_assert_int_eq(fk.count_of[1], 2);
	ck_assert_int_ne(fk.pid[1], old);
	ck_assert_int_eq(shown(1).pid, fk.pid[1]);
	ck_assert_int_eq(shown(1).restarts, 1);
	ck_assert_int_eq(shown(1).respawning, 0);
	ck_assert_int_eq(fk.starts[0], 1); /* the other one was left alone */

	ready(1);
	tick();
	status_is("2/2 workers ready, 1 restarts");
	ck_assert(log_has(" ms after its predecessor died"));
}
END_TEST

START_TEST(quick_exits_double_the_backoff_up_to_the_cap)
{
	run_fleet(1);
	for (int k = 0; k < 12; k++) {
		int64_t c = backoff_ceiling(k, FLEET_RESPAWN_BASE_MS, cfg.respawn_max_ms);
		int64_t delay = crash_after(0, 200);

		ck_assert_msg(delay >= c / 2 && delay <= c, "exit %d: %lld ms, not in %lld..%lld",
			      k + 1, (long long)delay, (long long)(c / 2), (long long)c);
		ck_assert_int_eq(shown(0).streak, k + 1);
		respawn(0);
	}
	ck_assert_int_eq(shown(0).restarts, 12);
}
END_TEST

START_TEST(a_crash_loop_is_detected_and_reported)
{
	struct snap *sn = calloc(1, sizeof *sn);
	size_t len;
	char *text;

	ck_assert_ptr_nonnull(sn);
	run_fleet(2);
	for (int k = 1; k < FLEET_CRASH_LOOP; k++) {
		crash_after(0, 500);
		ck_assert_int_eq(shown(0).crash_loop, 0);
		respawn(0);
	}
	ck_assert(!log_has("crash-looping"));
	crash_after(0, 500);
	ck_assert_int_eq(shown(0).crash_loop, 1);
	ck_assert_int_eq(shown(0).streak, FLEET_CRASH_LOOP);
	ck_assert(log_has("worker 0 is crash-looping: 5 exits in a row, each within 10 s of "
			  "its start; respawning with backoff up to 5000 ms"));
	status_is("1/2 workers ready, 4 restarts; CRASH LOOP: worker 0 (5 quick exits in a row)");

	/* /metrics says so too. */
	view_snapshot(&view, sn);
	ck_assert_ptr_nonnull(text = metrics_prometheus(sn, &len));
	ck_assert_ptr_nonnull(strstr(text, "\npiyasa_worker_crash_loop{worker=\"0\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\npiyasa_worker_crash_loop{worker=\"1\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "\npiyasa_worker_restarts_total{worker=\"0\"} 4\n"));
	free(text);
	free(sn);
}
END_TEST

START_TEST(a_stable_run_ends_the_crash_loop)
{
	run_fleet(1);
	for (int k = 0; k < FLEET_CRASH_LOOP; k++) {
		crash_after(0, 100);
		respawn(0);
	}
	ck_assert_int_eq(shown(0).crash_loop, 1);
	ready(0);
	advance(FLEET_STABLE_MS - 1);
	ready(0);
	tick();
	ck_assert_int_eq(shown(0).crash_loop, 1);
	advance(1);
	tick();
	ck_assert_int_eq(shown(0).crash_loop, 0);
	ck_assert_int_eq(shown(0).streak, 0);
	ck_assert(log_has("recovered: up for 10 s"));
	status_is("1/1 workers ready, 5 restarts");
}
END_TEST

START_TEST(an_exit_after_a_long_run_starts_the_backoff_over)
{
	int64_t delay;

	run_fleet(1);
	for (int k = 0; k < 3; k++) {
		crash_after(0, 100);
		respawn(0);
	}
	ck_assert_int_eq(shown(0).streak, 3);
	/* Gone after FLEET_STABLE_MS with no tick in between: the exit itself ends the
	 * streak, so the next delay is a first crash's again. */
	delay = crash_after(0, FLEET_STABLE_MS);
	ck_assert_int_le(delay, FLEET_RESPAWN_BASE_MS);
	ck_assert_int_eq(shown(0).streak, 1);
}
END_TEST

START_TEST(a_failed_spawn_is_retried_like_a_crash)
{
	fleet_start(fl, 1);
	fk.fail_next[0] = 1;
	gone(FLEET_RESHARD, 0, 0);
	ck_assert_int_eq(fk.starts[0], 1);
	ck_assert(log_has("worker 0: cannot spawn fake"));
	ck_assert_int_eq(shown(0).pid, 0);
	ck_assert_int_eq(fk.due[0], -1); /* not before the start's failure is reported */
	gone(0, -1, 0);
	ck_assert_int_ge(fk.due[0], fk.now);
	respawn(0);
	ck_assert_int_eq(shown(0).restarts, 1);
}
END_TEST

/* The worker is killed by sig after up_ms; returns the respawn delay it got. */
static int64_t killed_after(int i, int64_t up_ms, int sig)
{
	advance(up_ms);
	gone(i, 0, sig);
	ck_assert_int_ge(fk.due[i], 0);
	return fk.due[i] - fk.now;
}

static void delay_within(int64_t delay, int64_t lo, int64_t hi)
{
	ck_assert_msg(delay >= lo && delay <= hi, "respawn in %lld ms, not in %lld..%lld",
		      (long long)delay, (long long)lo, (long long)hi);
}

/* kill -9 every 2 s (issue 18, item 5): a worker that got READY and was then
 * killed has no crash streak; its successor comes back after the first delay
 * every time, so the slot is empty ~100 ms per kill, not up to respawn_max_ms. */
START_TEST(a_ready_worker_killed_from_outside_respawns_fast)
{
	cfg.respawn_max_ms = 30000;
	run_fleet(2);
	for (int k = 0; k < 20; k++) {
		delay_within(killed_after(0, 2000, k % 2 ? SIGKILL : SIGTERM),
			     FLEET_RESPAWN_BASE_MS / 2, FLEET_RESPAWN_BASE_MS);
		ck_assert_int_eq(shown(0).streak, 0);
		ck_assert_int_eq(shown(0).crash_loop, 0);
		respawn(0);
		advance(300);
		ready(0);
		tick();
	}
	ck_assert(!log_has("crash-looping"));
	ck_assert(log_has("worker 0: respawn in "));
	ck_assert(log_has(" ms (killed after it was ready)"));
	status_is("2/2 workers ready, 20 restarts");
}
END_TEST

/* READY and killed before the supervisor's tick saw it: the slot says READY. */
START_TEST(a_ready_seen_only_in_the_slot_counts)
{
	cfg.respawn_max_ms = 30000;
	run_fleet(1);
	for (int k = 0; k < 8; k++) {
		delay_within(killed_after(0, 500, SIGKILL), FLEET_RESPAWN_BASE_MS / 2,
			     FLEET_RESPAWN_BASE_MS);
		respawn(0);
		ready(0); /* no tick */
	}
	ck_assert_int_eq(shown(0).streak, 0);
}
END_TEST

/* Killed before READY, again and again (kills faster than a start): a gentle
 * escalation up to FLEET_KILLED_MAX_MS, never a crash loop; a READY ends it. */
START_TEST(kills_before_ready_escalate_gently)
{
	cfg.respawn_max_ms = 30000;
	run_fleet(1);
	killed_after(0, 2000, SIGKILL);
	respawn(0);
	for (int k = 0; k < 10; k++) {
		int64_t c = backoff_ceiling(k, FLEET_RESPAWN_BASE_MS, FLEET_KILLED_MAX_MS);

		delay_within(killed_after(0, 50, SIGKILL), c / 2, c);
		respawn(0);
	}
	ck_assert_int_eq(shown(0).crash_loop, 0);
	ck_assert(log_has("(killed before it was ready)"));
	ready(0);
	tick();
	delay_within(killed_after(0, 50, SIGKILL), FLEET_RESPAWN_BASE_MS / 2, FLEET_RESPAWN_BASE_MS);
	respawn(0);
	delay_within(killed_after(0, 50, SIGKILL), FLEET_RESPAWN_BASE_MS / 2,
		     FLEET_RESPAWN_BASE_MS); /* not ready: the gentle series starts */
}
END_TEST

/* The protection stays: after a kill, a worker that dies at start (an exit, a
 * fault signal, our own SIGKILL for a stale heartbeat) is a crash loop again. */
START_TEST(a_crash_loop_after_a_kill_is_still_one)
{
	int64_t c;

	run_fleet(1);
	killed_after(0, 2000, SIGKILL);
	respawn(0);
	for (int k = 0; k < FLEET_CRASH_LOOP; k++) {
		c = backoff_ceiling(k, FLEET_RESPAWN_BASE_MS, cfg.respawn_max_ms);
		if (k % 2)
			delay_within(killed_after(0, 100, SIGSEGV), c / 2, c);
		else
			delay_within(crash_after(0, 100), c / 2, c);
		respawn(0);
	}
	ck_assert_int_eq(shown(0).crash_loop, 1);
	ck_assert(log_has("worker 0 is crash-looping"));

	/* A hung worker killed for its stale heartbeat is a crash too, READY or not. */
	ready(0);
	tick();
	advance(cfg.worker_timeout_ms + 1);
	tick();
	ck_assert_int_eq(fk.last_sig[0], SIGKILL);
	gone(0, 0, SIGKILL);
	ck_assert_int_eq(shown(0).streak, FLEET_CRASH_LOOP + 1);
	c = backoff_ceiling(FLEET_CRASH_LOOP, FLEET_RESPAWN_BASE_MS, cfg.respawn_max_ms);
	delay_within(fk.due[0] - fk.now, c / 2, c);
}
END_TEST

START_TEST(a_stale_heartbeat_gets_sigkill_once)
{
	run_fleet(2);
	ck_assert_int_eq(fleet_stale_count(fl, fk.now), 0);
	advance(cfg.worker_timeout_ms);
	ready(1); /* worker 1 beats, worker 0 has gone quiet */
	ck_assert_int_eq(fleet_stale_count(fl, fk.now), 0);
	advance(1);
	ck_assert_int_eq(fleet_stale_count(fl, fk.now), 1);
	tick();
	ck_assert_int_eq(fk.kills[0], 1);
	ck_assert_int_eq(fk.last_sig[0], SIGKILL);
	ck_assert_int_eq(fk.kills[1], 0);
	tick();
	ck_assert_int_eq(fk.kills[0], 1);
	ck_assert(log_has("worker 0 (pid 101) heartbeat is 3001 ms old (worker_timeout_ms 3000)"));
	gone(0, 0, SIGKILL);
	ck_assert(log_has("killed by signal 9 (Killed) (its heartbeat had stopped)"));
	ck_assert_int_ge(fk.due[0], 0);
}
END_TEST

START_TEST(signals_reach_running_workers_only)
{
	run_fleet(3);
	crash_after(1, 10);
	fleet_signal(fl, SIGHUP);
	ck_assert_int_eq(fk.last_sig[0], SIGHUP);
	ck_assert_int_eq(fk.kills[1], 0);
	ck_assert_int_eq(fk.last_sig[2], SIGHUP);
}
END_TEST

/* ---- resize ---- */

START_TEST(resize_up_drains_reshards_and_starts_the_new_size)
{
	run_fleet(2);
	ck_assert_int_eq(fleet_resize(fl, fleet_target(fl) + 1, "SIGTTIN"), 1);
	ck_assert_int_eq(fleet_target(fl), 3);
	ck_assert_int_eq(fleet_phase(fl), FLEET_DRAINING);
	ck_assert_int_eq(view.resizes, 1);
	ck_assert_int_eq(fk.last_sig[0], SIGTERM);
	ck_assert_int_eq(fk.last_sig[1], SIGTERM);
	ck_assert_int_eq(fk.due[FLEET_DRAIN], fk.now + cfg.drain_timeout_ms);
	status_is("resize 2 -> 3: draining, 2 children left");
	ck_assert(log_has("SIGTTIN: resize 2 -> 3"));

	advance(100);
	gone(0, 0, 0);
	ck_assert_int_eq(fk.due[0], -1); /* a drained worker is not respawned */
	status_is("resize 2 -> 3: draining, 1 children left");
	gone(1, 0, SIGTERM);
	ck_assert_int_eq(fk.due[FLEET_DRAIN], -1);
	ck_assert(log_has("resize 2 -> 3: old workers drained in 100 ms"));
	ck_assert_int_eq(fleet_phase(fl), FLEET_RESHARDING);
	ck_assert_int_eq(fk.starts[FLEET_RESHARD], 2);
	ck_assert_int_eq(fk.count_of[FLEET_RESHARD], 3);

	gone(FLEET_RESHARD, 0, 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(fk.count_of[i], 3);
		ck_assert(fk.alive[i]);
		ready(i);
	}
	advance(50);
	tick();
	ck_assert(log_has("resize 2 -> 3 took 150 ms"));
	status_is("3/3 workers ready, 0 restarts");
	ck_assert_int_eq(view.count, 3);
}
END_TEST

START_TEST(resize_down_leaves_the_last_index_stopped)
{
	run_fleet(3);
	ck_assert_int_eq(fleet_resize(fl, fleet_target(fl) - 1, "SIGTTOU"), 1);
	for (int i = 0; i < 3; i++)
		gone(i, 0, 0);
	gone(FLEET_RESHARD, 0, 0);
	ck_assert_int_eq(fk.starts[0], 2);
	ck_assert_int_eq(fk.starts[1], 2);
	ck_assert_int_eq(fk.starts[2], 1);
	ck_assert(!fk.alive[2]);
	ck_assert_int_eq(fk.count_of[0], 2);
	ck_assert_int_eq(shown(2).pid, 0);
	ck_assert_int_eq(shown(2).respawning, 0);
	ready(0);
	ready(1);
	tick();
	status_is("2/2 workers ready, 0 restarts");
	/* A worker beyond the fleet is never respawned, even by a late timer. */
	fleet_timer_due(fl, 2);
	ck_assert_int_eq(fk.starts[2], 1);
}
END_TEST

START_TEST(resize_keeps_within_bounds_and_ignores_no_change)
{
	run_fleet(1);
	ck_assert_int_eq(fleet_resize(fl, 1, "reload"), 0);
	ck_assert_int_eq(fleet_resize(fl, 0, "SIGTTOU"), 0);
	ck_assert(log_has("SIGTTOU: the fleet already has 1 workers (bounds 1..256)"));
	ck_assert_int_eq(fleet_phase(fl), FLEET_RUNNING);
	ck_assert_int_eq(fk.kills[0], 0);
	ck_assert_int_eq(fleet_resize(fl, SHM_MAX_WORKERS + 5, "reload"), 1);
	ck_assert_int_eq(fleet_target(fl), SHM_MAX_WORKERS);
}
END_TEST

START_TEST(a_new_target_during_a_drain_is_picked_up)
{
	run_fleet(2);
	fleet_resize(fl, 3, "SIGTTIN");
	ck_assert_int_eq(fleet_resize(fl, 4, "SIGTTIN"), 1);
	gone(0, 0, 0);
	gone(1, 0, 0);
	ck_assert_int_eq(fk.count_of[FLEET_RESHARD], 4);
	/* Asked for 5 while resharding for 4: the reshard runs again for 5. */
	ck_assert_int_eq(fleet_resize(fl, 5, "SIGTTIN"), 1);
	gone(FLEET_RESHARD, 0, 0);
	ck_assert_int_eq(fleet_phase(fl), FLEET_RESHARDING);
	ck_assert_int_eq(fk.count_of[FLEET_RESHARD], 5);
	gone(FLEET_RESHARD, 0, 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(fk.count_of[i], 5);
}
END_TEST

START_TEST(a_drain_that_times_out_sends_sigkill_and_waits)
{
	run_fleet(2);
	fleet_resize(fl, 1, "SIGTTOU");
	gone(0, 0, 0);
	advance(cfg.drain_timeout_ms);
	ck_assert_int_eq(fk.last_sig[1], SIGKILL);
	ck_assert(log_has("1 children still running 2000 ms after SIGTERM: sending SIGKILL"));
	/* Still there after SIGKILL: the resize waits rather than run two fleets. */
	advance(FLEET_FORCE_EXIT_MS);
	ck_assert(log_has("1 children did not exit after SIGKILL; the resize waits for them"));
	ck_assert_int_eq(fleet_phase(fl), FLEET_DRAINING);
	ck_assert_int_eq(fk.starts[FLEET_RESHARD], 1);
	gone(1, 0, SIGKILL);
	ck_assert_int_eq(fleet_phase(fl), FLEET_RESHARDING);
	ck_assert_int_eq(fk.starts[FLEET_RESHARD], 2);
}
END_TEST

/* ---- stop ---- */

START_TEST(stop_drains_every_child_then_finishes)
{
	run_fleet(3);
	crash_after(2, 1000); /* waiting out its backoff: not respawned any more */
	fleet_stop(fl);
	ck_assert_int_eq(fleet_phase(fl), FLEET_STOPPING);
	ck_assert_str_eq(view.phase, "stopping");
	ck_assert_int_eq(fk.due[2], -1);
	ck_assert_int_eq(shown(2).respawning, 0);
	ck_assert_int_eq(fk.last_sig[0], SIGTERM);
	ck_assert_int_eq(fk.last_sig[1], SIGTERM);
	status_is("stopping: 2 children left");
	ck_assert_int_eq(fleet_resize(fl, 5, "SIGTTIN"), 0);
	advance(30);
	gone(0, 0, 0);
	ck_assert_int_eq(fk.finished, 0);
	gone(1, 0, SIGTERM);
	ck_assert_int_eq(fk.finished, 1);
	ck_assert_int_eq(fk.starts[0], 1);
	ck_assert_int_eq(fk.starts[2], 1);
	ck_assert(log_has("every worker stopped in 30 ms; exiting"));
}
END_TEST

START_TEST(stop_kills_what_stays_and_exits_anyway)
{
	run_fleet(2);
	fleet_stop(fl);
	gone(0, 0, 0);
	advance(cfg.drain_timeout_ms);
	ck_assert_int_eq(fk.last_sig[1], SIGKILL);
	ck_assert_int_eq(fk.finished, 0);
	advance(FLEET_FORCE_EXIT_MS);
	ck_assert_int_eq(fk.finished, 1);
	ck_assert(log_has("1 children did not exit after SIGKILL; exiting anyway"));
}
END_TEST

START_TEST(a_second_stop_kills_at_once)
{
	run_fleet(2);
	fleet_stop(fl);
	ck_assert_int_eq(fk.kills[0], 1);
	fleet_stop(fl);
	ck_assert_int_eq(fk.last_sig[0], SIGKILL);
	ck_assert_int_eq(fk.last_sig[1], SIGKILL);
	ck_assert_int_eq(fk.due[FLEET_DRAIN], fk.now + FLEET_FORCE_EXIT_MS);
	fleet_stop(fl); /* a third changes nothing */
	ck_assert_int_eq(fk.kills[0], 2);
	gone(0, 0, SIGKILL);
	gone(1, 0, SIGKILL);
	ck_assert_int_eq(fk.finished, 1);
}
END_TEST

START_TEST(stop_during_a_reshard_kills_it)
{
	fleet_start(fl, 2);
	fleet_stop(fl);
	ck_assert_int_eq(fk.last_sig[FLEET_RESHARD], SIGTERM);
	ck_assert_int_eq(fk.due[FLEET_RESHARD], -1);
	gone(FLEET_RESHARD, 0, SIGTERM);
	ck_assert_int_eq(fk.finished, 1);
	ck_assert_int_eq(fk.starts[0], 0);
}
END_TEST

static Suite *fleet_suite(void)
{
	Suite *s = suite_create("fleet");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, workers_start_only_after_the_reshard);
	tcase_add_test(tc, a_failed_reshard_is_retried_with_backoff);
	tcase_add_test(tc, a_hung_reshard_is_killed);
	tcase_add_test(tc, a_dead_worker_is_respawned_after_a_backoff);
	tcase_add_test(tc, quick_exits_double_the_backoff_up_to_the_cap);
	tcase_add_test(tc, a_crash_loop_is_detected_and_reported);
	tcase_add_test(tc, a_stable_run_ends_the_crash_loop);
	tcase_add_test(tc, an_exit_after_a_long_run_starts_the_backoff_over);
	tcase_add_test(tc, a_failed_spawn_is_retried_like_a_crash);
	tcase_add_test(tc, a_ready_worker_killed_from_outside_respawns_fast);
	tcase_add_test(tc, a_ready_seen_only_in_the_slot_counts);
	tcase_add_test(tc, kills_before_ready_escalate_gently);
	tcase_add_test(tc, a_crash_loop_after_a_kill_is_still_one);
	tcase_add_test(tc, a_stale_heartbeat_gets_sigkill_once);
	tcase_add_test(tc, signals_reach_running_workers_only);
	tcase_add_test(tc, resize_up_drains_reshards_and_starts_the_new_size);
	tcase_add_test(tc, resize_down_leaves_the_last_index_stopped);
	tcase_add_test(tc, resize_keeps_within_bounds_and_ignores_no_change);
	tcase_add_test(tc, a_new_target_during_a_drain_is_picked_up);
	tcase_add_test(tc, a_drain_that_times_out_sends_sigkill_and_waits);
	tcase_add_test(tc, stop_drains_every_child_then_finishes);
	tcase_add_test(tc, stop_kills_what_stays_and_exits_anyway);
	tcase_add_test(tc, a_second_stop_kills_at_once);
	tcase_add_test(tc, stop_during_a_reshard_kills_it);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(fleet_suite)
