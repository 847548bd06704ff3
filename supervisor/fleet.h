/* fleet: the workers the supervisor runs, and the phases it moves through.
 *
 *   RESHARDING --reshard child exits 0-->  RUNNING  --SIGTTIN/SIGTTOU/SIGHUP(N)-->
 *   DRAINING --every worker gone-->  RESHARDING ...    any phase --SIGTERM--> STOPPING
 *
 * Workers start only after `worker --reshard M` succeeded for the size they run
 * at; a failed reshard is retried with backoff. A worker that dies while the
 * fleet runs is respawned after a backoff (equal jitter, common/backoff.h):
 * 50..100 ms after a first crash, doubling with every quick exit in a row,
 * capped at respawn_max_ms; FLEET_CRASH_LOOP quick exits in a row are a crash
 * loop, reported in the log, the view and STATUS=. A worker that was READY and
 * then died by a signal is not crash-looping (it started fine; something killed
 * it): it comes back after the first delay, and kills from outside before READY
 * escalate only up to FLEET_KILLED_MAX_MS, so kill -9 every few seconds cannot
 * empty the fleet. A drain sends SIGTERM, waits
 * up to drain_timeout_ms, then sends SIGKILL. A resize is timed from the start
 * of its drain to the moment every new worker reports READY.
 *
 * The fleet decides and does nothing itself: processes, timers and the clock
 * come through struct fleet_ops, which the supervisor wires to spawn.h and
 * libuv and a unit test to fakes. A death comes back through fleet_child_gone,
 * an expired timer through fleet_timer_due. The fleet writes what the HTTP
 * thread shows into the view, reads the workers' slots through the view's shm,
 * and tells systemd (notify.h). Everything runs on the loop thread. */
#ifndef PIYASA_FLEET_H
#define PIYASA_FLEET_H

#include "common/shm.h"

#include <stddef.h>
#include <stdint.h>

#define FLEET_STABLE_MS 10000           /* up this long: its crash streak is over */
#define FLEET_CRASH_LOOP 5              /* quick exits in a row that make a crash loop */
#define FLEET_RESPAWN_BASE_MS 100       /* first respawn delay is 50..100 ms */
#define FLEET_KILLED_MAX_MS 1000        /* cap for workers killed from outside before READY */
#define FLEET_RESHARD_BASE_MS 500       /* first retry of a failed reshard */
#define FLEET_RESHARD_TIMEOUT_MS 300000 /* a reshard child hung this long is killed */
#define FLEET_FORCE_EXIT_MS 1000        /* after SIGKILL: wait this long at most */
#define FLEET_FAST_TICK_FOR_MS 30000    /* a spawn unsettles the fleet this long at most */

/* Ids of children and timers. 0..SHM_MAX_WORKERS-1 are worker indexes: the
 * worker's process, and the timer of its respawn backoff. */
#define FLEET_RESHARD SHM_MAX_WORKERS     /* the reshard child; its timeout or retry */
#define FLEET_DRAIN (SHM_MAX_WORKERS + 1) /* the drain deadline (a timer only) */
#define FLEET_NIDS (SHM_MAX_WORKERS + 2)

enum fleet_phase {
	FLEET_RESHARDING, /* `worker --reshard M` runs, or waits to be retried */
	FLEET_RUNNING,    /* the fleet runs; a death is respawned after a backoff */
	FLEET_DRAINING,   /* the fleet is stopping for a resize */
	FLEET_STOPPING,   /* the fleet is stopping for good */
};

struct cfg;
struct view;
struct fleet;

/* What the fleet asks of its owner; ctx is the owner's, given to fleet_new. */
struct fleet_ops {
	/* The clock events are stamped with: CLOCK_MONOTONIC in ms (shm_now_ms). */
	int64_t (*now)(void *ctx);
	/* Start child id: worker id of a fleet of count, or for FLEET_RESHARD
	 * `worker --reshard count`. 0 with *pid set, or -1 with why in err. Either
	 * way fleet_child_gone(id) must follow once the child is gone. */
	int (*start)(void *ctx, int id, int count, int *pid, char *err, size_t n);
	/* Send sig to child id; 0, or -1 when it does not run. */
	int (*kill)(void *ctx, int id, int sig);
	/* Call fleet_timer_due(id) in delay_ms, replacing a pending call for id;
	 * delay_ms < 0 cancels it. */
	void (*timer)(void *ctx, int id, int64_t delay_ms);
	/* A stop ended: every child is gone (or would not die); the owner exits. */
	void (*finished)(void *ctx);
};

/* A fleet of no workers yet, in the RESHARDING phase. It reads cfg (the
 * respawn, heartbeat and drain limits) at each decision, so the owner may change
 * it between calls; cfg, view and ops must outlive the fleet. seed starts the
 * backoff jitter. NULL when out of memory. */
struct fleet *fleet_new(const struct fleet_ops *ops, void *ctx, const struct cfg *cfg,
			struct view *view, uint64_t seed);
/* NULL is safe; no call back into the owner. */
void fleet_free(struct fleet *f);

/* First start: reshard for target workers, then spawn them. */
void fleet_start(struct fleet *f, int target);
/* Ask for m workers (clamped to 1..SHM_MAX_WORKERS); why goes to the log.
 * 1 when the target changed (the running workers will be replaced), else 0. */
int fleet_resize(struct fleet *f, int m, const char *why);
/* SIGTERM/SIGINT: drain, then ops->finished. A second call kills every child. */
void fleet_stop(struct fleet *f);
/* Forward sig to every running worker (SIGHUP on reload). */
void fleet_signal(struct fleet *f, int sig);

/* Child id is gone (status and term_signal as libuv says; status -1 when it
 * could not be started): respawn it, count it as drained, or retry a reshard. */
void fleet_child_gone(struct fleet *f, int id, int64_t status, int term_signal);
/* Timer id (set through ops->timer) is due. */
void fleet_timer_due(struct fleet *f, int id);

/* Per tick: readiness (READY=1 once), crash streaks that ended, stale
 * heartbeats (SIGKILL), resize timing, STATUS=. */
void fleet_tick(struct fleet *f, int64_t now);
/* 0 while a worker spawned less than FLEET_FAST_TICK_FOR_MS ago has not been
 * seen READY yet (the owner ticks fast then), else 1. */
int fleet_settled(const struct fleet *f, int64_t now);
/* Workers whose heartbeat is older than worker_timeout_ms right now; 0 while
 * the fleet does not run (a drain has its own deadline). */
int fleet_stale_count(const struct fleet *f, int64_t now);
/* The one-line summary for STATUS= and the log. */
void fleet_status(const struct fleet *f, char *buf, size_t n);

enum fleet_phase fleet_phase(const struct fleet *f);
/* The size asked for; differs from the running size mid-resize. */
int fleet_target(const struct fleet *f);
/* 1 once every worker of the first fleet was READY (READY=1 went to systemd). */
int fleet_was_ready(const struct fleet *f);

#endif
