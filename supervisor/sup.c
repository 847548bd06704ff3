/* sup: see sup.h. Signals arrive as uv_signal_t callbacks on the loop (libuv's
 * handler only writes to a pipe), so everything below runs on one thread and
 * needs no locks except the view's. Reload follows pgbouncer and nginx: load and
 * validate the new file first; if it is bad, say why and keep the old one. */
#include "supervisor/sup.h"

#include "common/backoff.h"
#include "common/log.h"
#include "supervisor/apisup.h"
#include "supervisor/cfgcheck.h"
#include "supervisor/fleet.h"
#include "supervisor/httpd.h"
#include "supervisor/notify.h"
#include "supervisor/spawn.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const int handled_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGTTIN, SIGTTOU };
#define NSIGNALS (sizeof handled_signals / sizeof handled_signals[0])

/* Fast enough to notice a stale heartbeat promptly, slow enough to cost nothing:
 * half a heartbeat, within 50..250 ms. While workers start the tick runs every
 * SUP_FAST_TICK_MS, so READY (and the respawn and resize times logged) are
 * seen within a few ms, not a quarter of a second. */
static uint64_t tick_ms(const struct sup *s)
{
	int t = s->cfg.heartbeat_ms / 2;

	if (s->tick_fast)
		return SUP_FAST_TICK_MS;
	return (uint64_t)(t < 50 ? 50 : t > 250 ? 250 : t);
}

static void on_tick(uv_timer_t *t);

/* Tick every SUP_FAST_TICK_MS (fast) or at the normal pace; a no-op when the
 * pace is already right. Spawning a worker asks for fast; the tick slows itself
 * down once the fleet is settled. */
static void sup_tick_fast(struct sup *s, int fast)
{
	if (s->tick_fast == fast || s->finishing)
		return;
	s->tick_fast = fast;
	uv_timer_start(&s->tick, on_tick, tick_ms(s), tick_ms(s));
}

static int http_start(struct sup *s, const struct cfg *c, struct httpd **out)
{
	char err[256];

	*out = NULL;
	if (!c->http_port)
		return 0;
	if (!(*out = httpd_start(&s->view, c->http_bind, c->http_port, err, sizeof err))) {
		log_error("%s", err);
		return -1;
	}
	log_info("serving /metrics, /status and /health on %s:%d", c->http_bind, c->http_port);
	return 0;
}

/* --- reload --- */

/* A new address: bind the new one first so a failure keeps the old. If the new
 * one conflicts with the old (same port), free the old port and try again. */
static void http_rebind(struct sup *s, struct cfg *nc)
{
	struct httpd *nh;

	if (!strcmp(nc->http_bind, s->cfg.http_bind) && nc->http_port == s->cfg.http_port)
		return;
	if (http_start(s, nc, &nh) == 0) {
		httpd_stop(s->http);
		s->http = nh;
		return;
	}
	httpd_stop(s->http);
	s->http = NULL;
	if (http_start(s, nc, &nh) == 0) {
		s->http = nh;
		return;
	}
	log_error("reload: keeping HTTP on %s:%d", s->cfg.http_bind, s->cfg.http_port);
	snprintf(nc->http_bind, sizeof nc->http_bind, "%s", s->cfg.http_bind);
	nc->http_port = s->cfg.http_port;
	http_start(s, nc, &s->http);
}

/* cfgsnap's hook: what `supervisor -t` refuses, a reload refuses too, before the
 * copy can reach a worker (cfgcheck.h). */
static int check_reload(void *arg, const struct cfg *c, char *err, size_t n)
{
	struct sup *s = arg;

	return cfgcheck_reload(c, s->key_fd >= 0, err, n);
}

static void sup_reload(struct sup *s)
{
	struct cfg nc;
	char err[512], old_listen[sizeof nc.api_listen];
	int resize;

	if (fleet_phase(s->fleet) == FLEET_STOPPING)
		return;
	/* A good file becomes the copy every child reads from now on; a bad one
	 * changes nothing, not even for workers started later (cfgsnap.h). */
	if (cfgsnap_load(&s->snap, &nc, s->config_path, err, sizeof err) < 0) {
		log_event(LOG_ID_RELOAD_REFUSED, LOG_ERR, NULL,
			  "reload failed, keeping the running configuration: %s", err);
		view_count_reload_refused(&s->view);
		return;
	}
	/* Before the first READY=1 systemd is still waiting for the start to end:
	 * a READY=1 here would end it early, so that one READY=1 covers the reload. */
	if (fleet_was_ready(s->fleet))
		notify_reloading();
	/* --workers on the command line wins over the file for the whole run; an
	 * unchanged `workers` keeps a size set by SIGTTIN/SIGTTOU. */
	resize = !s->flag_workers && nc.workers != s->cfg.workers;
	http_rebind(s, &nc);
	snprintf(old_listen, sizeof old_listen, "%s", s->cfg.api_enabled ? s->cfg.api_listen : "");
	s->cfg = nc;
	log_init("supervisor", s->cfg.log_format, s->cfg.log_level);
	view_set_config(&s->view, &s->cfg);
	view_count_reload(&s->view);
	uv_timer_start(&s->tick, on_tick, tick_ms(s), tick_ms(s));
	log_event(LOG_ID_RELOADED, LOG_NOTICE, NULL, "configuration reloaded from %s",
		  s->config_path ? s->config_path : "defaults");
	/* Workers reload in place; a resize instead replaces them, and the new
	 * ones read the new file as they start. */
	if (!resize || !fleet_resize(s->fleet, nc.workers, "reload"))
		fleet_signal(s->fleet, SIGHUP);
	apisup_reload(s->api, old_listen);
	if (fleet_was_ready(s->fleet))
		notify_ready();
}

/* --- loop callbacks --- */

static void sup_finish(struct sup *s);

/* The supervisor ends when both the fleet and the API are gone. */
static void on_api_stopped(void *arg)
{
	struct sup *s = arg;

	if (s->fleet_done)
		sup_finish(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct sup *s = h->data;

	log_info("received %s", strsignal(signum));
	switch (signum) {
	case SIGTERM:
	case SIGINT:
		fleet_stop(s->fleet);
		apisup_stop(s->api, on_api_stopped, s);
		break;
	case SIGHUP: sup_reload(s); break;
	case SIGTTIN: fleet_resize(s->fleet, fleet_target(s->fleet) + 1, "SIGTTIN"); break;
	case SIGTTOU: fleet_resize(s->fleet, fleet_target(s->fleet) - 1, "SIGTTOU"); break;
	}
}

static void on_tick(uv_timer_t *t)
{
	struct sup *s = t->data;
	int64_t now = shm_now_ms();

	view_stamp_live(&s->view, now);
	fleet_tick(s->fleet, now);
	apisup_tick(s->api, now);
	sup_tick_fast(s, !fleet_settled(s->fleet, now));
}

static void on_watchdog(uv_timer_t *t)
{
	struct sup *s = t->data;
	int stale = fleet_stale_count(s->fleet, shm_now_ms());

	/* A worker that stays stale after its SIGKILL is one we cannot fix: let
	 * systemd's watchdog restart the whole service. */
	if (stale) {
		log_warn("watchdog ping withheld: %d workers have a stale heartbeat", stale);
		return;
	}
	notify_watchdog();
}

/* --- the fleet's hands: processes, timers, the clock (fleet.h) --- */

static int64_t op_now(void *ctx)
{
	(void)ctx;
	return shm_now_ms();
}

static int op_start(void *ctx, int id, int count, int *pid, char *err, size_t n)
{
	struct sup *s = ctx;
	struct spawn_cmd c = { s->worker_bin, cfgsnap_arg(&s->snap), shm_fd(s->shm), s->key_fd };

	if (id == FLEET_RESHARD)
		return spawn_reshard(s->child[id], &c, count, pid, err, n);
	if (spawn_worker(s->child[id], &c, id, count, pid, err, n) < 0)
		return -1;
	sup_tick_fast(s, 1); /* see its READY within a few ms */
	return 0;
}

static int op_kill(void *ctx, int id, int sig)
{
	struct sup *s = ctx;

	return spawn_kill(s->child[id], sig);
}

static void on_fleet_timer(uv_timer_t *t)
{
	struct sup *s = t->data;

	fleet_timer_due(s->fleet, (int)(t - s->timer));
}

static void op_timer(void *ctx, int id, int64_t delay_ms)
{
	struct sup *s = ctx;

	if (delay_ms < 0)
		uv_timer_stop(&s->timer[id]);
	else
		uv_timer_start(&s->timer[id], on_fleet_timer, (uint64_t)delay_ms, 0);
}

static void op_finished(void *ctx)
{
	struct sup *s = ctx;

	s->fleet_done = 1;
	if (!apisup_running(s->api))
		sup_finish(s);
}

static const struct fleet_ops fleet_ops = {
	.now = op_now,
	.start = op_start,
	.kill = op_kill,
	.timer = op_timer,
	.finished = op_finished,
};

/* spawn.c: child id's process handle is closed (it exited, or never started). */
static void on_child_gone(void *arg, int id, int64_t status, int term_signal)
{
	struct sup *s = arg;

	if (!s->finishing)
		fleet_child_gone(s->fleet, id, status, term_signal);
}

/* --- life cycle --- */

static int start_signals(struct sup *s)
{
	signal(SIGPIPE, SIG_IGN); /* a scraper hanging up must not kill us */
	for (size_t i = 0; i < NSIGNALS; i++) {
		uv_signal_init(&s->loop, &s->sig[i]);
		s->sig[i].data = s;
		if (uv_signal_start(&s->sig[i], on_signal, handled_signals[i]) < 0) {
			log_error("cannot watch %s", strsignal(handled_signals[i]));
			return -1;
		}
	}
	return 0;
}

static void start_timers(struct sup *s)
{
	int64_t wd = notify_watchdog_ms();

	uv_timer_init(&s->loop, &s->tick);
	s->tick.data = s;
	uv_timer_start(&s->tick, on_tick, tick_ms(s), tick_ms(s));
	uv_timer_init(&s->loop, &s->watchdog);
	s->watchdog.data = s;
	if (wd > 0) {
		/* Half the interval, as sd_watchdog_enabled(3) recommends. */
		uv_timer_start(&s->watchdog, on_watchdog, (uint64_t)wd / 2, (uint64_t)wd / 2);
		log_info("systemd watchdog every %lld ms", (long long)wd / 2);
	}
}

/* POST /api/v1/fleet/resize: the same path as SIGTTIN/SIGTTOU, so the same
 * drain, reshard and respawn keep every job once. */
static void on_api_resize(void *arg, int n)
{
	struct sup *s = arg;

	if (fleet_phase(s->fleet) != FLEET_STOPPING)
		fleet_resize(s->fleet, n, "api");
}

/* The fleet, a spawn record per child id and a timer per timer id. */
static int start_fleet_parts(struct sup *s)
{
	if (!(s->fleet = fleet_new(&fleet_ops, s, &s->cfg, &s->view, backoff_seed())))
		return -1;
	for (int id = 0; id <= FLEET_RESHARD; id++)
		if (!(s->child[id] = spawn_new(&s->loop, id, on_child_gone, s)))
			return -1;
	for (int id = 0; id < FLEET_NIDS; id++) {
		uv_timer_init(&s->loop, &s->timer[id]);
		s->timer[id].data = s;
	}
	if (!(s->api = apisup_new(&s->loop, &s->cfg, &s->view, &s->snap, shm_fd(s->shm), s->key_fd,
				  backoff_seed(), on_api_resize, s)))
		return -1;
	return 0;
}

int sup_init(struct sup *s)
{
	int target = s->flag_workers ? s->flag_workers : s->cfg.workers;
	char err[512];

	if (spawn_find_worker(s->worker_bin, sizeof s->worker_bin, err, sizeof err) < 0) {
		log_error("%s", err);
		return -1;
	}
	/* Every possible slot now: a resize never has to replace the segment. */
	if (!(s->shm = shm_create(SHM_NSLOTS, err, sizeof err))) {
		log_error("%s", err);
		return -1;
	}
	if (uv_loop_init(&s->loop) < 0) {
		log_error("cannot set up the event loop");
		return -1;
	}
	s->loop_ok = 1;
	if (view_init(&s->view, s->shm) < 0) {
		log_error("cannot set up the status view");
		return -1;
	}
	s->view_ok = 1;
	view_set_config(&s->view, &s->cfg);
	cfgsnap_set_check(&s->snap, check_reload, s);
	if (start_fleet_parts(s) < 0) {
		log_error("out of memory");
		return -1;
	}
	if (start_signals(s) < 0 || http_start(s, &s->cfg, &s->http) < 0)
		return -1;
	start_timers(s);
	log_notice("starting %d workers (%s)", target, s->worker_bin);
	fleet_start(s->fleet, target);
	apisup_start(s->api);
	return 0;
}

int sup_run(struct sup *s)
{
	uv_run(&s->loop, UV_RUN_DEFAULT);
	return 0;
}

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Close every handle so the loop returns; called once the fleet is gone. */
static void sup_finish(struct sup *s)
{
	if (s->finishing)
		return;
	s->finishing = 1;
	/* The HTTP thread first: it reads the view, which outlives the loop anyway. */
	httpd_stop(s->http);
	s->http = NULL;
	uv_walk(&s->loop, close_handle, NULL);
}

void sup_free(struct sup *s)
{
	if (!s)
		return;
	s->finishing = 1; /* a child closed below is no news for the fleet */
	httpd_stop(s->http);
	s->http = NULL;
	if (s->loop_ok) {
		/* After a clean run nothing is left; after a failed sup_init this closes
		 * what it opened, so the loop closes clean either way. */
		uv_walk(&s->loop, close_handle, NULL);
		uv_run(&s->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&s->loop) != 0)
			log_warn("event loop closed with handles still open");
	}
	/* The loop holds none of their handles any more. */
	for (int id = 0; id <= FLEET_RESHARD; id++)
		spawn_free(s->child[id]);
	fleet_free(s->fleet);
	s->fleet = NULL;
	apisup_free(s->api);
	s->api = NULL;
	if (s->view_ok)
		view_destroy(&s->view);
	shm_free(s->shm);
	s->shm = NULL;
	cfgsnap_free(&s->snap);
}
