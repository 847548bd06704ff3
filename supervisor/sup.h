/* sup: the supervisor's state and its event loop.
 *
 * One libuv loop runs everything: signals (uv_signal_t, so handlers do no work),
 * the tick timer that reads the workers' heartbeats from shared memory, the
 * systemd watchdog timer, and the worker processes (uv_spawn; their exits arrive
 * as exit callbacks). The HTTP server runs in libmicrohttpd's own thread and sees
 * only the view (view.h). sup owns and wires the parts: the fleet (fleet.h)
 * decides what runs, and sup carries its orders out with spawn.h's records and
 * libuv timers, feeding deaths and expiries back to it. Nothing below sup calls
 * back up into it except through those wired callbacks. */
#ifndef PIYASA_SUP_H
#define PIYASA_SUP_H

#include "common/cfg.h"
#include "common/shm.h"
#include "supervisor/cfgsnap.h"
#include "supervisor/fleet.h"
#include "supervisor/view.h"

#include <limits.h>
#include <stdint.h>
#include <uv.h>

#define SUP_FAST_TICK_MS 10 /* the tick while workers start (fleet_settled says 0) */

struct spawn;

struct sup {
	uv_loop_t loop;
	struct cfg cfg;
	const char *config_path; /* NULL: defaults and environment only */
	struct cfgsnap snap;     /* the copy of it children read (cfgsnap.h) */
	int flag_workers;        /* --workers; 0 = from the config */
	int key_fd;              /* PIYASA_TOKEN_KEY's memfd for the workers, or -1 */
	char worker_bin[PATH_MAX];
	struct shm *shm;
	struct view view;
	struct httpd *http;
	struct fleet *fleet;                    /* decides; the handles below carry it out */
	struct apisup *api;                     /* piyasa-api, when [api] is configured */
	int fleet_done;                         /* the fleet's stop ended */
	struct spawn *child[FLEET_RESHARD + 1]; /* workers by index, then the reshard child */
	uv_timer_t timer[FLEET_NIDS];           /* the fleet's timers, by id (fleet.h) */
	uv_signal_t sig[6];
	uv_timer_t tick, watchdog;
	int loop_ok, view_ok; /* what sup_free must undo */
	int tick_fast;        /* the tick runs at SUP_FAST_TICK_MS */
	int finishing;        /* handles are being closed; the loop ends next */
};

/* Build the supervisor: config already loaded into s->cfg by the caller, shm,
 * loop, signals, timers, HTTP. 0, or -1 after logging why (exit 1 then). */
int sup_init(struct sup *s);
/* Run until a SIGTERM/SIGINT drain ends; returns the process exit code. */
int sup_run(struct sup *s);
void sup_free(struct sup *s);

#endif
