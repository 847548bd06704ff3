/* view: what the HTTP thread may know about the supervisor.
 *
 * The loop thread owns the real state (process handles, timers). It mirrors the
 * few facts /metrics and /status need (pids, restarts, phase, the config's shape,
 * the folded counters of exited workers) into a struct view under a mutex. The
 * HTTP thread never touches libuv: it takes a snapshot (the view plus every live
 * shm slot, read under the same mutex so a fold and a reset are seen together)
 * and formats from the copy. Counters of a worker that exited are folded into
 * base[index] before its slot is zeroed, so an exported total never goes back. */
#ifndef PIYASA_VIEW_H
#define PIYASA_VIEW_H

#include "common/cfg.h"
#include "common/shm.h"

#include <pthread.h>
#include <stdint.h>

struct view_worker {
	int32_t pid;        /* 0 while no process runs for this index */
	int64_t spawned_ms; /* CLOCK_MONOTONIC, when the current process started */
	uint32_t restarts;  /* respawns of this index, over the supervisor's life */
	int streak;         /* quick exits in a row */
	int crash_loop;     /* streak reached the crash-loop threshold */
	int respawning;     /* waiting out a backoff before the next spawn */
};

/* The configuration as /status shows it: no URLs (they can hold passwords), no keys. */
struct view_cfg {
	char path[256];
	int workers, heartbeat_ms, worker_timeout_ms, drain_timeout_ms, respawn_max_ms;
	int max_inflight, http_port;
	char http_bind[64], redis_prefix[32], log_level[16], log_format[16];
	int api_enabled;
	char api_listen[80];
	int nproviders;
	char providers[CFG_MAX_PROVIDERS][32];
	char models[CFG_MAX_PROVIDERS][64];
	long long daily_tokens[CFG_MAX_PROVIDERS]; /* per worker, 0 = unlimited */
};

struct view {
	pthread_mutex_t mu;
	struct shm *shm;  /* set by view_init, never changed */
	int64_t start_ms; /* CLOCK_MONOTONIC */
	int pid;
	int64_t live_ms; /* atomic: the loop's last tick, for /health/live */
	/* Under mu: */
	int count; /* the fleet size that runs or is being started */
	int seen;  /* highest index + 1 ever run: its series stay exported */
	char phase[24];
	uint64_t reloads, reloads_refused, resizes;
	struct view_cfg cfg;
	struct view_worker w[SHM_NSLOTS]; /* workers by index, then the API (SHM_API_SLOT) */
	struct shm_slot base[SHM_NSLOTS]; /* folded counters of exited processes */
};

/* A consistent copy for one HTTP answer. */
struct snap_worker {
	struct view_worker v;
	int32_t state; /* enum shm_state of the slot */
	int64_t heartbeat_ms;
	int64_t gauges[SHM_G_COUNT];
	int64_t pbreaker[SHM_MAX_PROVIDERS];
};

struct snap {
	int64_t now_ms, start_ms, live_ms;
	int pid, count, seen;
	char phase[24];
	uint64_t reloads, reloads_refused, resizes;
	struct view_cfg cfg;
	struct shm_slot total;            /* base + live: counters and histograms */
	int64_t gauge_sum[SHM_G_COUNT];   /* over running workers */
	struct snap_worker w[SHM_NSLOTS]; /* the API's at SHM_API_SLOT */
};

/* Loop thread. view_init cannot fail short of a broken libc (mutex init). */
int view_init(struct view *v, struct shm *shm);
void view_destroy(struct view *v);
void view_set_config(struct view *v, const struct cfg *c);
void view_set_fleet(struct view *v, int count, const char *phase);
void view_set_worker(struct view *v, int index, const struct view_worker *w);
void view_count_reload(struct view *v);
/* A reload whose file was refused (the running configuration stayed). */
void view_count_reload_refused(struct view *v);
void view_count_resize(struct view *v);
/* Fold slot index into its base and zero the slot. Call only when no process
 * writes the slot (its worker has exited, or was never started). */
void view_retire_slot(struct view *v, int index);
void view_stamp_live(struct view *v, int64_t now_ms);

/* HTTP thread: fill s (large: allocate it) from the view and the shm slots. */
void view_snapshot(struct view *v, struct snap *s);

/* Heartbeat age in ms of a snapshot worker, -1 when it has not reported yet. */
int64_t snap_heartbeat_age(const struct snap *s, int index);

#endif
