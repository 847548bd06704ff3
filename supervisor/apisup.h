/* apisup: the admin API's process (piyasa-api), supervised beside the fleet.
 *
 * One child, started when the configuration has an [api] section: spawned
 * with the sealed config (cfgsnap) and the shared segment, its heartbeat read
 * from slot SHM_API_SLOT, SIGKILLed when the heartbeat goes stale, respawned
 * after a death with equal-jitter backoff (100 ms doubling, capped at
 * respawn_max_ms), SIGHUP on reload, SIGTERM then SIGKILL after
 * drain_timeout_ms on stop. It is apart from the fleet on purpose: the API is
 * no worker (it owns no bots and takes no jobs), its deaths never touch a
 * resize, and a dead or slow API never delays a worker. */
#ifndef PIYASA_APISUP_H
#define PIYASA_APISUP_H

#include "common/cfg.h"
#include "supervisor/cfgsnap.h"
#include "supervisor/view.h"

#include <uv.h>

struct apisup;

/* The API asked for n workers (POST /api/v1/fleet/resize, through its slot:
 * shm_ask_workers). Called from apisup_tick, once per request. */
typedef void (*apisup_resize_cb)(void *arg, int n);

/* cfg, view and snap belong to the owner and outlive the record; cfg is read
 * at each decision (it changes on reload). NULL when out of memory. */
struct apisup *apisup_new(uv_loop_t *loop, const struct cfg *cfg, struct view *view,
			  const struct cfgsnap *snap, int shm_fd, int key_fd, uint64_t seed,
			  apisup_resize_cb resize, void *arg);
/* After the loop closed its handles. NULL is safe. */
void apisup_free(struct apisup *a);

/* Start it when the config enables it (first start). */
void apisup_start(struct apisup *a);
/* The config was reloaded; old_listen is the address before. Starts, stops,
 * signals SIGHUP, or restarts it when the address changed. */
void apisup_reload(struct apisup *a, const char *old_listen);
/* Per tick: a resize asked for is passed on; a stale heartbeat is killed
 * (then respawned). */
void apisup_tick(struct apisup *a, int64_t now);
/* Stop for good: SIGTERM, SIGKILL after drain_timeout_ms; done(arg) once it is
 * gone (at once when none runs). */
void apisup_stop(struct apisup *a, void (*done)(void *), void *arg);
/* 1 while a process runs. */
int apisup_running(const struct apisup *a);

#endif
