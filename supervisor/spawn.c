/* spawn: see spawn.h. A record's handle is initialised by uv_spawn whether or
 * not the start succeeds, so every start ends in uv_close, and the death is
 * reported from the close callback: by then the handle is free for reuse. */
#include "supervisor/spawn.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct spawn {
	uv_loop_t *loop;
	uv_process_t proc;
	int id;
	int open;            /* proc initialised and not yet closed */
	int running;         /* started, exit not seen yet */
	int64_t exit_status; /* what the callback reports */
	int term_signal;
	spawn_gone_cb gone;
	void *arg;
};

int spawn_find_worker(char *out, size_t n, char *err, size_t errlen)
{
	return spawn_find_bin("worker", "PIYASA_WORKER_BIN", out, n, err, errlen);
}

int spawn_find_bin(const char *name, const char *var, char *out, size_t n, char *err, size_t errlen)
{
	const char *env = getenv(var);
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
		if ((size_t)snprintf(out, n, "%s/%s", self, name) >= n) {
			snprintf(err, errlen, "%s path too long", name);
			return -1;
		}
		/* Installed (make install, the .deb): PREFIX/sbin/supervisor runs
		 * PREFIX/libexec/piyasa/NAME (worker, piyasa-api), whatever the prefix. */
		if (access(out, X_OK) < 0 &&
		    (size_t)snprintf(out, n, "%s/../libexec/piyasa/%s", self, name) >= n) {
			snprintf(err, errlen, "%s path too long", name);
			return -1;
		}
	}
	if (access(out, X_OK) < 0) {
		snprintf(err, errlen, "%s binary %s: %s (set %s to override)", name, out,
			 strerror(errno), var);
		return -1;
	}
	return 0;
}

struct spawn *spawn_new(uv_loop_t *loop, int id, spawn_gone_cb gone, void *arg)
{
	struct spawn *sp = calloc(1, sizeof *sp);

	if (!sp)
		return NULL;
	sp->loop = loop;
	sp->id = id;
	sp->gone = gone;
	sp->arg = arg;
	return sp;
}

void spawn_free(struct spawn *sp)
{
	free(sp);
}

static void on_proc_closed(uv_handle_t *h)
{
	struct spawn *sp = h->data;

	sp->open = 0;
	sp->gone(sp->arg, sp->id, sp->exit_status, sp->term_signal);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig)
{
	struct spawn *sp = p->data;

	sp->running = 0;
	sp->exit_status = status;
	sp->term_signal = sig;
	uv_close((uv_handle_t *)p, on_proc_closed);
}

/* stdin on /dev/null, stdout and stderr inherited, the segment as fd 3 when
 * shm_fd >= 0 and the token key as fd 4 when key_fd >= 0 too, a session of its
 * own. */
static void options(uv_process_options_t *o, uv_stdio_container_t io[5], char **argv, int shm_fd,
		    int key_fd)
{
	memset(o, 0, sizeof *o);
	memset(io, 0, 5 * sizeof io[0]);
	io[0].flags = UV_IGNORE; /* libuv puts /dev/null on an ignored 0..2 */
	io[1].flags = UV_INHERIT_FD;
	io[1].data.fd = STDOUT_FILENO;
	io[2].flags = UV_INHERIT_FD;
	io[2].data.fd = STDERR_FILENO;
	io[3].flags = UV_INHERIT_FD;
	io[3].data.fd = shm_fd;
	io[4].flags = UV_INHERIT_FD;
	io[4].data.fd = key_fd;
	o->file = argv[0];
	o->args = argv;
	o->exit_cb = on_proc_exit;
	o->stdio = io;
	o->stdio_count = shm_fd < 0 ? 3 : key_fd < 0 ? 4 : 5;
	/* Own session (setsid): a Ctrl-C on the terminal reaches the supervisor
	 * only, which then drains the children in order, as under systemd. */
	o->flags = UV_PROCESS_DETACHED;
	/* o->env NULL: the environment as is (NOTIFY_SOCKET and WATCHDOG_PID
	 * included; systemd ignores a worker's messages and the watchdog pid is not
	 * theirs). */
}

/* uv_spawn argv in sp; see spawn_worker for what happens on failure. */
static int start(struct spawn *sp, char **argv, int shm_fd, int key_fd, int *pid, char *err, size_t n)
{
	uv_process_options_t o;
	uv_stdio_container_t io[5];
	int rc;

	if (sp->open) {
		snprintf(err, n, "cannot spawn %s: the previous child is not gone yet", argv[0]);
		return -1;
	}
	options(&o, io, argv, shm_fd, key_fd);
	sp->proc.data = sp;
	rc = uv_spawn(sp->loop, &sp->proc, &o);
	sp->open = 1;
	if (rc < 0) {
		snprintf(err, n, "cannot spawn %s: %s", argv[0], uv_strerror(rc));
		sp->exit_status = -1;
		sp->term_signal = 0;
		uv_close((uv_handle_t *)&sp->proc, on_proc_closed);
		return -1;
	}
	sp->running = 1;
	*pid = sp->proc.pid;
	return 0;
}

/* argv[n..] = "--config" FILE when there is one; returns the new n. */
static int add_config(char **argv, int n, const struct spawn_cmd *c)
{
	if (c->config) {
		argv[n++] = "--config";
		argv[n++] = (char *)c->config;
	}
	return n;
}

int spawn_worker(struct spawn *sp, const struct spawn_cmd *c, int index, int count, int *pid,
		 char *err, size_t n)
{
	char idx[16], cnt[16], *argv[14];
	int k = 0;

	snprintf(idx, sizeof idx, "%d", index);
	snprintf(cnt, sizeof cnt, "%d", count);
	argv[k++] = (char *)c->bin;
	argv[k++] = "--index";
	argv[k++] = idx;
	argv[k++] = "--count";
	argv[k++] = cnt;
	argv[k++] = "--shm-fd";
	argv[k++] = "3";
	if (c->key_fd >= 0) {
		argv[k++] = "--token-key-fd";
		argv[k++] = "4";
	}
	k = add_config(argv, k, c);
	argv[k] = NULL;
	return start(sp, argv, c->shm_fd, c->key_fd, pid, err, n);
}

int spawn_reshard(struct spawn *sp, const struct spawn_cmd *c, int count, int *pid, char *err, size_t n)
{
	char cnt[16], *argv[6];
	int k = 0;

	snprintf(cnt, sizeof cnt, "%d", count);
	argv[k++] = (char *)c->bin;
	argv[k++] = "--reshard";
	argv[k++] = cnt;
	k = add_config(argv, k, c);
	argv[k] = NULL;
	return start(sp, argv, -1, -1, pid, err, n);
}

int spawn_api(struct spawn *sp, const struct spawn_cmd *c, int *pid, char *err, size_t n)
{
	char *argv[8];
	int k = 0;

	argv[k++] = (char *)c->bin;
	argv[k++] = "--shm-fd";
	argv[k++] = "3";
	if (c->key_fd >= 0) { /* TOTP secrets are sealed with the token key */
		argv[k++] = "--token-key-fd";
		argv[k++] = "4";
	}
	k = add_config(argv, k, c);
	argv[k] = NULL;
	return start(sp, argv, c->shm_fd, c->key_fd, pid, err, n);
}

int spawn_kill(struct spawn *sp, int sig)
{
	if (!sp->running)
		return -1;
	return uv_process_kill(&sp->proc, sig) < 0 ? -1 : 0;
}
