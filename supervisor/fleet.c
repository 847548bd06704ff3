/* fleet: see fleet.h. Everything here runs on the loop thread. The reshard child
 * is a short-lived `worker --reshard M`: the supervisor itself never talks to
 * Redis, so a slow Redis can delay a resize but cannot wedge the supervisor. */
#include "supervisor/fleet.h"

#include "common/backoff.h"
#include "common/log.h"
#include "supervisor/notify.h"
#include "supervisor/spawn.h"
#include "supervisor/sup.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char *const phase_names[] = { "resharding", "running", "draining", "stopping" };

static void set_phase(struct sup *s, enum sup_phase p)
{
	s->phase = p;
	s->phase_ms = shm_now_ms();
	view_set_fleet(&s->view, s->count, phase_names[p]);
}

/* --- the reshard child --- */

static void reshard_start(struct sup *s);

static void on_reshard_retry(uv_timer_t *t)
{
	struct sup *s = t->data;

	if (s->phase == PHASE_RESHARD)
		reshard_start(s);
}

static void start_workers(struct sup *s)
{
	s->count = s->reshard.count;
	set_phase(s, PHASE_RUNNING);
	for (int i = 0; i < s->count; i++) {
		/* A new fleet starts with a clean record; restarts are kept. */
		s->w[i].v.streak = 0;
		s->w[i].v.crash_loop = 0;
		s->w[i].died_ms = 0;
		worker_start(&s->w[i]);
	}
}

static void reshard_failed(struct sup *s)
{
	struct reshard *r = &s->reshard;
	char how[96];
	int64_t delay;

	spawn_describe_exit(how, sizeof how, r->exit_status, r->term_signal);
	delay = backoff_equal_jitter(r->attempt, SUP_RESHARD_BASE_MS, s->cfg.respawn_max_ms,
				     &s->rng);
	r->attempt++;
	log_error("reshard for %d workers %s (attempt %d); retrying in %" PRId64 " ms, "
		  "workers start only after it succeeds", r->count, how, r->attempt, delay);
	uv_timer_start(&r->timer, on_reshard_retry, (uint64_t)delay, 0);
}

static void reshard_done(struct sup *s)
{
	struct reshard *r = &s->reshard;

	if (r->exit_status != 0 || r->term_signal != 0) {
		reshard_failed(s);
		return;
	}
	log_info("reshard for %d workers done in %" PRId64 " ms", r->count,
		 shm_now_ms() - r->started_ms);
	r->attempt = 0;
	if (s->target != r->count) { /* asked for another size meanwhile */
		reshard_start(s);
		return;
	}
	start_workers(s);
}

static void check_drained(struct sup *s);

static void on_reshard_closed(uv_handle_t *h)
{
	struct sup *s = h->data;

	s->reshard.has_proc = 0;
	if (s->finishing)
		return;
	if (s->phase == PHASE_STOPPING)
		check_drained(s);
	else
		reshard_done(s);
}

static void on_reshard_exit(uv_process_t *p, int64_t status, int sig)
{
	struct sup *s = p->data;

	s->reshard.running = 0;
	s->reshard.exit_status = status;
	s->reshard.term_signal = sig;
	uv_timer_stop(&s->reshard.timer);
	uv_close((uv_handle_t *)p, on_reshard_closed);
}

static void on_reshard_timeout(uv_timer_t *t)
{
	struct sup *s = t->data;

	log_error("reshard child (pid %d) still running after %d s: killing it",
		  s->reshard.proc.pid, SUP_RESHARD_TIMEOUT_MS / 1000);
	uv_process_kill(&s->reshard.proc, SIGKILL);
}

static void reshard_start(struct sup *s)
{
	struct reshard *r = &s->reshard;
	char cnt[16], *argv[6] = { s->worker_bin, "--reshard", cnt, NULL, NULL, NULL };
	int rc;

	set_phase(s, PHASE_RESHARD);
	r->count = s->target;
	snprintf(cnt, sizeof cnt, "%d", r->count);
	if (cfgsnap_arg(&s->snap)) {
		argv[3] = "--config";
		argv[4] = (char *)cfgsnap_arg(&s->snap);
	}
	r->proc.data = s;
	r->started_ms = shm_now_ms();
	rc = spawn_child(s, &r->proc, argv, 0, on_reshard_exit);
	r->has_proc = 1;
	if (rc < 0) {
		log_error("reshard: cannot spawn %s: %s", s->worker_bin, uv_strerror(rc));
		r->exit_status = -1;
		r->term_signal = 0;
		uv_close((uv_handle_t *)&r->proc, on_reshard_closed);
		return;
	}
	r->running = 1;
	log_info("reshard for %d workers started (pid %d)", r->count, r->proc.pid);
	uv_timer_start(&r->timer, on_reshard_timeout, SUP_RESHARD_TIMEOUT_MS, 0);
}

/* --- draining --- */

static int children_left(struct sup *s)
{
	int n = s->reshard.has_proc;

	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		n += s->w[i].has_proc;
	return n;
}

static void on_drain_timeout(uv_timer_t *t);

/* Send sig to every child; SIGTERM gives them drain_timeout_ms, SIGKILL a second. */
static void signal_all(struct sup *s, int sig)
{
	uint64_t wait = sig == SIGKILL ? SUP_FORCE_EXIT_MS : (uint64_t)s->cfg.drain_timeout_ms;

	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		worker_cancel_respawn(&s->w[i]);
		worker_signal(&s->w[i], sig);
	}
	uv_timer_stop(&s->reshard.timer);
	if (s->reshard.running)
		uv_process_kill(&s->reshard.proc, sig);
	s->killed = sig == SIGKILL;
	uv_timer_start(&s->drain, on_drain_timeout, wait, 0);
	check_drained(s);
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct sup *s = t->data;
	int left = children_left(s);

	if (!s->killed) {
		log_warn("%d children still running %d ms after SIGTERM: sending SIGKILL", left,
			 s->cfg.drain_timeout_ms);
		signal_all(s, SIGKILL);
		return;
	}
	if (s->phase == PHASE_STOPPING) {
		log_error("%d children did not exit after SIGKILL; exiting anyway", left);
		sup_finish(s);
		return;
	}
	/* Resizing: starting a new fleet beside an old process that still runs could
	 * run a job twice, so keep waiting (and saying so). */
	log_error("%d children did not exit after SIGKILL; the resize waits for them", left);
	uv_timer_start(&s->drain, on_drain_timeout, 10 * SUP_FORCE_EXIT_MS, 0);
}

static void check_drained(struct sup *s)
{
	int64_t took = shm_now_ms() - s->phase_ms;

	if (children_left(s))
		return;
	uv_timer_stop(&s->drain);
	if (s->phase == PHASE_STOPPING) {
		log_notice("every worker stopped in %" PRId64 " ms; exiting", took);
		sup_finish(s);
		return;
	}
	log_info("resize %d -> %d: old workers drained in %" PRId64 " ms", s->resize_from,
		 s->target, took);
	reshard_start(s);
}

void fleet_worker_gone(struct sup *s, struct worker *w)
{
	if (s->finishing)
		return;
	if (s->phase == PHASE_RUNNING && w->index < s->count)
		worker_schedule_respawn(w);
	else if (s->phase == PHASE_DRAINING || s->phase == PHASE_STOPPING)
		check_drained(s);
}

/* --- requests --- */

void fleet_start(struct sup *s)
{
	uv_timer_init(&s->loop, &s->reshard.timer);
	s->reshard.timer.data = s;
	uv_timer_init(&s->loop, &s->drain);
	s->drain.data = s;
	s->count = s->target;
	log_notice("starting %d workers (%s)", s->target, s->worker_bin);
	reshard_start(s);
}

int fleet_resize(struct sup *s, int m, const char *why)
{
	m = m < 1 ? 1 : m > SHM_MAX_WORKERS ? SHM_MAX_WORKERS : m;
	if (s->phase == PHASE_STOPPING) {
		log_notice("%s: resize ignored while stopping", why);
		return 0;
	}
	if (m == s->target) {
		log_notice("%s: the fleet already has %d workers (bounds 1..%d)", why, m,
			   SHM_MAX_WORKERS);
		return 0;
	}
	log_notice("%s: resize %d -> %d", why, s->target, m);
	s->target = m;
	if (s->phase != PHASE_RUNNING)
		return 1; /* a drain or reshard under way picks the new target up */
	s->resize_ms = shm_now_ms();
	s->resize_from = s->count;
	view_count_resize(&s->view);
	set_phase(s, PHASE_DRAINING);
	signal_all(s, SIGTERM);
	return 1;
}

void fleet_stop(struct sup *s)
{
	if (s->phase == PHASE_STOPPING) {
		log_notice("second stop signal: killing every child now");
		if (!s->killed)
			signal_all(s, SIGKILL);
		return;
	}
	notify_stopping();
	log_notice("stopping: draining %d workers (drain_timeout_ms %d)", children_left(s),
		   s->cfg.drain_timeout_ms);
	set_phase(s, PHASE_STOPPING);
	signal_all(s, SIGTERM);
}

void fleet_signal(struct sup *s, int sig)
{
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		worker_signal(&s->w[i], sig);
}

int fleet_stale_count(struct sup *s, int64_t now)
{
	int n = 0;

	/* A drain has its own deadline (drain_timeout_ms, then SIGKILL). */
	if (s->phase != PHASE_RUNNING)
		return 0;
	for (int i = 0; i < s->count; i++)
		n += worker_is_stale(&s->w[i], now);
	return n;
}

/* --- per tick --- */

static int ready_count(struct sup *s)
{
	int n = 0;

	for (int i = 0; i < s->count; i++) {
		struct shm_slot *sl = shm_slot(s->shm, i);
		n += s->w[i].running && shm_load_i32(&sl->state) == SHM_READY;
	}
	return n;
}

int fleet_settled(struct sup *s, int64_t now)
{
	for (int i = 0; i < s->count; i++) {
		struct worker *w = &s->w[i];
		if (w->running && !w->ready_ms && now - w->v.spawned_ms < SUP_FAST_TICK_FOR_MS)
			return 0;
	}
	return 1;
}

static void on_all_ready(struct sup *s, int64_t now)
{
	char st[256];

	if (s->resize_ms) {
		log_notice("resize %d -> %d took %" PRId64 " ms", s->resize_from, s->count,
			   now - s->resize_ms);
		s->resize_ms = 0;
	}
	if (s->ready_sent)
		return;
	s->ready_sent = 1;
	log_notice("all %d workers ready in %" PRId64 " ms", s->count,
		   now - s->view.start_ms);
	fleet_status(s, st, sizeof st);
	notify_status(st);
	notify_ready();
}

void fleet_tick(struct sup *s, int64_t now)
{
	char st[256];

	for (int i = 0; i < s->count; i++)
		worker_check(&s->w[i], now, s->phase == PHASE_RUNNING);
	if (s->phase == PHASE_RUNNING && ready_count(s) == s->count)
		on_all_ready(s, now);
	fleet_status(s, st, sizeof st);
	notify_status(st);
}

static void crash_loop_note(struct sup *s, char *buf, size_t n)
{
	int first = -1, more = 0;

	for (int i = 0; i < s->count; i++) {
		if (!s->w[i].v.crash_loop)
			continue;
		if (first < 0)
			first = i;
		else
			more++;
	}
	if (first < 0)
		return;
	snprintf(buf, n, "; CRASH LOOP: worker %d (%d quick exits in a row)%s", first,
		 s->w[first].v.streak, more ? " and others" : "");
}

void fleet_status(struct sup *s, char *buf, size_t n)
{
	unsigned long restarts = 0;
	char note[96] = "";

	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		restarts += s->w[i].v.restarts;
	switch (s->phase) {
	case PHASE_RESHARD:
		snprintf(buf, n, "resharding for %d workers%s", s->reshard.count,
			 s->reshard.attempt ? " (failed, retrying)" : "");
		return;
	case PHASE_DRAINING:
		snprintf(buf, n, "resize %d -> %d: draining, %d children left", s->resize_from,
			 s->target, children_left(s));
		return;
	case PHASE_STOPPING:
		snprintf(buf, n, "stopping: %d children left", children_left(s));
		return;
	case PHASE_RUNNING:
		crash_loop_note(s, note, sizeof note);
		snprintf(buf, n, "%d/%d workers ready, %lu restarts%s", ready_count(s), s->count,
			 restarts, note);
		return;
	}
}
