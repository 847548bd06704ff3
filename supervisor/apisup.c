/* apisup: see apisup.h. A deliberately small copy of what fleet.c does for one
 * worker: one spawn record, one timer (the backoff before a respawn, or the
 * drain deadline), the view entry at SHM_API_SLOT. */
#include "supervisor/apisup.h"

#include "common/backoff.h"
#include "common/log.h"
#include "common/shm.h"
#include "supervisor/spawn.h"

#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APISUP_BASE_MS 100
#define APISUP_STABLE_MS 10000 /* up this long: its crash streak is over */

struct apisup {
	uv_loop_t *loop;
	const struct cfg *cfg;
	struct view *view;
	const struct cfgsnap *snap;
	int shm_fd;
	int key_fd; /* the token key's memfd (sup.h), or -1 */
	uint64_t rng;
	struct spawn *sp;
	uv_timer_t timer;
	int present;      /* spawned, its death not reported yet */
	int stopping;     /* apisup_stop: never respawn */
	int restart;      /* respawn at once when it is gone (a new address) */
	int stale_killed; /* SIGKILL sent for a stale heartbeat */
	int killed;       /* the drain deadline sent SIGKILL */
	int streak;       /* quick deaths in a row */
	int64_t spawned_ms;
	struct view_worker v;
	void (*done)(void *);
	void *done_arg;
	apisup_resize_cb resize;
	void *resize_arg;
	uint64_t ask_seen; /* the last resize request acted on (its ask_seq) */
};

static void publish(struct apisup *a)
{
	view_set_worker(a->view, SHM_API_SLOT, &a->v);
}

static void on_gone(void *arg, int id, int64_t status, int term_signal);
static void on_timer(uv_timer_t *t);

struct apisup *apisup_new(uv_loop_t *loop, const struct cfg *cfg, struct view *view,
			  const struct cfgsnap *snap, int shm_fd, int key_fd, uint64_t seed,
			  apisup_resize_cb resize, void *arg)
{
	struct apisup *a = calloc(1, sizeof *a);

	if (!a)
		return NULL;
	a->loop = loop;
	a->cfg = cfg;
	a->view = view;
	a->snap = snap;
	a->shm_fd = shm_fd;
	a->key_fd = key_fd;
	a->rng = seed;
	a->resize = resize;
	a->resize_arg = arg;
	if (!(a->sp = spawn_new(loop, SHM_API_SLOT, on_gone, a))) {
		free(a);
		return NULL;
	}
	uv_timer_init(loop, &a->timer);
	a->timer.data = a;
	return a;
}

void apisup_free(struct apisup *a)
{
	if (!a)
		return;
	spawn_free(a->sp);
	free(a);
}

int apisup_running(const struct apisup *a)
{
	return a && a->present;
}

static void spawn_now(struct apisup *a)
{
	char bin[PATH_MAX], err[PATH_MAX + 128];
	struct spawn_cmd c;
	int pid = 0;

	if (a->present || a->stopping || !a->cfg->api_enabled)
		return;
	view_retire_slot(a->view, SHM_API_SLOT); /* zeroes ask_seq too */
	a->ask_seen = 0;
	a->stale_killed = a->killed = 0;
	a->spawned_ms = a->v.spawned_ms = shm_now_ms();
	a->v.respawning = 0;
	if (spawn_find_bin("piyasa-api", "PIYASA_API_BIN", bin, sizeof bin, err, sizeof err) < 0) {
		/* Not installed: say so and try again later, the workers go on. */
		log_error("api: %s", err);
		uv_timer_start(&a->timer, on_timer,
			       (uint64_t)backoff_equal_jitter(a->streak++, APISUP_BASE_MS,
							      a->cfg->respawn_max_ms, &a->rng),
			       0);
		return;
	}
	c = (struct spawn_cmd){ bin, cfgsnap_arg(a->snap), a->shm_fd, a->key_fd };
	a->present = 1;
	if (spawn_api(a->sp, &c, &pid, err, sizeof err) < 0) {
		log_error("api: %s", err);
		a->v.pid = 0;
		publish(a);
		return; /* on_gone follows */
	}
	a->v.pid = pid;
	log_info("api started (pid %d) on %s", pid, a->cfg->api_listen);
	publish(a);
}

static void on_timer(uv_timer_t *t)
{
	struct apisup *a = t->data;

	if (a->present) { /* the drain deadline */
		log_warn("api (pid %d) did not stop within %d ms: SIGKILL", (int)a->v.pid,
			 a->cfg->drain_timeout_ms);
		a->killed = 1;
		spawn_kill(a->sp, SIGKILL);
		return;
	}
	spawn_now(a);
}

static void on_gone(void *arg, int id, int64_t status, int term_signal)
{
	struct apisup *a = arg;
	int64_t now = shm_now_ms(), delay;

	(void)id;
	a->present = 0;
	a->v.pid = 0;
	uv_timer_stop(&a->timer);
	if (a->stopping) {
		log_info("api stopped");
		publish(a);
		if (a->done)
			a->done(a->done_arg);
		a->done = NULL;
		return;
	}
	if (a->restart || !a->cfg->api_enabled) {
		a->restart = 0;
		publish(a);
		spawn_now(a);
		return;
	}
	if (now - a->spawned_ms >= APISUP_STABLE_MS)
		a->streak = 0;
	delay = backoff_equal_jitter(a->streak, APISUP_BASE_MS, a->cfg->respawn_max_ms, &a->rng);
	a->streak++;
	a->v.restarts++;
	a->v.respawning = 1;
	a->v.streak = a->streak;
	publish(a);
	if (term_signal)
		log_error("api died by signal %d (%s)%s; respawn in %" PRId64 " ms", term_signal,
			  strsignal(term_signal),
			  a->stale_killed ? " (its heartbeat had stopped)" : "", delay);
	else
		log_error("api exited with status %" PRId64 "; respawn in %" PRId64 " ms", status,
			  delay);
	uv_timer_start(&a->timer, on_timer, (uint64_t)delay, 0);
}

void apisup_start(struct apisup *a)
{
	spawn_now(a);
}

void apisup_reload(struct apisup *a, const char *old_listen)
{
	if (a->stopping)
		return;
	if (!a->cfg->api_enabled) {
		if (a->present) {
			log_notice("api: [api] is gone from the configuration: stopping it");
			spawn_kill(a->sp, SIGTERM);
		}
		uv_timer_stop(&a->timer);
		return;
	}
	if (!a->present) {
		uv_timer_stop(&a->timer);
		spawn_now(a);
		return;
	}
	/* A new address needs a new listening socket: restart it at once. */
	if (strcmp(old_listen, a->cfg->api_listen)) {
		log_notice("api: listen %s -> %s: restarting it", old_listen, a->cfg->api_listen);
		a->restart = 1;
		spawn_kill(a->sp, SIGTERM);
		return;
	}
	spawn_kill(a->sp, SIGHUP);
}

void apisup_tick(struct apisup *a, int64_t now)
{
	struct shm_slot *sl;
	uint64_t seq;
	int64_t ref;
	int n;

	if (!a->present || a->stale_killed || !a->v.pid || a->stopping)
		return;
	sl = shm_slot(a->view->shm, SHM_API_SLOT);
	if (!sl)
		return;
	if ((seq = shm_asked_workers(sl, &n)) != a->ask_seen) {
		a->ask_seen = seq;
		log_notice("api asks for %d workers", n);
		a->resize(a->resize_arg, n);
	}
	/* The same rule as a worker's: silent past worker_timeout_ms is hung. */
	ref = shm_load_i64(&sl->heartbeat_ms);
	if (ref < a->spawned_ms)
		ref = a->spawned_ms;
	if (now - ref <= a->cfg->worker_timeout_ms)
		return;
	log_error("api (pid %d) heartbeat is %" PRId64 " ms old (worker_timeout_ms %d): SIGKILL",
		  (int)a->v.pid, now - ref, a->cfg->worker_timeout_ms);
	a->stale_killed = 1;
	spawn_kill(a->sp, SIGKILL);
}

void apisup_stop(struct apisup *a, void (*done)(void *), void *arg)
{
	if (a->stopping && a->present) { /* a second TERM: now */
		spawn_kill(a->sp, SIGKILL);
		return;
	}
	a->stopping = 1;
	uv_timer_stop(&a->timer);
	if (!a->present) {
		done(arg);
		return;
	}
	a->done = done;
	a->done_arg = arg;
	spawn_kill(a->sp, SIGTERM);
	uv_timer_start(&a->timer, on_timer, (uint64_t)a->cfg->drain_timeout_ms, 0);
}
