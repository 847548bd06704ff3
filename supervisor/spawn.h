/* spawn: one worker index over its lives, and the process plumbing shared with
 * the reshard child.
 *
 * A worker process is `worker --index I --count N --shm-fd 3 [--config FILE]`
 * with the segment as fd 3, stdin on /dev/null, stdout/stderr and the
 * environment inherited. When it exits its slot is folded into the base and
 * zeroed, the exit is logged ("worker 2 (pid 123) killed by signal 9"), and once
 * libuv has closed the handle the fleet decides: respawn after a backoff, or
 * count it as drained. */
#ifndef PIYASA_SPAWN_H
#define PIYASA_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct sup;
struct worker;

/* The worker binary: $PIYASA_WORKER_BIN, else `worker` next to /proc/self/exe.
 * 0, or -1 with why in err when it is missing or not executable. */
int spawn_find_worker(char *out, size_t n, char *err, size_t errlen);

/* Spawn argv[0] on s's loop. with_shm: pass the segment as fd 3. Returns 0 or a
 * libuv error; either way p is initialised and must be closed with uv_close. */
int spawn_child(struct sup *s, uv_process_t *p, char **argv, int with_shm, uv_exit_cb cb);

/* "exited with status 1", "killed by signal 9" into buf. */
void spawn_describe_exit(char *buf, size_t n, int64_t status, int term_signal);

void worker_init(struct sup *s, struct worker *w, int index);
/* Spawn index w now (fleet start, or when its backoff ends). A failed spawn is
 * handled like a crash: logged, then respawned after a backoff. */
void worker_start(struct worker *w);
/* Per tick: note READY, end a crash streak after a stable run, and SIGKILL a
 * worker whose heartbeat is older than worker_timeout_ms (when kill_stale). */
void worker_check(struct worker *w, int64_t now, int kill_stale);
/* 1 when w runs, reported STARTING or later and its heartbeat is too old. */
int worker_is_stale(struct worker *w, int64_t now);
/* After its exit while the fleet runs: schedule the respawn with backoff. */
void worker_schedule_respawn(struct worker *w);
void worker_cancel_respawn(struct worker *w);
/* Send sig when the process runs; 0 or a libuv error. */
int worker_signal(struct worker *w, int sig);
/* Mirror w->v into the view. */
void worker_publish(struct worker *w);

#endif
