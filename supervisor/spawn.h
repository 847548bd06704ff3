/* spawn: child processes of the supervisor, one record per child slot.
 *
 * A record is one slot over its lives: a worker index, or the reshard child.
 * It holds the libuv process handle and whether the process runs; nothing else
 * reads or writes those. What a death means (respawn, drain, retry) is the
 * owner's business: the record reports it through the callback given to
 * spawn_new, once the handle is closed, so the slot is free for the next start
 * when the callback runs. Like tmux's proc.c, this module knows processes and
 * file descriptors, never the fleet that uses them.
 *
 * A worker is `worker --index I --count N --shm-fd 3 [--token-key-fd 4]
 * [--config FILE]` with the segment as fd 3 and, when the supervisor was given
 * PIYASA_TOKEN_KEY, the key's memfd as fd 4 (never the key in its environment);
 * the reshard child is `worker --reshard N [--config FILE]`.
 * Both get stdin on /dev/null, stdout/stderr and the environment inherited, and
 * a session of their own. */
#ifndef PIYASA_SPAWN_H
#define PIYASA_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct spawn;

/* The child of a record is gone: status and term_signal as libuv reports them;
 * status -1 with term_signal 0 when it could not be started at all. */
typedef void (*spawn_gone_cb)(void *arg, int id, int64_t status, int term_signal);

/* What every child is started from. */
struct spawn_cmd {
	const char *bin;    /* the worker binary (spawn_find_worker) */
	const char *config; /* after --config, or NULL for none */
	int shm_fd;         /* the segment, passed to workers as fd 3 */
	int key_fd;         /* the token key (tok_env_to_fd), to workers as fd 4; -1: none */
};

/* The worker binary: $PIYASA_WORKER_BIN, else `worker` next to /proc/self/exe,
 * else ../libexec/piyasa/worker from there (the installed layout).
 * 0, or -1 with why in err when it is missing or not executable. */
int spawn_find_worker(char *out, size_t n, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The same for any program name next to ours, or $var. */
int spawn_find_bin(const char *name, const char *var, char *out, size_t n, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A record for child slot id on loop; gone(arg, id, ...) reports each death.
 * NULL when out of memory. */
struct spawn *spawn_new(uv_loop_t *loop, int id, spawn_gone_cb gone, void *arg);

/* Free sp; NULL is safe. The loop must no longer hold its handle: call it before
 * the first start or after the loop has closed every handle. */
void spawn_free(struct spawn *sp);

/* Start worker index of a fleet of count in sp. 0 with *pid set; or -1 with
 * "cannot spawn BIN: why" in err. Either way the callback follows once the
 * child is gone (status -1 for a failed start). -1 without a callback only when
 * sp is still busy with a previous child (a bug in the caller). */
int spawn_worker(struct spawn *sp, const struct spawn_cmd *c, int index, int count, int *pid,
		 char *err, size_t n) __attribute__((warn_unused_result));

/* Start `worker --reshard count` in sp; as spawn_worker, without the segment. */
int spawn_reshard(struct spawn *sp, const struct spawn_cmd *c, int count, int *pid, char *err,
		  size_t n) __attribute__((warn_unused_result));

/* Start `piyasa-api --shm-fd 3 [--config FILE]` (c->bin) in sp; as spawn_worker. */
int spawn_api(struct spawn *sp, const struct spawn_cmd *c, int *pid, char *err, size_t n)
	__attribute__((warn_unused_result));

/* Send sig to sp's process. 0, or -1 when none runs (never started, or its exit
 * was seen) or the kill failed. */
int spawn_kill(struct spawn *sp, int sig);

#endif
