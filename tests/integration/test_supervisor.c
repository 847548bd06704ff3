/* The supervisor as an operator sees it: the real supervisor, real workers, the
 * fake APIs, PostgreSQL and Redis. Each test checks what an operator would check
 * after a kill -9, a crash loop, a bad or good SIGHUP, a resize, a SIGTERM under
 * load, the systemd notify protocol and /metrics; the numbers it measures
 * (respawn, pauses, drain) are printed as "measured: ..." lines on stderr.
 *
 * Every test runs in its own process with its own database, Redis prefix and
 * ports. A janitor process forked by the setup kills the supervisor and the fake
 * and drops the database if the test dies without its teardown (a failed
 * assertion _exit()s, a timeout SIGKILLs), and keeps the supervisor's log then. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHAT -1001000000077LL
#define CHAT_S "-1001000000077"
#define POLL_US 10000 /* 10 ms: the timing measurements poll faster than itest_wait_for */

static pid_t sup, fake, producer, janitor;
/* pids are told to the janitor when started ("pid") and when reaped ("-pid"),
 * so it never kills a pid the kernel has handed to someone else. */
static int janitor_fd = -1;
static char logpath[128], cfgpath[128], *cast;

/* ------------------------------------------------------------------ janitor */

/* The files a test writes, but its log. */
static void remove_files(pid_t test)
{
	static const char *const fmt[] = {
		"/tmp/itest-sup-%d.conf",       "/tmp/itest-sup-%d.conf.tmp",
		"/tmp/itest-cast-%d.json",      "/tmp/itest-crasher-%d.sh",
		"/tmp/itest-crasher-%d.sh.tmp", "/tmp/itest-crasher-%d.starts",
		"/tmp/itest-notify-%d.sock",    "/tmp/itest-sup-%d.key"
	};
	char path[128];

	for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
		snprintf(path, sizeof path, fmt[i], (int)test);
		unlink(path);
	}
}

/* Runs in its own process: reads the pids the test started, one per line; on
 * EOF (the test process is gone) kills what is left and drops the database. */
static void janitor_main(int fd, pid_t test)
{
	pid_t pids[64];
	int n = 0;
	char buf[64];
	FILE *f = fdopen(fd, "r");

	while (f && fgets(buf, sizeof buf, f)) {
		pid_t p = (pid_t)atoi(buf);
		for (int i = 0; p < 0 && i < n; i++)
			if (pids[i] == -p)
				pids[i] = 0;
		if (p > 0 && n < 64)
			pids[n++] = p;
	}
	for (int i = 0; i < n; i++) {
		if (!pids[i])
			continue;
		kill(-pids[i], SIGKILL); /* itest_spawn makes each child a group leader */
		kill(pids[i], SIGKILL);
	}
	usleep(300000); /* the workers get SIGTERM from their dead supervisor and go */
	itest_env_teardown();
	remove_files(test);
	if (*logpath)
		fprintf(stderr, "supervisor test %d died: its log is kept in %s\n", (int)test, logpath);
	_exit(0);
}

static void janitor_start(void)
{
	int p[2];
	pid_t test = getpid();

	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	janitor = fork();
	if (janitor == 0) {
		close(p[1]);
		setpgid(0, 0); /* check kills the test's process group when the test ends */
		janitor_main(p[0], test);
	}
	close(p[0]);
	janitor_fd = p[1];
}

static void janitor_note(pid_t pid)
{
	if (janitor_fd >= 0 && pid > 0)
		dprintf(janitor_fd, "%d\n", (int)pid);
}

/* pid has been waited for: forget it (here and for the janitor). */
static void reaped(pid_t *pid)
{
	if (janitor_fd >= 0 && *pid > 0)
		dprintf(janitor_fd, "%d\n", -(int)*pid);
	*pid = 0;
}

/* -------------------------------------------------------------- processes */

static pid_t spawn(const char *const argv[])
{
	pid_t pid = itest_spawn(argv, logpath);

	janitor_note(pid);
	return pid;
}

/* piyasactl with its arguments (NULL-terminated); output goes to the test log. */
static int ctl(const char *first, ...)
{
	const char *av[24];
	char *bin = itest_bin("piyasactl");
	va_list ap;
	int n = 0, st;
	pid_t pid;

	av[n++] = bin;
	av[n++] = first;
	va_start(ap, first);
	while (n < 23 && (av[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	av[n] = NULL;
	pid = itest_spawn(av, logpath);
	st = itest_wait_exit(pid, 60000);
	free(bin);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static pid_t start_fake(const char *latency_ms)
{
	const char *extra[] = { "--llm-latency-ms", latency_ms, NULL };
	pid_t pid = itest_fake_start(latency_ms ? extra : NULL);

	janitor_note(pid);
	return pid;
}

/* supervisor [args...] (NULL-terminated), stdout and stderr to the test log. */
static pid_t start_sup(const char *first, ...)
{
	const char *av[16];
	char *bin = itest_bin("supervisor");
	va_list ap;
	int n = 0;
	pid_t pid;

	av[n++] = bin;
	if (first) {
		av[n++] = first;
		va_start(ap, first);
		while (n < 15 && (av[n] = va_arg(ap, const char *)))
			n++;
		va_end(ap);
	}
	av[n] = NULL;
	pid = spawn(av);
	free(bin);
	return pid;
}

static void write_file(const char *path, const char *text)
{
	char tmp[160];
	FILE *f;

	/* Written beside and renamed: a reload never reads half a file. */
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static void import_cast(int nbots)
{
	cast = itest_write_cast(nbots, CHAT);
	ck_assert_int_eq(ctl("import", cast, NULL), 0);
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

/* ------------------------------------------------------------------ setup */

static void setup(void)
{
	itest_env_setup();
	/* The log lines these tests read are at info/notice: make test runs at warning. */
	setenv("PIYASA_LOG_LEVEL", "info", 1);
	setenv("PIYASA_LOG_FORMAT", "text", 1);
	unsetenv("PIYASA_WORKERS");
	unsetenv("PIYASA_WORKER_BIN");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	snprintf(logpath, sizeof logpath, "/tmp/itest-sup-%d.log", (int)getpid());
	snprintf(cfgpath, sizeof cfgpath, "/tmp/itest-sup-%d.conf", (int)getpid());
	unlink(logpath);
	janitor_start();
}

static void stop(pid_t *pid, int sig)
{
	if (*pid > 0) {
		kill(*pid, sig);
		itest_wait_exit(*pid, 10000);
	}
	reaped(pid);
}

static void teardown(void)
{
	stop(&producer, SIGKILL);
	stop(&sup, SIGKILL);
	stop(&fake, SIGTERM);
	usleep(100000); /* orphaned workers drain on their parent-death SIGTERM */
	if (janitor > 0) {
		kill(janitor, SIGKILL);
		waitpid(janitor, NULL, 0);
	}
	itest_env_teardown();
	if (getenv("PIYASA_ITEST_KEEP_LOG"))
		fprintf(stderr, "supervisor log kept in %s\n", logpath);
	else
		unlink(logpath);
	remove_files(getpid());
	free(cast);
	cast = NULL;
}

/* ------------------------------------------------------------- the fleet */

static json_t *get_json(const char *path)
{
	long st;
	char *body = itest_http_get(itest_http_port(), path, &st);
	json_t *o = body && st == 200 ? json_loads(body, 0, NULL) : NULL;

	free(body);
	return o;
}

static long http_status(const char *path)
{
	long st;

	free(itest_http_get(itest_http_port(), path, &st));
	return st;
}

static json_t *status_worker(json_t *doc, int index)
{
	size_t i;
	json_t *w;

	json_array_foreach(json_object_get(doc, "workers"), i, w)
		if (json_integer_value(json_object_get(w, "index")) == index)
			return w;
	return NULL;
}

static int worker_pid(json_t *doc, int index)
{
	return (int)json_integer_value(json_object_get(status_worker(doc, index), "pid"));
}

static int worker_is(json_t *doc, int index, const char *state)
{
	const char *s = json_string_value(json_object_get(status_worker(doc, index), "state"));

	return s && !strcmp(s, state);
}

/* /status says running with n workers, each ready, and /health/ready agrees. */
static int fleet_ready(void *arg)
{
	int n = (int)(intptr_t)arg, ok;
	json_t *doc = get_json("/status");

	ok = doc && json_integer_value(json_object_get(doc, "count")) == n &&
	     !strcmp(json_string_value(json_object_get(doc, "phase")) ?: "", "running");
	for (int i = 0; ok && i < n; i++)
		ok = worker_is(doc, i, "ready");
	json_decref(doc);
	return ok && http_status("/health/ready") == 200;
}

static void wait_fleet(int n, int timeout_ms)
{
	ck_assert_msg(itest_wait_for(fleet_ready, (void *)(intptr_t)n, timeout_ms),
		      "the fleet of %d workers did not become ready in %d ms (log: %s)", n,
		      timeout_ms, logpath);
}

static void fleet_pids(int n, int *pids)
{
	json_t *doc = get_json("/status");

	ck_assert_ptr_nonnull(doc);
	for (int i = 0; i < n; i++)
		pids[i] = worker_pid(doc, i);
	json_decref(doc);
}

/* --------------------------------------------------------------- the jobs */

static long long terminal(void)
{
	return itest_pg_int("SELECT count(*) FROM messages WHERE status IN ('sent','unknown','failed')");
}

static long long with_status(const char *status)
{
	char sql[128];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM messages WHERE status = '%s'", status);
	return itest_pg_int(sql);
}

static int all_terminal(void *arg)
{
	return terminal() >= (long long)(intptr_t)arg;
}

static void wait_terminal(long long n, int timeout_ms)
{
	ck_assert_msg(itest_wait_for(all_terminal, (void *)(intptr_t)n, timeout_ms),
		      "only %lld of %lld jobs are done after %d ms (log: %s)", terminal(), n,
		      timeout_ms, logpath);
}

static int sent_at_least(void *arg)
{
	return with_status("sent") >= (long long)(intptr_t)arg;
}

static long long fake_stat(const char *key)
{
	json_t *st = itest_fake_stats();
	long long v = st ? json_integer_value(json_object_get(st, key)) : -1;

	json_decref(st);
	return v;
}

/* Every one of n jobs has exactly one row, every row sent, n sends, 0 duplicates. */
static void assert_exactly_once(long long n)
{
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE bot_id IS NOT NULL"), n);
	ck_assert_int_eq(itest_pg_int("SELECT count(DISTINCT job_id) FROM messages"), n);
	ck_assert_int_eq(with_status("sent"), n);
	ck_assert_int_eq(fake_stat("duplicate_sends"), 0);
	ck_assert_int_eq(fake_stat("sends"), n);
}

/* ---------------------------------------------------------------- the log */

static char *read_log(void)
{
	FILE *f = fopen(logpath, "r");
	char *buf = NULL;
	size_t cap = 0;

	if (!f)
		return strdup("");
	getdelim(&buf, &cap, '\0', f);
	fclose(f);
	return buf ? buf : strdup("");
}

static int log_count(const char *needle)
{
	char *log = read_log(), *p = log;
	int n = 0;

	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	free(log);
	return n;
}

struct needle {
	const char *text;
	int count;
};

static int log_has(void *arg)
{
	struct needle *n = arg;

	return log_count(n->text) >= n->count;
}

static int wait_log(const char *text, int count, int timeout_ms)
{
	struct needle n = { text, count };

	return itest_wait_for(log_has, &n, timeout_ms);
}

/* The number after the last "needle" in the log (e.g. "resize 4 -> 6 took "). */
static long log_number_after(const char *needle)
{
	char *log = read_log(), *p = log, *last = NULL;
	long v = -1;

	while ((p = strstr(p, needle)))
		last = p++;
	if (last)
		v = strtol(last + strlen(needle), NULL, 10);
	free(log);
	return v;
}

/* The number just before the last "needle" (e.g. " ms after its predecessor died"). */
static long log_number_before(const char *needle)
{
	char *log = read_log(), *p = log, *last = NULL;
	long v = -1;

	while ((p = strstr(p, needle)))
		last = p++;
	if (last) {
		while (last > log && last[-1] >= '0' && last[-1] <= '9')
			last--;
		v = strtol(last, NULL, 10);
	}
	free(log);
	return v;
}

/* ==================================================== 1. kill -9 under load */

struct new_ready {
	int index, old_pid, pid;
};

static int replaced_and_ready(void *arg)
{
	struct new_ready *r = arg;
	json_t *doc = get_json("/status");
	int pid = doc ? worker_pid(doc, r->index) : 0;
	int ok = pid > 0 && pid != r->old_pid && worker_is(doc, r->index, "ready");

	json_decref(doc);
	if (ok)
		r->pid = pid;
	return ok;
}

/* kill -9 worker index, then the ms until /status shows a new pid READY (polling
 * every 10 ms), or -1 after timeout_ms. */
static long kill9_and_time(int index, int old_pid, int timeout_ms)
{
	struct new_ready r = { index, old_pid, 0 };
	int64_t t0 = itest_now_ms();

	ck_assert_int_eq(kill(old_pid, SIGKILL), 0);
	while (itest_now_ms() - t0 < timeout_ms) {
		if (replaced_and_ready(&r))
			return (long)(itest_now_ms() - t0);
		usleep(POLL_US);
	}
	return -1;
}

START_TEST(kill9_worker_under_load_respawns_fast_and_loses_nothing)
{
	int pids[4];
	long took, unknown, sent, sends;

	fake = start_fake("50");
	import_cast(20);
	/* 32 in flight per worker at 50 ms each: ~1 s of work, always some in flight. */
	setenv("PIYASA_MAX_INFLIGHT", "32", 1);
	sup = start_sup("--workers", "4", NULL);
	wait_fleet(4, 20000);
	fleet_pids(4, pids);
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "2000", NULL), 0);
	/* Mid-run: jobs are leased, in the LLM call and in the send. */
	ck_assert(itest_wait_for(sent_at_least, (void *)(intptr_t)300, 30000));
	took = kill9_and_time(0, pids[0], 5000);
	ck_assert_msg(took >= 0, "worker 0 was not replaced by a READY worker within 5 s");
	wait_log(" ms after its predecessor died", 1, 2000); /* the tick after READY logs it */
	fprintf(stderr,
		"measured: respawn after kill -9 under load: %ld ms until /status showed "
		"the new pid ready (supervisor log: ready %ld ms after its predecessor died)\n",
		took, log_number_before(" ms after its predecessor died"));
	ck_assert_msg(took < 1000, "the new worker was READY only %ld ms after the kill", took);
	wait_terminal(2000, 60000);
	sent = with_status("sent");
	unknown = with_status("unknown");
	sends = fake_stat("sends");
	fprintf(stderr,
		"measured: kill -9 of a worker with 2000 jobs: %ld sent, %ld unknown, "
		"%ld sends at the fake\n",
		sent, unknown, sends);
	/* One row per job; 'unknown' only where a send may have happened. */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages"), 2000);
	ck_assert_int_eq(itest_pg_int("SELECT count(DISTINCT job_id) FROM messages"), 2000);
	ck_assert_int_eq(sent + unknown, 2000);
	ck_assert_int_eq(fake_stat("duplicate_sends"), 0);
	ck_assert_int_ge(sends, sent);
	ck_assert_int_le(sends, sent + unknown);
	/* The successor took back the leases of the jobs its predecessor held. */
	ck_assert_msg(log_count("leased jobs of an earlier worker 0") == 1,
		      "worker 0 held no jobs when it was killed: the test did not test");
	fprintf(stderr, "measured: the successor took back %ld leased jobs\n",
		log_number_before(" leased jobs of an earlier worker 0"));
	ck_assert(alive(sup));
}
END_TEST

/* ====================================================== 2. a crash loop */

static int live(void *arg)
{
	(void)arg;
	return http_status("/health/live") == 200;
}

static int lines_in(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* A worker that crashes at once 20 times on index 0 (each start stamped in
 * starts), then runs for real; index 1 and the reshard are the real worker. */
static void write_crasher(const char *path, const char *starts)
{
	char *real = itest_bin("worker"), *text;

	ck_assert_int_ge(asprintf(&text,
				  "#!/bin/sh\n"
				  "case \" $* \" in\n"
				  "*\" --index 0 \"*)\n"
				  "  date +%%s%%N >> %s\n"
				  "  [ \"$(wc -l < %s)\" -gt 20 ] && exec %s \"$@\"\n"
				  "  exit 1 ;;\n"
				  "esac\n"
				  "exec %s \"$@\"\n",
				  starts, starts, real, real),
			 0);
	write_file(path, text);
	ck_assert_int_eq(chmod(path, 0755), 0);
	free(text);
	free(real);
}

static int crash_loop_reported(void)
{
	json_t *doc = get_json("/status");
	int st = json_is_true(json_object_get(status_worker(doc, 0), "crash_loop"));
	long code;
	char *m = itest_http_get(itest_http_port(), "/metrics", &code);
	int metric = m && strstr(m, "\npiyasa_worker_crash_loop{worker=\"0\"} 1\n") != NULL;

	json_decref(doc);
	free(m);
	return st && metric;
}

START_TEST(twenty_crashes_in_a_row_back_off_and_the_supervisor_stays_up)
{
	char wrapper[128], starts[128];
	long long t[21];
	int seen_loop = 0, n;
	FILE *f;

	snprintf(wrapper, sizeof wrapper, "/tmp/itest-crasher-%d.sh", (int)getpid());
	snprintf(starts, sizeof starts, "/tmp/itest-crasher-%d.starts", (int)getpid());
	unlink(starts);
	write_crasher(wrapper, starts);
	/* A low cap keeps the test short and shows it is honoured: 100, 200, 400, 800, 800 ... */
	write_file(cfgpath, "respawn_max_ms = 800\n");
	setenv("PIYASA_WORKER_BIN", wrapper, 1);
	fake = start_fake(NULL);
	import_cast(4);
	sup = start_sup("--workers", "2", "--config", cfgpath, NULL);
	ck_assert(itest_wait_for(live, NULL, 10000));
	for (int64_t end = itest_now_ms() + 40000; (n = lines_in(starts)) < 21;) {
		ck_assert_msg(itest_now_ms() < end, "only %d starts of worker 0 in 40 s", n);
		ck_assert_msg(alive(sup), "the supervisor died during the crash loop");
		ck_assert_int_eq(http_status("/health/live"), 200);
		if (n >= 8 && !seen_loop)
			seen_loop = crash_loop_reported();
		usleep(50000);
	}
	ck_assert_msg(seen_loop, "neither /status nor piyasa_worker_crash_loop said crash loop");
	ck_assert_int_eq(log_count("worker 0 is crash-looping"), 1);
	f = fopen(starts, "r");
	for (int i = 0; i < 21; i++)
		ck_assert_int_eq(fscanf(f, "%lld", &t[i]), 1);
	fclose(f);
	fprintf(stderr, "measured: intervals between 21 starts of a crashing worker (ms):");
	for (int i = 0; i < 20; i++)
		fprintf(stderr, " %lld", (t[i + 1] - t[i]) / 1000000);
	fprintf(stderr, "\n");
	/* Equal jitter: the k-th delay is in [c/2, c] with c = min(800, 100 * 2^k), so
	 * the intervals double until the cap and stay between half of it and it. The
	 * wrapper's own start-up (shell, date) blurs each interval by some ms: 30 ms
	 * of margin below, 500 above for a loaded machine. */
	for (int i = 0; i < 20; i++) {
		long long ms = (t[i + 1] - t[i]) / 1000000, c = i < 3 ? 100LL << i : 800;
		ck_assert_msg(ms >= c / 2 - 30, "interval %d is %lld ms, below %lld", i, ms, c / 2);
		ck_assert_msg(ms <= c + 500, "interval %d is %lld ms, far above its cap %lld", i,
			      ms, c);
		/* capped delays (>= 400 ms) are all longer than the first two (<= 200 ms) */
		if (i >= 3)
			for (int k = 0; k < 2; k++)
				ck_assert_int_gt(ms, (t[k + 1] - t[k]) / 1000000);
	}
	/* The supervisor kept respawning: the 21st start is the real worker, it comes up. */
	wait_fleet(2, 20000);
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "20", NULL), 0);
	wait_terminal(20, 20000);
	assert_exactly_once(20);
	ck_assert(alive(sup));
	unsetenv("PIYASA_WORKER_BIN");
	unlink(wrapper);
	unlink(starts);
}
END_TEST

/* ================================================ 3. SIGHUP, bad config */

START_TEST(sighup_with_a_bad_config_keeps_running)
{
	int before[2], after[2];
	char where[160];
	json_t *doc;
	long took;

	write_file(cfgpath, "# itest\nworkers = 2\ndrain_timeout_ms = 5000\n");
	fake = start_fake(NULL);
	import_cast(4);
	sup = start_sup("--config", cfgpath, NULL);
	wait_fleet(2, 20000);
	fleet_pids(2, before);
	write_file(cfgpath, "# itest\nworkers = 2\nfrobnicate_level = 11\n");
	kill(sup, SIGHUP);
	ck_assert_msg(wait_log("reload failed", 1, 5000), "no 'reload failed' line in %s", logpath);
	snprintf(where, sizeof where, "%s:3:", cfgpath);
	ck_assert_int_eq(log_count(where), 1);
	ck_assert_int_eq(log_count("frobnicate_level"), 1);
	ck_assert(alive(sup));
	usleep(300000); /* long enough for a wrong restart to show */
	ck_assert_int_eq(http_status("/health/ready"), 200);
	fleet_pids(2, after);
	ck_assert_int_eq(after[0], before[0]);
	ck_assert_int_eq(after[1], before[1]);
	doc = get_json("/status");
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "reloads")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "config"),
							    "drain_timeout_ms")),
			 5000);
	json_decref(doc);
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "40", NULL), 0);
	wait_terminal(40, 20000);
	/* "Keeping the running configuration" holds for what starts later too: a
	 * worker that dies now comes back, and a resize still completes, while the
	 * file on disk is still bad. */
	took = kill9_and_time(0, before[0], 5000);
	ck_assert_msg(took >= 0, "after a bad reload, a killed worker did not come back (log: %s)",
		      logpath);
	kill(sup, SIGTTIN);
	ck_assert_msg(wait_log("resize 2 -> 3 took", 1, 10000),
		      "after a bad reload, a resize 2 -> 3 did not complete (log: %s)", logpath);
	wait_fleet(3, 5000);
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "30", NULL), 0);
	wait_terminal(70, 20000);
	assert_exactly_once(70);
}
END_TEST

/* ========================= 3b. SIGHUP, a file the parser takes but -t refuses */

static char keypath[128];

/* The file of this test: the services and the token key in it, not in the
 * environment (a variable wins over the file), then extra. */
static void write_full_config(const char *extra)
{
	char text[2048];

	snprintf(text, sizeof text,
		 "# itest\nworkers = 2\ndatabase_url = %s\nredis_url = %s\ntoken_key_file = %s\n%s",
		 getenv("PIYASA_DATABASE_URL"), getenv("PIYASA_REDIS_URL"), keypath, extra);
	write_file(cfgpath, text);
}

/* The supervisor with the services and the key from its file only; the test's
 * own environment (piyasactl) keeps them. */
static pid_t start_sup_file_only(void)
{
	const char *vars[] = { "PIYASA_DATABASE_URL", "PIYASA_REDIS_URL", "PIYASA_TOKEN_KEY",
			       "PIYASA_TOKEN_KEY_FILE" };
	char *saved[4];
	pid_t pid;

	for (int i = 0; i < 4; i++) {
		saved[i] = getenv(vars[i]) ? strdup(getenv(vars[i])) : NULL;
		unsetenv(vars[i]);
	}
	pid = start_sup("--config", cfgpath, NULL);
	for (int i = 0; i < 4; i++) {
		if (saved[i])
			setenv(vars[i], saved[i], 1);
		free(saved[i]);
	}
	return pid;
}

/* The key piyasactl seals the tokens with, in a file of its own. */
static void write_key_file(void)
{
	const char *env = getenv("PIYASA_TOKEN_KEY"), *file = getenv("PIYASA_TOKEN_KEY_FILE");
	char buf[128] = "";
	FILE *f;

	if (env && *env) {
		snprintf(buf, sizeof buf, "%s", env);
	} else {
		ck_assert_ptr_nonnull(file);
		ck_assert_ptr_nonnull(f = fopen(file, "r"));
		ck_assert(fgets(buf, sizeof buf, f) != NULL);
		fclose(f);
	}
	snprintf(keypath, sizeof keypath, "/tmp/itest-sup-%d.key", (int)getpid());
	ck_assert_ptr_nonnull(f = fopen(keypath, "w"));
	fputs(buf, f);
	fclose(f);
	chmod(keypath, 0600);
}

static long long status_num(const char *key)
{
	json_t *doc = get_json("/status");
	long long v;

	ck_assert_ptr_nonnull(doc);
	v = json_integer_value(json_object_get(doc, key));
	json_decref(doc);
	return v;
}

/* The value of an unlabelled sample of /metrics, -1 when absent. */
static double metric(const char *name)
{
	long st;
	char *m = itest_http_get(itest_http_port(), "/metrics", &st), *p, key[96];
	double v = -1;

	snprintf(key, sizeof key, "\n%s ", name);
	if (m && (p = strstr(m, key)))
		v = strtod(p + strlen(key), NULL);
	free(m);
	return v;
}

START_TEST(sighup_refuses_what_supervisor_t_refuses)
{
	static const struct {
		const char *line, *key, *why;
	} bad[] = {
		{ "redis_url = http://foo\n", "redis_url", "redis url must start with" },
		{ "database_url = postgresql://u@h:99999/db\n", "database_url", "bad port '99999'" },
		{ "token_key_file = /nonexistent/token_key\n", "token_key_file",
		  "/nonexistent/token_key" },
	};
	int before[2], after[2];
	char where[256], *out = NULL, *err = NULL;
	int64_t t0;
	json_t *doc;

	write_key_file();
	write_full_config("drain_timeout_ms = 5000\n");
	fake = start_fake(NULL);
	import_cast(4);
	sup = start_sup_file_only();
	wait_fleet(2, 20000);
	fleet_pids(2, before);
	for (int i = 0; i < 3; i++) {
		/* Line 6: after the five of write_full_config, a later line wins. */
		write_full_config(bad[i].line);
		if (i == 1) {
			/* piyasactl says at once that it was refused (not after its timeout). */
			t0 = itest_now_ms();
			ck_assert_int_ne(itest_ctl_io(NULL, &out, &err, "fleet", "reload", NULL), 0);
			ck_assert_msg(err && strstr(err, "refused"), "%s", err ? err : "");
			ck_assert_int_lt(itest_now_ms() - t0, 5000);
			free(out);
			free(err);
		} else {
			kill(sup, SIGHUP);
		}
		ck_assert_msg(wait_log("reload failed, keeping the running configuration", i + 1, 5000),
			      "SIGHUP %d: no 'reload failed' line in %s", i, logpath);
		snprintf(where, sizeof where, "%s:6: %s: ", cfgpath, bad[i].key);
		ck_assert_msg(log_count(where) == 1, "no '%s' in %s", where, logpath);
		ck_assert_msg(log_count(bad[i].why) >= 1, "no '%s' in %s", bad[i].why, logpath);
		ck_assert_int_eq(status_num("reloads_refused"), i + 1);
		ck_assert_int_eq(status_num("reloads"), 0);
		ck_assert_int_eq(metric("piyasa_supervisor_reloads_refused_total"), i + 1);
	}
	ck_assert(alive(sup));
	ck_assert_int_eq(http_status("/health/ready"), 200);
	fleet_pids(2, after);
	ck_assert_int_eq(after[0], before[0]);
	ck_assert_int_eq(after[1], before[1]);
	/* The fleet runs on the old file: jobs go through, and a worker killed now
	 * comes back with the old key and services (the file on disk is bad). */
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "20", NULL), 0);
	wait_terminal(20, 20000);
	ck_assert_msg(kill9_and_time(0, before[0], 5000) >= 0,
		      "after refused reloads, a killed worker did not come back (log: %s)", logpath);
	/* Then a good file is taken. */
	write_full_config("drain_timeout_ms = 6000\n");
	kill(sup, SIGHUP);
	ck_assert_msg(wait_log("configuration reloaded", 1, 5000), "no reload in %s", logpath);
	ck_assert_int_eq(status_num("reloads"), 1);
	ck_assert_int_eq(status_num("reloads_refused"), 3);
	doc = get_json("/status");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "config"),
							    "drain_timeout_ms")),
			 6000);
	json_decref(doc);
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "20", NULL), 0);
	wait_terminal(40, 20000);
	assert_exactly_once(40);
	unlink(keypath);
}
END_TEST

/* ========================================= 4. resize 4 -> 6 -> 5 under a stream */

/* A child that runs `piyasactl enqueue --count 50` every 100 ms for ms, then
 * writes "ok failed" runs to fd. */
static pid_t start_producer(int fd, int ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		int ok = 0, failed = 0;
		int64_t end = itest_now_ms() + ms;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(janitor_fd);
		janitor_fd = -1;
		while (itest_now_ms() < end) {
			int64_t next = itest_now_ms() + 100;
			if (ctl("enqueue", "--chat", CHAT_S, "--count", "50", NULL) == 0)
				ok++;
			else
				failed++;
			while (itest_now_ms() < next)
				usleep(5000);
		}
		dprintf(fd, "%d %d\n", ok, failed);
		_exit(0);
	}
	janitor_note(pid);
	return pid;
}

/* The longest gap in ms between two consecutive sends that ended in [from, to]
 * (wall-clock ms): how long the chat went silent. */
static long longest_gap(int64_t from, int64_t to)
{
	char sql[512];

	snprintf(sql, sizeof sql,
		 "SELECT coalesce(max(g), 0)::bigint FROM (SELECT sent_at, extract(epoch FROM "
		 "sent_at - lag(sent_at) OVER (ORDER BY sent_at)) * 1000 AS g FROM messages "
		 "WHERE status = 'sent') x WHERE sent_at > to_timestamp(%.3f) "
		 "AND sent_at <= to_timestamp(%.3f)",
		 from / 1e3, to / 1e3);
	return (long)itest_pg_int(sql);
}

static void sleep_until(int64_t t)
{
	while (itest_now_ms() < t)
		usleep(POLL_US);
}

START_TEST(resize_four_six_five_under_a_stream_runs_every_job_once)
{
	const char *conf = "drain_timeout_ms = 5000\nworkers = 4\n";
	int p[2], ok = -1, failed = -1, ready = 0;
	int64_t t0, r_reload, r_grow, r_shrink, r_start;
	long grow_ms, shrink_ms;
	char line[64] = "";
	json_t *doc;

	write_file(cfgpath, conf);
	fake = start_fake("20");
	import_cast(30);
	sup = start_sup("--config", cfgpath, NULL);
	wait_fleet(4, 20000);
	ck_assert_int_eq(pipe(p), 0);
	t0 = itest_now_ms();
	r_start = real_ms();
	producer = start_producer(p[1], 6000);
	close(p[1]);
	/* 1 s: a reload that changes nothing; 2 s: workers = 6; then SIGTTOU. */
	sleep_until(t0 + 1000);
	r_reload = real_ms();
	kill(sup, SIGHUP);
	sleep_until(t0 + 2000);
	write_file(cfgpath, "drain_timeout_ms = 5000\nworkers = 6\n");
	r_grow = real_ms();
	kill(sup, SIGHUP);
	ck_assert_msg(wait_log("resize 4 -> 6 took", 1, 20000), "resize 4 -> 6 did not end");
	sleep_until(itest_now_ms() + 1000);
	r_shrink = real_ms();
	kill(sup, SIGTTOU);
	ck_assert_msg(wait_log("resize 6 -> 5 took", 1, 20000), "resize 6 -> 5 did not end");
	ck_assert_int_gt(read(p[0], line, sizeof line - 1), 0);
	close(p[0]);
	ck_assert_int_eq(sscanf(line, "%d %d", &ok, &failed), 2);
	ck_assert_int_eq(itest_wait_exit(producer, 5000) >= 0, 1);
	reaped(&producer);
	ck_assert_msg(failed == 0, "%d of %d enqueue runs failed (log: %s)", failed, ok + failed,
		      logpath);
	ck_assert_int_gt(ok, 20);
	wait_terminal(50LL * ok, 60000);
	assert_exactly_once(50LL * ok);
	/* /status: five workers, all ready; index 5 stopped. */
	wait_fleet(5, 10000);
	doc = get_json("/status");
	for (int i = 0; i < 6; i++)
		ready += worker_is(doc, i, "ready");
	ck_assert_int_eq(ready, 5);
	ck_assert(worker_is(doc, 5, "stopped"));
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "resizes")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "reloads")), 2);
	json_decref(doc);
	grow_ms = log_number_after("resize 4 -> 6 took ");
	shrink_ms = log_number_after("resize 6 -> 5 took ");
	fprintf(stderr,
		"measured: %d jobs in a stream; resize 4 -> 6 took %ld ms, 6 -> 5 took "
		"%ld ms (supervisor log); longest silence in the chat: %ld ms before, %ld ms "
		"after the reload, %ld ms after 4 -> 6, %ld ms after 6 -> 5\n",
		50 * ok, grow_ms, shrink_ms, longest_gap(r_start + 200, r_reload),
		longest_gap(r_reload, r_reload + 900), longest_gap(r_grow, r_grow + 900),
		longest_gap(r_shrink, r_shrink + 900));
	ck_assert_int_ge(grow_ms, 0);
	ck_assert_int_ge(shrink_ms, 0);
	ck_assert_msg(grow_ms < 5000 && shrink_ms < 5000, "a resize paused the fleet for seconds");
}
END_TEST

/* ================================================ 5. SIGTERM under load */

static long long redis_leftovers(int workers)
{
	const char *prefix = getenv("PIYASA_REDIS_PREFIX");
	long long n = 0;

	for (int w = 0; w < workers; w++) {
		char key[96];
		snprintf(key, sizeof key, "%s:{w%d}:jobs", prefix, w);
		n += itest_redis_int("HLEN %s", key);
	}
	return n;
}

START_TEST(sigterm_under_load_drains_in_time_and_loses_nothing)
{
	int64_t t0;
	long drain_ms;
	int st;
	long long done, left;

	write_file(cfgpath, "drain_timeout_ms = 5000\nmax_inflight = 64\n");
	fake = start_fake("100");
	import_cast(20);
	sup = start_sup("--workers", "4", "--config", cfgpath, NULL);
	wait_fleet(4, 20000);
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "3000", NULL), 0);
	ck_assert(itest_wait_for(sent_at_least, (void *)(intptr_t)500, 30000));
	t0 = itest_now_ms();
	kill(sup, SIGTERM);
	st = itest_wait_exit(sup, 5000 + 1000);
	drain_ms = (long)(itest_now_ms() - t0);
	ck_assert_msg(st >= 0, "the supervisor still ran %ld ms after SIGTERM", drain_ms);
	reaped(&sup);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
	done = terminal();
	left = redis_leftovers(4);
	fprintf(stderr,
		"measured: SIGTERM with %lld of 3000 jobs done: supervisor exited 0 in "
		"%ld ms (log: every worker stopped in %ld ms), %lld left in Redis\n",
		done, drain_ms, log_number_after("every worker stopped in "), left);
	ck_assert_int_lt(done, 3000); /* it really was mid-way */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status IN "
				      "('sending','retry')"),
			 0);
	ck_assert_int_eq(done + left, 3000);
	/* The next start finishes the rest, each job once. */
	sup = start_sup("--workers", "4", "--config", cfgpath, NULL);
	wait_terminal(3000, 60000);
	assert_exactly_once(3000);
}
END_TEST

/* Issue 18, item 6: jobs waiting in a worker's memory (here for Telegram's
 * pacing, up to TASK_HOLD_MAX_MS) are handed back to the queue at a drain,
 * so the drain does not wait for them (before: drain_timeout_ms, then
 * SIGKILL); each exit is clean. */
START_TEST(a_drain_hands_back_the_jobs_held_for_pacing)
{
	int64_t t0;
	long drain_ms;
	int st;
	long long done, left;

	setenv("PIYASA_TELEGRAM_PACING", "on", 1);
	write_file(cfgpath, "drain_timeout_ms = 5000\nmax_inflight = 64\n");
	fake = start_fake(NULL);
	import_cast(4);
	sup = start_sup("--workers", "2", "--config", cfgpath, NULL);
	wait_fleet(2, 20000);
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "200", NULL), 0);
	ck_assert(itest_wait_for(sent_at_least, (void *)(intptr_t)2, 30000));
	usleep(300000); /* the rest wait for the chat's pacing */
	t0 = itest_now_ms();
	kill(sup, SIGTERM);
	st = itest_wait_exit(sup, 5000 + 3000);
	drain_ms = (long)(itest_now_ms() - t0);
	ck_assert_msg(st >= 0, "the supervisor still ran %ld ms after SIGTERM", drain_ms);
	reaped(&sup);
	done = terminal();
	left = redis_leftovers(2);
	fprintf(stderr,
		"measured: SIGTERM with %lld of 200 jobs sent, the rest held for pacing: "
		"exited in %ld ms (log: every worker stopped in %ld ms), %lld back in Redis\n",
		done, drain_ms, log_number_after("every worker stopped in "), left);
	ck_assert_msg(drain_ms < 2000, "the drain took %ld ms", drain_ms);
	ck_assert_int_eq(log_count("drained: exiting"), 2);
	ck_assert_int_eq(log_count("handles still open"), 0);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status IN "
				      "('sending','retry')"),
			 0);
	ck_assert_int_eq(done + left, 200);
}
END_TEST

/* Run a shell command of the test services (scripts/services and redis-cli,
 * with the ports scripts/test exported). */
static void services(const char *what)
{
	const char *port = getenv("PIYASA_REDIS_PORT"), *bin = getenv("PIYASA_BIN_DIR");
	char cmd[1024];

	ck_assert_ptr_nonnull(port);
	ck_assert_ptr_nonnull(bin);
	if (strcmp(what, "redis-stop") == 0)
		snprintf(cmd, sizeof cmd, "redis-cli -p %s shutdown >/dev/null 2>&1", port);
	else
		snprintf(cmd, sizeof cmd, "bash %s/../../../scripts/services start >/dev/null", bin);
	ck_assert_int_eq(system(cmd), 0);
}

/* Issue 18, item 6: every clean exit logged "loop closed with handles still
 * open" once Redis had been restarted: a notices subscription (rsub) whose
 * reconnect was still under way was freed without closing its timer. */
START_TEST(a_drain_after_a_redis_restart_closes_the_loop_clean)
{
	int st;

	write_file(cfgpath, "drain_timeout_ms = 5000\n");
	fake = start_fake(NULL);
	import_cast(4);
	sup = start_sup("--workers", "2", "--config", cfgpath, NULL);
	wait_fleet(2, 20000);
	services("redis-stop");
	usleep(3000000); /* the subscriptions retry every 2 s: one try while down */
	services("start");
	usleep(1000000);
	kill(sup, SIGTERM);
	st = itest_wait_exit(sup, 5000 + 3000);
	ck_assert(st >= 0);
	reaped(&sup);
	/* each worker's three subscriptions: settings, chats, bots */
	ck_assert_int_eq(log_count("notices: redis connection lost"), 6);
	ck_assert_int_eq(log_count("drained: exiting"), 2);
	ck_assert_int_eq(log_count("handles still open"), 0);
}
END_TEST

/* ======================================================= 6. NOTIFY_SOCKET */

struct note {
	char text[512];
	int64_t at_us; /* CLOCK_MONOTONIC when received */
	pid_t pid;
};

static struct note notes[256];
static int nnotes;

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int notify_open(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1;

	ck_assert_int_ge(fd, 0);
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	unlink(path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on), 0);
	return fd;
}

/* Receive datagrams for up to timeout_ms; stop early at one that has the line
 * `line` (NULL: just drain). The index of that message, or -1. */
static int notify_until(int fd, const char *line, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;
	char ctl_buf[CMSG_SPACE(sizeof(struct ucred))];

	for (;;) {
		int left = (int)(end - itest_now_ms());
		struct pollfd pfd = { fd, POLLIN, 0 };
		struct note *n = &notes[nnotes < 255 ? nnotes : 255];
		struct iovec iov = { n->text, sizeof n->text - 1 };
		struct msghdr m = { .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctl_buf,
				    .msg_controllen = sizeof ctl_buf };
		ssize_t len;

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return -1;
		if ((len = recvmsg(fd, &m, 0)) < 0)
			continue;
		n->text[len] = '\0';
		n->at_us = mono_us();
		n->pid = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
				n->pid = ((struct ucred *)CMSG_DATA(c))->pid;
		if (nnotes < 255)
			nnotes++;
		if (line && n->pid == sup) {
			/* match a whole line */
			for (char *p = n->text; (p = strstr(p, line)); p++)
				if ((p == n->text || p[-1] == '\n') &&
				    (p[strlen(line)] == '\n' || !p[strlen(line)]))
					return (int)(n - notes);
		}
	}
}

static int note_has(int i, const char *line)
{
	for (const char *p = notes[i].text; (p = strstr(p, line)); p++)
		if ((p == notes[i].text || p[-1] == '\n') &&
		    (p[strlen(line)] == '\n' || !p[strlen(line)]))
			return 1;
	return 0;
}

/* LLM tokens the fake counted for a model. */
static long long model_tokens(const char *model)
{
	json_t *st = itest_fake_stats();
	long long v =
		json_integer_value(json_object_get(json_object_get(st, "tokens_by_model"), model));

	json_decref(st);
	return v;
}

START_TEST(notify_socket_sees_ready_reloading_ready_watchdog_stopping)
{
	char path[108];
	int fd, ready1, reloading, ready2, stopping, watchdogs = 0, others = 0, before[2], after[2];
	long long mono = -1, model_a;
	const char *mu;
	int st;

	snprintf(path, sizeof path, "/tmp/itest-notify-%d.sock", (int)getpid());
	fd = notify_open(path);
	write_file(cfgpath,
		   "workers = 2\n[provider p1]\nbase_url = http://unused/v1\nmodel = model-a\n");
	fake = start_fake(NULL);
	import_cast(4);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "1000000", 1);
	sup = start_sup("--config", cfgpath, NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	ready1 = notify_until(fd, "READY=1", 20000);
	ck_assert_msg(ready1 >= 0, "no READY=1 from the supervisor");
	/* READY=1 means every worker is READY (with Redis and PostgreSQL up). */
	ck_assert_int_eq(http_status("/health/ready"), 200);
	wait_fleet(2, 5000);
	fleet_pids(2, before);
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "10", NULL), 0);
	wait_terminal(10, 20000);
	model_a = model_tokens("model-a");
	ck_assert_int_gt(model_a, 0);
	write_file(cfgpath,
		   "workers = 2\n[provider p1]\nbase_url = http://unused/v1\nmodel = model-b\n");
	kill(sup, SIGHUP);
	reloading = notify_until(fd, "RELOADING=1", 5000);
	ck_assert_msg(reloading >= 0, "no RELOADING=1 after SIGHUP");
	ck_assert_ptr_nonnull(mu = strstr(notes[reloading].text, "MONOTONIC_USEC="));
	mono = atoll(mu + strlen("MONOTONIC_USEC="));
	/* CLOCK_MONOTONIC of the supervisor, at most a moment before we received it. */
	ck_assert_int_le(mono, notes[reloading].at_us);
	ck_assert_int_gt(mono, notes[reloading].at_us - 1000000);
	ready2 = notify_until(fd, "READY=1", 5000);
	ck_assert_msg(ready2 >= 0, "no READY=1 after RELOADING=1");
	fprintf(stderr,
		"measured: reload (SIGHUP, valid config, same size): RELOADING=1 -> "
		"READY=1 in %lld us\n",
		(long long)(notes[ready2].at_us - mono));
	/* WatchdogSec=1 s: a ping every 500 ms. */
	notify_until(fd, NULL, 1200);
	fleet_pids(2, after);
	ck_assert_int_eq(after[0], before[0]); /* a reload keeps the workers */
	ck_assert_int_eq(after[1], before[1]);
	/* ... and reaches them: both say so, and their next LLM calls use the new model. */
	ck_assert(wait_log(" configuration reloaded\n", 2, 5000));
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "10", NULL), 0);
	wait_terminal(20, 20000);
	ck_assert_int_eq(model_tokens("model-a"), model_a);
	ck_assert_int_gt(model_tokens("model-b"), 0);
	kill(sup, SIGTERM);
	stopping = notify_until(fd, "STOPPING=1", 10000);
	ck_assert_msg(stopping >= 0, "no STOPPING=1 after SIGTERM");
	st = itest_wait_exit(sup, 10000);
	if (st >= 0)
		reaped(&sup);
	ck_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (int i = 0; i < nnotes; i++) {
		watchdogs += notes[i].pid == notes[ready1].pid && note_has(i, "WATCHDOG=1");
		others += notes[i].pid != notes[ready1].pid;
	}
	ck_assert(ready1 < reloading && reloading < ready2 && ready2 < stopping);
	ck_assert_msg(watchdogs >= 1, "no WATCHDOG=1 in %d messages", nnotes);
	/* Only the supervisor talks to systemd (NotifyAccess=main would drop the rest). */
	ck_assert_int_eq(others, 0);
	/* Exactly one READY=1 between the start and the reload. */
	for (int i = ready1 + 1; i < reloading; i++)
		ck_assert(!note_has(i, "READY=1"));
	close(fd);
	unlink(path);
}
END_TEST

/* ============================================================ 7. /metrics */

struct sample {
	char name[128];
	char labels[256]; /* as written, without the braces */
	double v;
};

struct family {
	char name[128];
	char type[16];
};

struct scrape {
	struct sample s[1024];
	int n;
	struct family f[128];
	int nf;
};

static int name_ok(const char *p, size_t n, int metric)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			    (metric && c == ':');
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

static size_t name_len(const char *p, int metric)
{
	size_t n = 0;

	while (name_ok(p, n + 1, metric))
		n++;
	return n;
}

/* {k="v",...}: returns the length of the label set after '{' up to '}', or -1. */
static int parse_labels(const char *p)
{
	const char *s = p;

	while (*p != '}') {
		size_t n = name_len(p, 0);
		if (!n || p[n] != '=' || p[n + 1] != '"')
			return -1;
		for (p += n + 2; *p != '"'; p++) {
			if (!*p || *p == '\n')
				return -1;
			if (*p == '\\' && p[1] != '\\' && p[1] != '"' && p[1] != 'n')
				return -1;
			if (*p == '\\')
				p++;
		}
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return -1;
	}
	return (int)(p - s);
}

static int parse_value(const char *p, double *v)
{
	char *end;

	if (!strcmp(p, "+Inf") || !strcmp(p, "-Inf") || !strcmp(p, "NaN")) {
		*v = !strcmp(p, "NaN") ? NAN : p[0] == '+' ? INFINITY : -INFINITY;
		return 0;
	}
	if (!*p || strchr("0123456789+-.", *p) == NULL)
		return -1;
	errno = 0;
	*v = strtod(p, &end);
	return errno || *end ? -1 : 0;
}

static struct family *family_of(struct scrape *sc, const char *name)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };

	for (int i = 0; i < sc->nf; i++) {
		size_t fl = strlen(sc->f[i].name);
		if (!strcmp(sc->f[i].name, name))
			return &sc->f[i];
		if (strcmp(sc->f[i].type, "histogram") || strncmp(name, sc->f[i].name, fl))
			continue;
		for (int k = 0; k < 3; k++)
			if (!strcmp(name + fl, suffixes[k]))
				return &sc->f[i];
	}
	return NULL;
}

static struct sample *find_sample(struct scrape *sc, const char *name, const char *labels)
{
	for (int i = 0; i < sc->n; i++)
		if (!strcmp(sc->s[i].name, name) && !strcmp(sc->s[i].labels, labels))
			return &sc->s[i];
	return NULL;
}

static const char *comment(struct scrape *sc, char *line)
{
	static const char *const types[] = { "counter", "gauge", "histogram", "summary", "untyped" };
	char *name = line + 7, *sp;
	size_t n = name_len(name, 1);
	int known = 0;

	if (strncmp(line, "# HELP ", 7) && strncmp(line, "# TYPE ", 7))
		return "a comment that is neither # HELP nor # TYPE";
	if (!n || (name[n] != ' ' && name[n] != '\0'))
		return "a bad metric name in a comment";
	if (line[2] == 'H')
		return NULL;
	if (name[n] != ' ')
		return "a TYPE line without a type";
	sp = name + n;
	*sp = '\0';
	for (int i = 0; i < 5; i++)
		known |= !strcmp(sp + 1, types[i]);
	if (!known)
		return "an unknown TYPE";
	for (int i = 0; i < sc->nf; i++)
		if (!strcmp(sc->f[i].name, name))
			return "a second TYPE line for one family";
	for (int i = 0; i < sc->n; i++) {
		const char *rest = sc->s[i].name + n;
		if (!strncmp(sc->s[i].name, name, n) &&
		    (!*rest || !strcmp(rest, "_bucket") || !strcmp(rest, "_sum") ||
		     !strcmp(rest, "_count")))
			return "a TYPE line after samples of its family";
	}
	ck_assert_int_lt(sc->nf, 128);
	snprintf(sc->f[sc->nf].name, sizeof sc->f[0].name, "%s", name);
	snprintf(sc->f[sc->nf++].type, sizeof sc->f[0].type, "%s", sp + 1);
	return NULL;
}

static const char *sample(struct scrape *sc, char *line)
{
	struct sample *s = &sc->s[sc->n];
	size_t n = name_len(line, 1);
	char *p = line + n, *ts;
	int ll = 0;

	if (!n || n >= sizeof s->name)
		return "a bad metric name";
	snprintf(s->name, sizeof s->name, "%.*s", (int)n, line);
	s->labels[0] = '\0';
	if (*p == '{') {
		if ((ll = parse_labels(p + 1)) < 0 || ll >= (int)sizeof s->labels)
			return "bad labels";
		snprintf(s->labels, sizeof s->labels, "%.*s", ll, p + 1);
		p += ll + 2;
	}
	if (*p++ != ' ')
		return "no single space before the value";
	if ((ts = strchr(p, ' ')))
		*ts = '\0'; /* an optional timestamp: an integer */
	if (parse_value(p, &s->v) < 0)
		return "a value that is not a float";
	if (ts && (!*++ts || strspn(ts, "-0123456789") != strlen(ts)))
		return "a bad timestamp";
	if (!family_of(sc, s->name))
		return "a sample without a # TYPE line before it";
	if (find_sample(sc, s->name, s->labels))
		return "a series written twice";
	ck_assert_int_lt(sc->n, 1023);
	sc->n++;
	return NULL;
}

/* Prometheus text format 0.0.4, strictly: every line HELP, TYPE or a sample. */
static void parse_metrics(char *body, struct scrape *sc)
{
	char *line = body, *nl;
	int lineno = 0;

	memset(sc, 0, sizeof *sc);
	ck_assert_msg(*body && body[strlen(body) - 1] == '\n', "/metrics does not end in a newline");
	for (; *line; line = nl + 1) {
		char copy[1024];
		const char *why;

		nl = strchr(line, '\n');
		*nl = '\0';
		lineno++;
		snprintf(copy, sizeof copy, "%s", line);
		why = *line == '#' ? comment(sc, line)
		      : !*line     ? "an empty line"
				   : sample(sc, line);
		ck_assert_msg(!why, "/metrics line %d: %s: '%s'", lineno, why, copy);
	}
}

static void scrape(struct scrape *sc)
{
	long st;
	char *body = itest_http_get(itest_http_port(), "/metrics", &st);

	ck_assert_int_eq(st, 200);
	parse_metrics(body, sc);
	free(body);
}

static const char *label(const struct sample *s, const char *key, char *out, size_t n)
{
	char pat[64];
	const char *p;
	size_t len = 0;

	snprintf(pat, sizeof pat, "%s=\"", key);
	for (p = s->labels; (p = strstr(p, pat)); p++)
		if (p == s->labels || p[-1] == ',')
			break;
	if (!p)
		return NULL;
	for (p += strlen(pat); *p && *p != '"' && len + 1 < n; p++)
		out[len++] = *p == '\\' ? *++p : *p;
	out[len] = '\0';
	return out;
}

static double sum_of(struct scrape *sc, const char *name, const char *key, const char *value)
{
	double sum = 0;
	char v[64];

	for (int i = 0; i < sc->n; i++)
		if (!strcmp(sc->s[i].name, name) && label(&sc->s[i], key, v, sizeof v) &&
		    !strcmp(v, value))
			sum += sc->s[i].v;
	return sum;
}

/* The labels of a bucket without its le (the series' _count has these). */
static void series_labels(const char *labels, char *out, size_t n)
{
	const char *le = strstr(labels, "le=\"");
	size_t k = le ? (size_t)(le - labels) : strlen(labels);

	if (k && labels[k - 1] == ',')
		k--;
	snprintf(out, n, "%.*s", (int)k, labels);
}

/* One series of a histogram over: a last +Inf bucket equal to its _count. */
static void close_series(struct scrape *sc, const char *name, const char *key, double last_le,
			 double last, int nb)
{
	char count[160];
	struct sample *c;

	snprintf(count, sizeof count, "%s_count", name);
	ck_assert_msg(nb > 0 && isinf(last_le), "%s{%s} has no +Inf bucket", name, key);
	ck_assert_ptr_nonnull(c = find_sample(sc, count, key));
	ck_assert_msg(c->v == last, "%s{%s} %g != +Inf bucket %g", count, key, c->v, last);
}

/* Buckets: le ascending, counts cumulative, a last +Inf equal to _count, per
 * series (a labelled histogram, by kind or provider, has several). */
static void check_histograms(struct scrape *sc)
{
	for (int f = 0; f < sc->nf; f++) {
		char bucket[160], le[32], key[256] = "", k[256];
		double last_le = -INFINITY, last = 0;
		int nb = 0, series = 0;

		if (strcmp(sc->f[f].type, "histogram"))
			continue;
		snprintf(bucket, sizeof bucket, "%s_bucket", sc->f[f].name);
		for (int i = 0; i < sc->n; i++) {
			double b;
			if (strcmp(sc->s[i].name, bucket))
				continue;
			series_labels(sc->s[i].labels, k, sizeof k);
			if (!series || strcmp(k, key)) {
				if (series)
					close_series(sc, sc->f[f].name, key, last_le, last, nb);
				snprintf(key, sizeof key, "%s", k);
				last_le = -INFINITY;
				last = 0;
				nb = 0;
				series++;
			}
			ck_assert_ptr_nonnull(label(&sc->s[i], "le", le, sizeof le));
			ck_assert_int_eq(parse_value(le, &b), 0);
			ck_assert_msg(b > last_le, "%s: le=%s after le=%g", bucket, le, last_le);
			ck_assert_msg(sc->s[i].v >= last, "%s{le=\"%s\"} %g < %g: not cumulative",
				      bucket, le, sc->s[i].v, last);
			last_le = b;
			last = sc->s[i].v;
			nb++;
		}
		if (series)
			close_series(sc, sc->f[f].name, key, last_le, last, nb);
	}
}

static int jobs_metric_at_least(void *arg)
{
	static struct scrape sc;

	scrape(&sc);
	return sum_of(&sc, "piyasa_jobs_total", "outcome", "sent") >= (double)(intptr_t)arg;
}

/* No counter, histogram bucket, _sum or _count went down from a to b, and none vanished. */
static int counters_kept(struct scrape *a, struct scrape *b)
{
	int checked = 0;

	for (int i = 0; i < a->n; i++) {
		struct family *f = family_of(a, a->s[i].name);
		struct sample *later;

		if (strcmp(f->type, "counter") && strcmp(f->type, "histogram"))
			continue;
		/* A process's own counters (process_cpu_seconds_total) start again with
		 * each new process, as Prometheus expects of them; ours never do. */
		if (!strncmp(a->s[i].name, "process_", 8))
			continue;
		later = find_sample(b, a->s[i].name, a->s[i].labels);
		ck_assert_msg(later, "%s{%s} vanished", a->s[i].name, a->s[i].labels);
		ck_assert_msg(later->v >= a->s[i].v, "%s{%s} went back from %g to %g", a->s[i].name,
			      a->s[i].labels, a->s[i].v, later->v);
		checked++;
	}
	return checked;
}

START_TEST(metrics_are_strict_prometheus_and_agree_with_the_database)
{
	static struct scrape before, after;
	int pids[2], checked, scrapes = 1;
	int64_t t0;
	long took;

	fake = start_fake(NULL);
	import_cast(10);
	sup = start_sup("--workers", "2", NULL);
	wait_fleet(2, 20000);
	ck_assert_int_eq(ctl("enqueue", "--chat", CHAT_S, "--count", "500", NULL), 0);
	wait_terminal(500, 30000);
	/* The counters follow the ack, a moment after the row says sent. */
	ck_assert(itest_wait_for(jobs_metric_at_least, (void *)(intptr_t)500, 5000));
	scrape(&before);
	ck_assert_int_eq(with_status("sent"), 500);
	ck_assert_int_eq((long long)sum_of(&before, "piyasa_jobs_total", "outcome", "sent"), 500);
	ck_assert_int_eq((long long)sum_of(&before, "piyasa_telegram_calls_total", "outcome", "ok"),
			 500);
	ck_assert_ptr_nonnull(find_sample(&before, "piyasa_workers", ""));
	ck_assert_int_eq((long long)find_sample(&before, "piyasa_workers", "")->v, 2);
	check_histograms(&before);
	ck_assert_int_eq((long long)find_sample(&before, "piyasa_enqueue_to_sent_seconds_count", "")->v,
			 500);
	/* A kill -9: the dead worker's counts are kept, nothing goes back, not even
	 * for a moment: scrape every 10 ms from the kill until the new worker is READY. */
	fleet_pids(2, pids);
	ck_assert_int_eq(kill(pids[1], SIGKILL), 0);
	t0 = itest_now_ms();
	for (struct new_ready r = { 1, pids[1], 0 }; !replaced_and_ready(&r); scrapes++) {
		ck_assert_msg(itest_now_ms() - t0 < 5000, "worker 1 not replaced in 5 s");
		scrape(&after);
		counters_kept(&before, &after);
		check_histograms(&after);
		memcpy(&before, &after, sizeof before);
		usleep(POLL_US);
	}
	took = (long)(itest_now_ms() - t0);
	scrape(&after);
	checked = counters_kept(&before, &after);
	check_histograms(&after);
	ck_assert_int_eq((long long)sum_of(&after, "piyasa_jobs_total", "outcome", "sent"), 500);
	ck_assert_int_eq(
		(long long)find_sample(&after, "piyasa_worker_restarts_total", "worker=\"1\"")->v, 1);
	fprintf(stderr,
		"measured: /metrics: %d samples in %d families parsed strictly; %d counter "
		"and histogram series never went back over %d scrapes across a kill -9 "
		"(respawn %ld ms)\n",
		after.n, after.nf, checked, scrapes, took);
}
END_TEST

/* ================================================ 7. a chat made deaf */

#define STARS 4096
#define BIG_MSGS 90

static int all_heard(void *arg)
{
	char sql[160];

	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM messages WHERE chat_id = %s AND "
		 "status = 'received'",
		 CHAT_S);
	return itest_pg_int(sql) >= (long long)(intptr_t)arg;
}

/* Issue 19, item 3: ninety legal messages of 4096 stars (3 bytes each) make a
 * getUpdates answer over 1 MiB, which httpc refused as a network error; the
 * poll was retried for ever, in silence, and the chat went deaf. They must all
 * be stored; and a poll that keeps failing (the API away) must be logged with
 * the bot and counted in piyasa_poll_failures_total. */
START_TEST(a_huge_getupdates_answer_is_read_and_failing_polls_are_loud)
{
	char *star = malloc(STARS * 3 + 1), *body = malloc(STARS * 3 + 256);
	double failures;
	json_t *r;

	ck_assert(star && body);
	for (int i = 0; i < STARS; i++)
		memcpy(star + i * 3, "\xe2\x98\x85", 3); /* U+2605 */
	star[STARS * 3] = '\0';
	write_file(cfgpath, "# itest\nworkers = 1\n");
	fake = start_fake(NULL);
	import_cast(1);
	ck_assert_int_eq(ctl("settings", "set", "human_reply_probability", "0", NULL), 0);
	/* Pending before the bot's first poll, so they come in one answer. */
	for (int i = 0; i < BIG_MSGS; i++) {
		snprintf(body, STARS * 3 + 256,
			 "{\"chat_id\": %s, \"text\": \"%s\", \"from\": "
			 "\"ayse\", \"bot_ids\": [9000001]}",
			 CHAT_S, star);
		r = itest_fake_post("/_control/human", body);
		ck_assert_msg(r && json_integer_value(json_object_get(r, "delivered_to")) == 1,
			      "the fake did not queue message %d", i);
		json_decref(r);
	}
	free(star);
	free(body);
	sup = start_sup("--config", cfgpath, NULL);
	wait_fleet(1, 20000);
	ck_assert_msg(itest_wait_for(all_heard, (void *)(intptr_t)BIG_MSGS, 20000),
		      "%lld of %d messages of 4096 stars stored: the chat is deaf (log: %s)",
		      itest_pg_int("SELECT count(*) FROM messages WHERE status = 'received'"),
		      BIG_MSGS, logpath);
	ck_assert_int_eq(log_count("getUpdates failed"), 0);
	/* The API goes away: each poll fails (connection refused). */
	stop(&fake, SIGTERM);
	ck_assert_msg(wait_log("getUpdates failed 5 times in a row", 1, 40000),
		      "5 failed polls in a row and no warning (log: %s)", logpath);
	ck_assert_int_eq(log_count("bot=1 getUpdates failed 5 times in a row, the bot hears "
				   "nothing: "),
			 1);
	failures = metric("piyasa_poll_failures_total");
	ck_assert_msg(failures >= 5, "piyasa_poll_failures_total %g", failures);
	fake = start_fake(NULL);
	/* A message, so the first good poll answers at once, not after 25 s. */
	json_decref(itest_fake_post("/_control/human", "{\"chat_id\": " CHAT_S ", \"text\": "
						       "\"geri geldi\", \"bot_ids\": [9000001]}"));
	ck_assert_msg(wait_log("getUpdates works again after ", 1, 45000),
		      "no word of the polls working again (log: %s)", logpath);
}
END_TEST

/* ====================================================== 8. slowloris */

#define SLOW_CONNS 64

/* A connection to the supervisor's HTTP port that has sent a request line and
 * one header, and never ends its header. */
static int slow_open(void)
{
	static const char start[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_port = htons((uint16_t)itest_http_port());
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(send(fd, start, sizeof start - 1, MSG_NOSIGNAL), (ssize_t)(sizeof start - 1));
	return fd;
}

/* 1 when the server has closed fd (end of file, a reset, or an answer then the end). */
static int slow_closed(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[512];
	ssize_t n;

	while (poll(&p, 1, 0) == 1) {
		n = recv(fd, b, sizeof b, MSG_DONTWAIT);
		if (n <= 0)
			return n == 0 || errno != EAGAIN;
	}
	return 0;
}

/* The slowest /health/live of `probes`, one every 100 ms, in ms (5000: no answer). */
static long slowest_live(int probes)
{
	long worst = 0, took, st;
	int64_t t0;

	for (int i = 0; i < probes; i++) {
		t0 = real_ms();
		free(itest_http_get(itest_http_port(), "/health/live", &st));
		took = st == 200 ? (long)(real_ms() - t0) : 5000;
		if (took > worst)
			worst = took;
		usleep(100000);
	}
	return worst;
}

START_TEST(slow_clients_do_not_starve_health_and_metrics)
{
	int fds[SLOW_CONNS], closed = 0;
	long worst = 0, took;

	write_file(cfgpath, "# itest\nworkers = 1\n");
	fake = start_fake(NULL);
	import_cast(1);
	sup = start_sup("--config", cfgpath, NULL);
	wait_fleet(1, 20000);
	for (int i = 0; i < SLOW_CONNS; i++)
		fds[i] = slow_open();
	/* A header line from each every second, faster than the idle timeout: only
	 * the connection limits keep room for the probes. */
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < SLOW_CONNS; i++)
			send(fds[i], "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
		took = slowest_live(5);
		if (took > worst)
			worst = took;
		ck_assert_int_eq(http_status("/metrics"), 200);
	}
	fprintf(stderr, "measured: /health/live beside %d trickling connections: slowest %ld ms\n",
		SLOW_CONNS, worst);
	ck_assert_msg(worst < 1000, "/health/live took %ld ms beside %d slow clients (log: %s)",
		      worst, SLOW_CONNS, logpath);
	/* Then silent for longer than the idle timeout (3 s): each one is closed,
	 * as a trickle of a line every 4 s would be. */
	usleep(4500000);
	for (int i = 0; i < SLOW_CONNS; i++) {
		closed += slow_closed(fds[i]);
		close(fds[i]);
	}
	ck_assert_int_eq(closed, SLOW_CONNS);
	ck_assert_int_eq(http_status("/health/live"), 200);
}
END_TEST

/* One case per test, so one can be run alone: CK_RUN_CASE=resize itest_supervisor. */
static void add(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

static Suite *supervisor_suite(void)
{
	Suite *s = suite_create("supervisor");

	add(s, "kill9", kill9_worker_under_load_respawns_fast_and_loses_nothing);
	add(s, "crashloop", twenty_crashes_in_a_row_back_off_and_the_supervisor_stays_up);
	add(s, "badreload", sighup_with_a_bad_config_keeps_running);
	add(s, "badcheck", sighup_refuses_what_supervisor_t_refuses);
	add(s, "resize", resize_four_six_five_under_a_stream_runs_every_job_once);
	add(s, "sigterm", sigterm_under_load_drains_in_time_and_loses_nothing);
	add(s, "drainheld", a_drain_hands_back_the_jobs_held_for_pacing);
	add(s, "drainredis", a_drain_after_a_redis_restart_closes_the_loop_clean);
	add(s, "notify", notify_socket_sees_ready_reloading_ready_watchdog_stopping);
	add(s, "metrics", metrics_are_strict_prometheus_and_agree_with_the_database);
	add(s, "deaf", a_huge_getupdates_answer_is_read_and_failing_polls_are_loud);
	add(s, "slowloris", slow_clients_do_not_starve_health_and_metrics);
	return s;
}

CHECK_MAIN(supervisor_suite)
