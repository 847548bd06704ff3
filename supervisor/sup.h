/* sup: the supervisor's state and its event loop.
 *
 * One libuv loop runs everything: signals (uv_signal_t, so handlers do no work),
 * the tick timer that reads the workers' heartbeats from shared memory, the
 * systemd watchdog timer, and the worker processes (uv_spawn; their exits arrive
 * as exit callbacks). The HTTP server runs in libmicrohttpd's own thread and sees
 * only the view (view.h). The structs are internal to the supervisor binary and
 * shared by its modules: sup.c (loop, signals, reload), fleet.c (phases: reshard,
 * run, drain, stop), spawn.c (one worker process and its respawn). */
#ifndef PIYASA_SUP_H
#define PIYASA_SUP_H

#include <limits.h>
#include <stdint.h>
#include <uv.h>

#include "common/cfg.h"
#include "supervisor/cfgsnap.h"
#include "common/shm.h"
#include "supervisor/view.h"

#define SUP_STABLE_MS 10000         /* up this long: its crash streak is over */
#define SUP_CRASH_LOOP 5            /* quick exits in a row that make a crash loop */
#define SUP_RESPAWN_BASE_MS 100     /* first respawn delay is 50..100 ms */
#define SUP_RESHARD_BASE_MS 500     /* first retry of a failed reshard */
#define SUP_RESHARD_TIMEOUT_MS 300000 /* a reshard child hung this long is killed */
#define SUP_FORCE_EXIT_MS 1000      /* after a second SIGTERM: wait this long at most */
#define SUP_FAST_TICK_MS 10         /* the tick while workers start ... */
#define SUP_FAST_TICK_FOR_MS 30000  /* ... for at most this long after a spawn */

enum sup_phase {
	PHASE_RESHARD,   /* `worker --reshard M` runs, or waits to be retried */
	PHASE_RUNNING,   /* the fleet runs; an exit is respawned after a backoff */
	PHASE_DRAINING,  /* the fleet is stopping for a resize */
	PHASE_STOPPING,  /* the fleet is stopping for good */
};

struct sup;

struct worker {
	struct sup *sup;
	int index;
	uv_process_t proc;
	uv_timer_t respawn;      /* backoff before the next spawn */
	int has_proc;            /* proc initialised and not yet closed */
	int running;             /* spawned, exit not seen yet */
	int stale_killed;        /* we sent SIGKILL for a stale heartbeat */
	int64_t died_ms;         /* when the previous process died, 0 = never */
	int64_t ready_ms;        /* when this process was first seen READY, 0 = not yet */
	struct view_worker v;    /* what the view shows, kept here by the loop */
};

struct reshard {
	uv_process_t proc;
	uv_timer_t timer;        /* timeout while running, backoff while waiting */
	int has_proc, running;
	int attempt;             /* failures in a row */
	int count;               /* the fleet size this run prepares */
	int64_t exit_status;
	int term_signal;
	int64_t started_ms;
};

struct sup {
	uv_loop_t loop;
	struct cfg cfg;
	const char *config_path;     /* NULL: defaults and environment only */
	struct cfgsnap snap;         /* the copy of it children read (cfgsnap.h) */
	int flag_workers;            /* --workers; 0 = from the config */
	char worker_bin[PATH_MAX];
	struct shm *shm;
	struct view view;
	struct httpd *http;
	enum sup_phase phase;
	int count;                   /* workers in the fleet that runs or starts */
	int target;                  /* size asked for; differs from count mid-resize */
	uv_signal_t sig[6];
	uv_timer_t tick, watchdog, drain;
	struct reshard reshard;
	struct worker w[SHM_MAX_WORKERS];
	uint64_t rng;
	int ready_sent;              /* READY=1 sent for the first start */
	int64_t phase_ms;            /* when the current phase began */
	int64_t resize_ms;           /* when a resize began; 0 = none under way */
	int resize_from;
	int loop_ok, view_ok;        /* what sup_free must undo */
	int tick_fast;               /* the tick runs at SUP_FAST_TICK_MS */
	int killed;                  /* this drain already sent SIGKILL */
	int finishing;               /* handles are being closed; the loop ends next */
};

/* Build the supervisor: config already loaded into s->cfg by the caller, shm,
 * loop, signals, timers, HTTP. 0, or -1 after logging why (exit 1 then). */
int sup_init(struct sup *s);
/* Run until a SIGTERM/SIGINT drain ends; returns the process exit code. */
int sup_run(struct sup *s);
void sup_free(struct sup *s);
/* Tick every SUP_FAST_TICK_MS (fast) or at the normal pace; a no-op when the
 * pace is already right. Spawning a worker asks for fast; the tick slows itself
 * down once the fleet is settled. */
void sup_tick_fast(struct sup *s, int fast);
/* Close every handle so the loop returns; called once the fleet is gone. */
void sup_finish(struct sup *s);

#endif
