/* fleet: the supervisor's phases, and what moves it between them.
 *
 *   RESHARD  --reshard child exits 0-->  RUNNING  --SIGTTIN/SIGTTOU/SIGHUP(N)-->
 *   DRAINING --every worker gone-->  RESHARD ...      any phase --SIGTERM--> STOPPING
 *
 * Workers start only after `worker --reshard M` succeeded for the size they run
 * at; a failed reshard is retried with backoff. A drain sends SIGTERM, waits up
 * to drain_timeout_ms, then sends SIGKILL. A resize is timed from the start of
 * its drain to the moment every new worker reports READY. */
#ifndef PIYASA_FLEET_H
#define PIYASA_FLEET_H

#include <stddef.h>
#include <stdint.h>

struct sup;
struct worker;

/* First start: reshard for s->target workers, then spawn them. */
void fleet_start(struct sup *s);
/* Ask for m workers (clamped to 1..SHM_MAX_WORKERS); why goes to the log.
 * 1 when the target changed (the running workers will be replaced), else 0. */
int fleet_resize(struct sup *s, int m, const char *why);
/* SIGTERM/SIGINT: drain and exit. A second call kills every child at once. */
void fleet_stop(struct sup *s);
/* spawn.c: w's process handle is closed (it exited, or could not start). */
void fleet_worker_gone(struct sup *s, struct worker *w);
/* Per tick: heartbeats, readiness (READY=1 once), resize timing, STATUS=. */
void fleet_tick(struct sup *s, int64_t now);
/* 0 while a worker spawned less than SUP_FAST_TICK_FOR_MS ago has not been
 * seen READY yet (the tick runs fast then), else 1. */
int fleet_settled(struct sup *s, int64_t now);
/* Workers whose heartbeat is older than worker_timeout_ms right now. */
int fleet_stale_count(struct sup *s, int64_t now);
/* Forward sig to every running worker (SIGHUP on reload). */
void fleet_signal(struct sup *s, int sig);
/* The one-line summary for STATUS= and the log. */
void fleet_status(struct sup *s, char *buf, size_t n);

#endif
