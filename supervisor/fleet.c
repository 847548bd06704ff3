/* fleet: see fleet.h. The records of the workers and of the reshard child are
 * private here; spawn.c keeps the process handles and only ever says, through
 * the owner, that a child is gone. The reshard child is a short-lived
 * `worker --reshard M`: the supervisor itself never talks to Redis, so a slow
 * Redis can delay a resize but cannot wedge the supervisor. */
#include "supervisor/fleet.h"

#include "common/backoff.h"
#include "common/cfg.h"
#include "common/log.h"
#include "supervisor/notify.h"
#include "supervisor/view.h"

#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One worker index over its lives. */
struct member {
	int present;          /* started; its death not reported yet */
	int running;          /* started successfully; its death not reported yet */
	int stale_killed;     /* we sent SIGKILL for a stale heartbeat */
	int64_t died_ms;      /* when the previous process died, 0 = never */
	int64_t ready_ms;     /* when this process was first seen READY, 0 = not yet */
	int kills;            /* killed from outside before READY, in a row (respawn_delay) */
	struct view_worker v; /* what the view shows */
};

struct reshard {
	int present, running;
	int attempt; /* failures in a row */
	int count;   /* the fleet size this run prepares */
	int pid;
	int64_t exit_status;
	int term_signal;
	int64_t started_ms;
};

struct fleet {
	const struct fleet_ops *ops;
	void *ctx;
	const struct cfg *cfg;
	struct view *view;
	struct shm *shm; /* the view's */
	enum fleet_phase phase;
	int count;  /* workers in the fleet that runs or starts */
	int target; /* size asked for; differs from count mid-resize */
	uint64_t rng;
	int ready_sent;    /* READY=1 sent for the first start */
	int64_t phase_ms;  /* when the current phase began */
	int64_t resize_ms; /* when a resize began; 0 = none under way */
	int resize_from;
	int killed; /* this drain already sent SIGKILL */
	struct reshard reshard;
	struct member w[SHM_MAX_WORKERS];
};

static const char *const phase_names[] = { "resharding", "running", "draining", "stopping" };

static int64_t now_ms(const struct fleet *f)
{
	return f->ops->now(f->ctx);
}

static void set_phase(struct fleet *f, enum fleet_phase p)
{
	f->phase = p;
	f->phase_ms = now_ms(f);
	view_set_fleet(f->view, f->count, phase_names[p]);
}

static void publish(struct fleet *f, int i)
{
	view_set_worker(f->view, i, &f->w[i].v);
}

struct fleet *fleet_new(const struct fleet_ops *ops, void *ctx, const struct cfg *cfg,
			struct view *view, uint64_t seed)
{
	struct fleet *f = calloc(1, sizeof *f);

	if (!f)
		return NULL;
	f->ops = ops;
	f->ctx = ctx;
	f->cfg = cfg;
	f->view = view;
	f->shm = view->shm;
	f->rng = seed;
	f->phase = FLEET_RESHARDING;
	return f;
}

void fleet_free(struct fleet *f)
{
	free(f);
}

/* --- one worker's lives --- */

/* "exited with status 1", "killed by signal 9 (Killed)", "could not be started". */
static void describe_exit(char *buf, size_t n, int64_t status, int term_signal)
{
	if (term_signal)
		snprintf(buf, n, "killed by signal %d (%s)", term_signal, strsignal(term_signal));
	else if (status < 0)
		snprintf(buf, n, "could not be started");
	else
		snprintf(buf, n, "exited with status %" PRId64, status);
}

static void worker_start(struct fleet *f, int i)
{
	struct member *w = &f->w[i];
	char err[PATH_MAX + 128];
	int pid = 0;

	/* Anything left in the slot is folded, never lost; then the new process
	 * starts from a zeroed slot (state EMPTY, no heartbeat). */
	view_retire_slot(f->view, i);
	w->present = 1;
	w->stale_killed = 0;
	w->ready_ms = 0;
	w->v.spawned_ms = now_ms(f);
	w->v.respawning = 0;
	if (f->ops->start(f->ctx, i, f->count, &pid, err, sizeof err) < 0) {
		log_error("worker %d: %s", i, err);
		w->died_ms = w->v.spawned_ms;
		w->v.pid = 0;
		publish(f, i);
		return;
	}
	w->running = 1;
	w->v.pid = pid;
	log_info("worker %d started (pid %d)", i, pid);
	publish(f, i);
}

static void respawn_due(struct fleet *f, int i)
{
	if (f->phase != FLEET_RUNNING || i >= f->count || f->w[i].present)
		return;
	f->w[i].v.restarts++;
	worker_start(f, i);
}

/* Sent from outside (an operator, a chaos script, the OOM killer), as opposed
 * to a fault the process raised itself (SIGSEGV, SIGABRT, ...) or our own
 * SIGKILL for a stale heartbeat. */
static int killed_from_outside(const struct member *w, int sig)
{
	if (w->stale_killed)
		return 0;
	return sig == SIGKILL || sig == SIGTERM || sig == SIGINT || sig == SIGHUP;
}

/* The crash streak: quick exits in a row, doubling up to respawn_max_ms and
 * reported as a crash loop at FLEET_CRASH_LOOP. */
static int64_t crash_delay(struct fleet *f, int i, int64_t up)
{
	struct member *w = &f->w[i];
	int64_t delay;

	if (up >= FLEET_STABLE_MS)
		w->v.streak = 0;
	delay = backoff_equal_jitter(w->v.streak, FLEET_RESPAWN_BASE_MS, f->cfg->respawn_max_ms,
				     &f->rng);
	w->v.streak++;
	if (w->v.streak >= FLEET_CRASH_LOOP && !w->v.crash_loop) {
		w->v.crash_loop = 1;
		log_event(LOG_ID_CRASH_LOOP, LOG_ERR, NULL,
			  "worker %d is crash-looping: %d exits in a row, each within %d s of its "
			  "start; respawning with backoff up to %d ms",
			  i, w->v.streak, FLEET_STABLE_MS / 1000, f->cfg->respawn_max_ms);
	}
	return delay;
}

/* A process that got READY and then died by a signal proved that the worker
 * starts: whoever killed it, its successor comes back after the first delay
 * (50..100 ms) and its crash streak is over. One killed from outside before it
 * got READY (kills that come faster than a start) escalates gently, up to
 * FLEET_KILLED_MAX_MS, and never counts as a crash loop; it is over once a
 * process gets READY again. Anything else is a crash (crash_delay); *why is
 * NULL then. */
static int64_t respawn_delay(struct fleet *f, int i, int sig, const char **why)
{
	struct member *w = &f->w[i];
	int64_t up = now_ms(f) - w->v.spawned_ms;

	if (sig && w->ready_ms && !w->stale_killed) {
		*why = "killed after it was ready";
		w->kills = 0;
		w->v.streak = 0;
		w->v.crash_loop = 0;
		return backoff_equal_jitter(0, FLEET_RESPAWN_BASE_MS, f->cfg->respawn_max_ms, &f->rng);
	}
	if (killed_from_outside(w, sig)) {
		*why = "killed before it was ready";
		return backoff_equal_jitter(w->kills++, FLEET_RESPAWN_BASE_MS, FLEET_KILLED_MAX_MS,
					    &f->rng);
	}
	*why = NULL;
	return crash_delay(f, i, up);
}

static void schedule_respawn(struct fleet *f, int i, int sig)
{
	struct member *w = &f->w[i];
	const char *why;
	int64_t delay = respawn_delay(f, i, sig, &why);

	w->v.respawning = 1;
	if (!why)
		log_msg(w->v.streak > 1 ? LOG_NOTICE : LOG_INFO, NULL,
			"worker %d: respawn in %" PRId64 " ms (exit %d in a row)", i, delay,
			w->v.streak);
	else
		log_info("worker %d: respawn in %" PRId64 " ms (%s)", i, delay, why);
	f->ops->timer(f->ctx, i, delay);
	publish(f, i);
}

static void cancel_respawn(struct fleet *f, int i)
{
	if (!f->w[i].v.respawning)
		return;
	f->ops->timer(f->ctx, i, -1);
	f->w[i].v.respawning = 0;
	publish(f, i);
}

static int worker_signal(struct fleet *f, int i, int sig)
{
	if (!f->w[i].running)
		return -1;
	return f->ops->kill(f->ctx, i, sig);
}

/* An exit we asked for (a drain) is news; any other is an error. */
static int exit_expected(const struct fleet *f, int64_t status, int sig)
{
	if (f->phase != FLEET_DRAINING && f->phase != FLEET_STOPPING)
		return 0;
	return (sig == 0 && status == 0) || sig == SIGTERM;
}

static void worker_exited(struct fleet *f, int i, int64_t status, int sig)
{
	struct member *w = &f->w[i];
	char how[96];

	w->running = 0;
	w->died_ms = now_ms(f);
	describe_exit(how, sizeof how, status, sig);
	log_msg(exit_expected(f, status, sig) ? LOG_INFO : LOG_ERR, NULL, "worker %d (pid %d) %s%s",
		i, (int)w->v.pid, how, w->stale_killed ? " (its heartbeat had stopped)" : "");
	w->v.pid = 0;
	publish(f, i);
	/* The process is gone, so its slot is final: fold it now. */
	view_retire_slot(f->view, i);
}

static int worker_is_stale(const struct fleet *f, int i, int64_t now)
{
	const struct member *w = &f->w[i];
	struct shm_slot *sl = shm_slot(f->shm, i);
	int64_t hb, ref;

	if (!w->running || !sl)
		return 0;
	if (shm_load_i32(&sl->state) < SHM_STARTING)
		return 0; /* not attached yet: nothing promised */
	hb = shm_load_i64(&sl->heartbeat_ms);
	ref = hb > w->v.spawned_ms ? hb : w->v.spawned_ms;
	return now - ref > f->cfg->worker_timeout_ms;
}

static void note_ready(struct fleet *f, int i, int64_t now)
{
	struct member *w = &f->w[i];

	w->ready_ms = now;
	w->kills = 0;
	if (w->died_ms)
		log_info("worker %d (pid %d) ready, %" PRId64 " ms after its predecessor died", i,
			 (int)w->v.pid, now - w->died_ms);
	else
		log_info("worker %d (pid %d) ready in %" PRId64 " ms", i, (int)w->v.pid,
			 now - w->v.spawned_ms);
}

static void end_streak(struct fleet *f, int i)
{
	struct member *w = &f->w[i];

	if (w->v.crash_loop)
		log_notice("worker %d (pid %d) recovered: up for %d s", i, (int)w->v.pid,
			   FLEET_STABLE_MS / 1000);
	w->v.streak = 0;
	w->v.crash_loop = 0;
	publish(f, i);
}

static void kill_stale(struct fleet *f, int i, int64_t now)
{
	struct member *w = &f->w[i];
	int64_t hb = shm_load_i64(&shm_slot(f->shm, i)->heartbeat_ms);

	log_event(LOG_ID_WORKER_KILLED, LOG_ERR, NULL,
		  "worker %d (pid %d) heartbeat is %" PRId64 " ms old (worker_timeout_ms %d): "
		  "killing it",
		  i, (int)w->v.pid, now - (hb > w->v.spawned_ms ? hb : w->v.spawned_ms),
		  f->cfg->worker_timeout_ms);
	w->stale_killed = 1;
	worker_signal(f, i, SIGKILL);
}

/* Per tick: note READY, end a crash streak after a stable run, and SIGKILL a
 * worker whose heartbeat is too old (when kill_stale_ok). */
static void worker_check(struct fleet *f, int i, int64_t now, int kill_stale_ok)
{
	struct member *w = &f->w[i];
	struct shm_slot *sl = shm_slot(f->shm, i);

	if (!w->running || !sl)
		return;
	if (!w->ready_ms && shm_load_i32(&sl->state) == SHM_READY)
		note_ready(f, i, now);
	if (w->v.streak && now - w->v.spawned_ms >= FLEET_STABLE_MS)
		end_streak(f, i);
	if (kill_stale_ok && !w->stale_killed && worker_is_stale(f, i, now))
		kill_stale(f, i, now);
}

/* A process killed between its READY and the next tick was ready all the
 * same: its slot still says so until it is retired. */
static void note_ready_at_death(struct fleet *f, int i)
{
	struct shm_slot *sl = shm_slot(f->shm, i);
	int st = sl ? shm_load_i32(&sl->state) : SHM_EMPTY;

	if (!f->w[i].ready_ms && (st == SHM_READY || st == SHM_DRAINING))
		note_ready(f, i, now_ms(f));
}

/* --- the reshard child --- */

static void reshard_start(struct fleet *f)
{
	struct reshard *r = &f->reshard;
	char err[PATH_MAX + 128];

	set_phase(f, FLEET_RESHARDING);
	r->count = f->target;
	r->started_ms = now_ms(f);
	r->present = 1;
	if (f->ops->start(f->ctx, FLEET_RESHARD, r->count, &r->pid, err, sizeof err) < 0) {
		log_error("reshard: %s", err);
		return;
	}
	r->running = 1;
	log_info("reshard for %d workers started (pid %d)", r->count, r->pid);
	f->ops->timer(f->ctx, FLEET_RESHARD, FLEET_RESHARD_TIMEOUT_MS);
}

static void start_workers(struct fleet *f)
{
	f->count = f->reshard.count;
	set_phase(f, FLEET_RUNNING);
	for (int i = 0; i < f->count; i++) {
		/* A new fleet starts with a clean record; restarts are kept. */
		f->w[i].v.streak = 0;
		f->w[i].v.crash_loop = 0;
		f->w[i].died_ms = 0;
		worker_start(f, i);
	}
}

static void reshard_failed(struct fleet *f)
{
	struct reshard *r = &f->reshard;
	char how[96];
	int64_t delay;

	describe_exit(how, sizeof how, r->exit_status, r->term_signal);
	delay = backoff_equal_jitter(r->attempt, FLEET_RESHARD_BASE_MS, f->cfg->respawn_max_ms,
				     &f->rng);
	r->attempt++;
	log_error("reshard for %d workers %s (attempt %d); retrying in %" PRId64 " ms, "
		  "workers start only after it succeeds",
		  r->count, how, r->attempt, delay);
	f->ops->timer(f->ctx, FLEET_RESHARD, delay);
}

static void reshard_done(struct fleet *f)
{
	struct reshard *r = &f->reshard;

	if (r->exit_status != 0 || r->term_signal != 0) {
		reshard_failed(f);
		return;
	}
	log_info("reshard for %d workers done in %" PRId64 " ms", r->count, now_ms(f) - r->started_ms);
	r->attempt = 0;
	if (f->target != r->count) { /* asked for another size meanwhile */
		reshard_start(f);
		return;
	}
	start_workers(f);
}

/* The one timer of the reshard child: its timeout while it runs, the backoff
 * before the next attempt while it does not. */
static void reshard_timer_due(struct fleet *f)
{
	if (!f->reshard.running) {
		if (f->phase == FLEET_RESHARDING)
			reshard_start(f);
		return;
	}
	log_error("reshard child (pid %d) still running after %d s: killing it", f->reshard.pid,
		  FLEET_RESHARD_TIMEOUT_MS / 1000);
	f->ops->kill(f->ctx, FLEET_RESHARD, SIGKILL);
}

/* --- draining --- */

static int children_left(const struct fleet *f)
{
	int n = f->reshard.present;

	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		n += f->w[i].present;
	return n;
}

static void check_drained(struct fleet *f)
{
	int64_t took = now_ms(f) - f->phase_ms;

	if (children_left(f))
		return;
	f->ops->timer(f->ctx, FLEET_DRAIN, -1);
	if (f->phase == FLEET_STOPPING) {
		log_notice("every worker stopped in %" PRId64 " ms; exiting", took);
		f->ops->finished(f->ctx);
		return;
	}
	log_info("resize %d -> %d: old workers drained in %" PRId64 " ms", f->resize_from,
		 f->target, took);
	reshard_start(f);
}

/* Send sig to every child; SIGTERM gives them drain_timeout_ms, SIGKILL a second. */
static void signal_all(struct fleet *f, int sig)
{
	int64_t wait = sig == SIGKILL ? FLEET_FORCE_EXIT_MS : f->cfg->drain_timeout_ms;

	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		cancel_respawn(f, i);
		worker_signal(f, i, sig);
	}
	f->ops->timer(f->ctx, FLEET_RESHARD, -1);
	if (f->reshard.running)
		f->ops->kill(f->ctx, FLEET_RESHARD, sig);
	f->killed = sig == SIGKILL;
	f->ops->timer(f->ctx, FLEET_DRAIN, wait);
	check_drained(f);
}

static void drain_timer_due(struct fleet *f)
{
	int left = children_left(f);

	if (!f->killed) {
		log_warn("%d children still running %d ms after SIGTERM: sending SIGKILL", left,
			 f->cfg->drain_timeout_ms);
		signal_all(f, SIGKILL);
		return;
	}
	if (f->phase == FLEET_STOPPING) {
		log_error("%d children did not exit after SIGKILL; exiting anyway", left);
		f->ops->finished(f->ctx);
		return;
	}
	/* Resizing: starting a new fleet beside an old process that still runs could
	 * run a job twice, so keep waiting (and saying so). */
	log_error("%d children did not exit after SIGKILL; the resize waits for them", left);
	f->ops->timer(f->ctx, FLEET_DRAIN, 10 * FLEET_FORCE_EXIT_MS);
}

/* --- events --- */

static void reshard_gone(struct fleet *f, int64_t status, int sig)
{
	struct reshard *r = &f->reshard;

	r->running = 0;
	r->present = 0;
	r->exit_status = status;
	r->term_signal = sig;
	f->ops->timer(f->ctx, FLEET_RESHARD, -1);
	if (f->phase == FLEET_STOPPING)
		check_drained(f);
	else
		reshard_done(f);
}

void fleet_child_gone(struct fleet *f, int id, int64_t status, int term_signal)
{
	if (id == FLEET_RESHARD) {
		reshard_gone(f, status, term_signal);
		return;
	}
	if (id < 0 || id >= SHM_MAX_WORKERS)
		return;
	if (f->w[id].running) { /* else it never started: nothing ran, nothing to say */
		note_ready_at_death(f, id);
		worker_exited(f, id, status, term_signal);
	}
	f->w[id].present = 0;
	if (f->phase == FLEET_RUNNING && id < f->count)
		schedule_respawn(f, id, term_signal);
	else if (f->phase == FLEET_DRAINING || f->phase == FLEET_STOPPING)
		check_drained(f);
}

void fleet_timer_due(struct fleet *f, int id)
{
	if (id >= 0 && id < SHM_MAX_WORKERS)
		respawn_due(f, id);
	else if (id == FLEET_RESHARD)
		reshard_timer_due(f);
	else if (id == FLEET_DRAIN)
		drain_timer_due(f);
}

/* --- requests --- */

void fleet_start(struct fleet *f, int target)
{
	f->target = target;
	f->count = target;
	reshard_start(f);
}

int fleet_resize(struct fleet *f, int m, const char *why)
{
	m = m < 1 ? 1 : m > SHM_MAX_WORKERS ? SHM_MAX_WORKERS : m;
	if (f->phase == FLEET_STOPPING) {
		log_notice("%s: resize ignored while stopping", why);
		return 0;
	}
	if (m == f->target) {
		log_notice("%s: the fleet already has %d workers (bounds 1..%d)", why, m,
			   SHM_MAX_WORKERS);
		return 0;
	}
	log_notice("%s: resize %d -> %d", why, f->target, m);
	f->target = m;
	if (f->phase != FLEET_RUNNING)
		return 1; /* a drain or reshard under way picks the new target up */
	f->resize_ms = now_ms(f);
	f->resize_from = f->count;
	view_count_resize(f->view);
	set_phase(f, FLEET_DRAINING);
	signal_all(f, SIGTERM);
	return 1;
}

void fleet_stop(struct fleet *f)
{
	if (f->phase == FLEET_STOPPING) {
		log_notice("second stop signal: killing every child now");
		if (!f->killed)
			signal_all(f, SIGKILL);
		return;
	}
	notify_stopping();
	log_notice("stopping: draining %d workers (drain_timeout_ms %d)", children_left(f),
		   f->cfg->drain_timeout_ms);
	set_phase(f, FLEET_STOPPING);
	signal_all(f, SIGTERM);
}

void fleet_signal(struct fleet *f, int sig)
{
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		worker_signal(f, i, sig);
}

int fleet_stale_count(const struct fleet *f, int64_t now)
{
	int n = 0;

	if (f->phase != FLEET_RUNNING)
		return 0;
	for (int i = 0; i < f->count; i++)
		n += worker_is_stale(f, i, now);
	return n;
}

enum fleet_phase fleet_phase(const struct fleet *f)
{
	return f->phase;
}

int fleet_target(const struct fleet *f)
{
	return f->target;
}

int fleet_was_ready(const struct fleet *f)
{
	return f->ready_sent;
}

/* --- per tick --- */

static int ready_count(const struct fleet *f)
{
	int n = 0;

	for (int i = 0; i < f->count; i++) {
		struct shm_slot *sl = shm_slot(f->shm, i);
		n += f->w[i].running && shm_load_i32(&sl->state) == SHM_READY;
	}
	return n;
}

int fleet_settled(const struct fleet *f, int64_t now)
{
	for (int i = 0; i < f->count; i++) {
		const struct member *w = &f->w[i];
		if (w->running && !w->ready_ms && now - w->v.spawned_ms < FLEET_FAST_TICK_FOR_MS)
			return 0;
	}
	return 1;
}

static void on_all_ready(struct fleet *f, int64_t now)
{
	char st[256];

	if (f->resize_ms) {
		log_notice("resize %d -> %d took %" PRId64 " ms", f->resize_from, f->count,
			   now - f->resize_ms);
		f->resize_ms = 0;
	}
	if (f->ready_sent)
		return;
	f->ready_sent = 1;
	log_notice("all %d workers ready in %" PRId64 " ms", f->count, now - f->view->start_ms);
	fleet_status(f, st, sizeof st);
	notify_status(st);
	notify_ready();
}

void fleet_tick(struct fleet *f, int64_t now)
{
	char st[256];

	for (int i = 0; i < f->count; i++)
		worker_check(f, i, now, f->phase == FLEET_RUNNING);
	if (f->phase == FLEET_RUNNING && ready_count(f) == f->count)
		on_all_ready(f, now);
	fleet_status(f, st, sizeof st);
	notify_status(st);
}

static void crash_loop_note(const struct fleet *f, char *buf, size_t n)
{
	int first = -1, more = 0;

	for (int i = 0; i < f->count; i++) {
		if (!f->w[i].v.crash_loop)
			continue;
		if (first < 0)
			first = i;
		else
			more++;
	}
	if (first < 0)
		return;
	snprintf(buf, n, "; CRASH LOOP: worker %d (%d quick exits in a row)%s", first,
		 f->w[first].v.streak, more ? " and others" : "");
}

void fleet_status(const struct fleet *f, char *buf, size_t n)
{
	unsigned long restarts = 0;
	char note[96] = "";

	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		restarts += f->w[i].v.restarts;
	switch (f->phase) {
	case FLEET_RESHARDING:
		snprintf(buf, n, "resharding for %d workers%s", f->reshard.count,
			 f->reshard.attempt ? " (failed, retrying)" : "");
		return;
	case FLEET_DRAINING:
		snprintf(buf, n, "resize %d -> %d: draining, %d children left", f->resize_from,
			 f->target, children_left(f));
		return;
	case FLEET_STOPPING:
		snprintf(buf, n, "stopping: %d children left", children_left(f));
		return;
	case FLEET_RUNNING:
		crash_loop_note(f, note, sizeof note);
		snprintf(buf, n, "%d/%d workers ready, %lu restarts%s", ready_count(f), f->count,
			 restarts, note);
		return;
	}
}
