/* spawn: see spawn.h. Respawn delays use equal jitter (backoff.h): 50..100 ms
 * after a first crash, doubling with every quick exit in a row, capped at
 * respawn_max_ms, so a worker that dies at once on start (bad credentials, a
 * schema it does not know) costs a log line every few seconds, never a tight
 * fork loop. A run longer than SUP_STABLE_MS ends the streak. */
#include "supervisor/spawn.h"

#include "common/backoff.h"
#include "supervisor/fleet.h"
#include "common/log.h"
#include "common/shm.h"
#include "supervisor/sup.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int spawn_find_worker(char *out, size_t n, char *err, size_t errlen)
{
	const char *env = getenv("PIYASA_WORKER_BIN");
	char self[PATH_MAX], *slash;
	ssize_t len;

	if (env && *env) {
		snprintf(out, n, "%s", env);
	} else {
		/* Next to our own binary, so a build tree and /usr/local/bin both work. */
		len = readlink("/proc/self/exe", self, sizeof self - 1);
		if (len < 0) {
			snprintf(err, errlen, "readlink /proc/self/exe: %s", strerror(errno));
			return -1;
		}
		self[len] = '\0';
		if ((slash = strrchr(self, '/')))
			*slash = '\0';
		if ((size_t)snprintf(out, n, "%s/worker", self) >= n) {
			snprintf(err, errlen, "worker path too long");
			return -1;
		}
	}
	if (access(out, X_OK) < 0) {
		snprintf(err, errlen, "worker binary %s: %s (set PIYASA_WORKER_BIN to override)",
			 out, strerror(errno));
		return -1;
	}
	return 0;
}

int spawn_child(struct sup *s, uv_process_t *p, char **argv, int with_shm, uv_exit_cb cb)
{
	uv_process_options_t o;
	uv_stdio_container_t io[4];

	memset(&o, 0, sizeof o);
	memset(io, 0, sizeof io);
	io[0].flags = UV_IGNORE; /* libuv puts /dev/null on an ignored 0..2 */
	io[1].flags = UV_INHERIT_FD;
	io[1].data.fd = STDOUT_FILENO;
	io[2].flags = UV_INHERIT_FD;
	io[2].data.fd = STDERR_FILENO;
	io[3].flags = UV_INHERIT_FD;
	io[3].data.fd = shm_fd(s->shm);
	o.file = argv[0];
	o.args = argv;
	o.exit_cb = cb;
	o.stdio = io;
	o.stdio_count = with_shm ? 4 : 3;
	/* Own session (setsid): a Ctrl-C on the terminal reaches the supervisor
	 * only, which then drains the children in order, as under systemd. */
	o.flags = UV_PROCESS_DETACHED;
	/* o.env NULL: the environment as is (NOTIFY_SOCKET and WATCHDOG_PID included;
	 * systemd ignores a worker's messages and the watchdog pid is not theirs). */
	return uv_spawn(&s->loop, p, &o);
}

void spawn_describe_exit(char *buf, size_t n, int64_t status, int term_signal)
{
	if (term_signal)
		snprintf(buf, n, "killed by signal %d (%s)", term_signal, strsignal(term_signal));
	else if (status < 0)
		snprintf(buf, n, "could not be started");
	else
		snprintf(buf, n, "exited with status %" PRId64, status);
}

void worker_publish(struct worker *w)
{
	view_set_worker(&w->sup->view, w->index, &w->v);
}

static void on_worker_closed(uv_handle_t *h)
{
	struct worker *w = h->data;

	w->has_proc = 0;
	fleet_worker_gone(w->sup, w);
}

/* An exit we asked for (a drain) is news; any other is an error. */
static int exit_expected(struct worker *w, int64_t status, int sig)
{
	enum sup_phase p = w->sup->phase;

	if (p != PHASE_DRAINING && p != PHASE_STOPPING)
		return 0;
	return (sig == 0 && status == 0) || sig == SIGTERM;
}

static void on_worker_exit(uv_process_t *p, int64_t status, int sig)
{
	struct worker *w = p->data;
	char how[96];

	w->running = 0;
	w->died_ms = shm_now_ms();
	spawn_describe_exit(how, sizeof how, status, sig);
	log_msg(exit_expected(w, status, sig) ? LOG_INFO : LOG_ERR, NULL, "worker %d (pid %d) %s%s",
		w->index, (int)w->v.pid, how, w->stale_killed ? " (its heartbeat had stopped)" : "");
	w->v.pid = 0;
	worker_publish(w);
	/* The process is gone, so its slot is final: fold it now. */
	view_retire_slot(&w->sup->view, w->index);
	uv_close((uv_handle_t *)p, on_worker_closed);
}

void worker_init(struct sup *s, struct worker *w, int index)
{
	memset(w, 0, sizeof *w);
	w->sup = s;
	w->index = index;
	uv_timer_init(&s->loop, &w->respawn);
	w->respawn.data = w;
}

static int worker_argv(struct worker *w, char **argv, char *idx, char *cnt)
{
	struct sup *s = w->sup;
	int n = 0;

	snprintf(idx, 16, "%d", w->index);
	snprintf(cnt, 16, "%d", s->count);
	argv[n++] = s->worker_bin;
	argv[n++] = "--index";
	argv[n++] = idx;
	argv[n++] = "--count";
	argv[n++] = cnt;
	argv[n++] = "--shm-fd";
	argv[n++] = "3";
	if (cfgsnap_arg(&s->snap)) {
		argv[n++] = "--config";
		argv[n++] = (char *)cfgsnap_arg(&s->snap);
	}
	argv[n] = NULL;
	return n;
}

void worker_start(struct worker *w)
{
	struct sup *s = w->sup;
	char idx[16], cnt[16], *argv[12];
	int rc;

	/* Anything left in the slot is folded, never lost; then the new process
	 * starts from a zeroed slot (state EMPTY, no heartbeat). */
	view_retire_slot(&s->view, w->index);
	worker_argv(w, argv, idx, cnt);
	w->proc.data = w;
	rc = spawn_child(s, &w->proc, argv, 1, on_worker_exit);
	w->has_proc = 1;
	w->stale_killed = 0;
	w->ready_ms = 0;
	w->v.spawned_ms = shm_now_ms();
	w->v.respawning = 0;
	if (rc < 0) {
		log_error("worker %d: cannot spawn %s: %s", w->index, s->worker_bin, uv_strerror(rc));
		w->died_ms = w->v.spawned_ms;
		w->v.pid = 0;
		worker_publish(w);
		uv_close((uv_handle_t *)&w->proc, on_worker_closed);
		return;
	}
	w->running = 1;
	w->v.pid = w->proc.pid;
	log_info("worker %d started (pid %d)", w->index, w->proc.pid);
	worker_publish(w);
	sup_tick_fast(s, 1);
}

static void on_respawn_due(uv_timer_t *t)
{
	struct worker *w = t->data;
	struct sup *s = w->sup;

	if (s->phase != PHASE_RUNNING || w->index >= s->count || w->has_proc)
		return;
	w->v.restarts++;
	worker_start(w);
}

void worker_schedule_respawn(struct worker *w)
{
	struct sup *s = w->sup;
	int64_t up = shm_now_ms() - w->v.spawned_ms, delay;

	if (up >= SUP_STABLE_MS)
		w->v.streak = 0;
	delay = backoff_equal_jitter(w->v.streak, SUP_RESPAWN_BASE_MS, s->cfg.respawn_max_ms,
				     &s->rng);
	w->v.streak++;
	if (w->v.streak >= SUP_CRASH_LOOP && !w->v.crash_loop) {
		w->v.crash_loop = 1;
		log_error("worker %d is crash-looping: %d exits in a row, each within %d s of its "
			  "start; respawning with backoff up to %d ms",
			  w->index, w->v.streak, SUP_STABLE_MS / 1000, s->cfg.respawn_max_ms);
	}
	w->v.respawning = 1;
	log_msg(w->v.streak > 1 ? LOG_NOTICE : LOG_INFO, NULL,
		"worker %d: respawn in %" PRId64 " ms (exit %d in a row)", w->index, delay,
		w->v.streak);
	uv_timer_start(&w->respawn, on_respawn_due, (uint64_t)delay, 0);
	worker_publish(w);
}

void worker_cancel_respawn(struct worker *w)
{
	if (!w->v.respawning)
		return;
	uv_timer_stop(&w->respawn);
	w->v.respawning = 0;
	worker_publish(w);
}

int worker_signal(struct worker *w, int sig)
{
	if (!w->running)
		return UV_ESRCH;
	return uv_process_kill(&w->proc, sig);
}

int worker_is_stale(struct worker *w, int64_t now)
{
	struct shm_slot *sl = shm_slot(w->sup->shm, w->index);
	int64_t hb, ref;
	int st;

	if (!w->running || !sl)
		return 0;
	st = shm_load_i32(&sl->state);
	if (st < SHM_STARTING)
		return 0; /* not attached yet: nothing promised */
	hb = shm_load_i64(&sl->heartbeat_ms);
	ref = hb > w->v.spawned_ms ? hb : w->v.spawned_ms;
	return now - ref > w->sup->cfg.worker_timeout_ms;
}

static void note_ready(struct worker *w, int64_t now)
{
	w->ready_ms = now;
	if (w->died_ms)
		log_info("worker %d (pid %d) ready, %" PRId64 " ms after its predecessor died",
			 w->index, (int)w->v.pid, now - w->died_ms);
	else
		log_info("worker %d (pid %d) ready in %" PRId64 " ms", w->index, (int)w->v.pid,
			 now - w->v.spawned_ms);
}

static void end_streak(struct worker *w)
{
	if (w->v.crash_loop)
		log_notice("worker %d (pid %d) recovered: up for %d s", w->index, (int)w->v.pid,
			   SUP_STABLE_MS / 1000);
	w->v.streak = 0;
	w->v.crash_loop = 0;
	worker_publish(w);
}

static void kill_stale(struct worker *w, int64_t now)
{
	struct shm_slot *sl = shm_slot(w->sup->shm, w->index);
	int64_t hb = shm_load_i64(&sl->heartbeat_ms);

	log_error("worker %d (pid %d) heartbeat is %" PRId64 " ms old (worker_timeout_ms %d): "
		  "killing it", w->index, (int)w->v.pid,
		  now - (hb > w->v.spawned_ms ? hb : w->v.spawned_ms), w->sup->cfg.worker_timeout_ms);
	w->stale_killed = 1;
	worker_signal(w, SIGKILL);
}

void worker_check(struct worker *w, int64_t now, int kill_stale_ok)
{
	struct shm_slot *sl = shm_slot(w->sup->shm, w->index);

	if (!w->running || !sl)
		return;
	if (!w->ready_ms && shm_load_i32(&sl->state) == SHM_READY)
		note_ready(w, now);
	if (w->v.streak && now - w->v.spawned_ms >= SUP_STABLE_MS)
		end_streak(w);
	if (kill_stale_ok && !w->stale_killed && worker_is_stale(w, now))
		kill_stale(w, now);
}
