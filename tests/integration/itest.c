/* itest: see itest.h. */
#include "tests/integration/itest.h"

#include "common/rurl.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char db_url[256], admin_url[256], db_name[64], prefix[32];
static int fake_port, http_port;

int itest_fake_port(void)
{
	return fake_port;
}
int itest_http_port(void)
{
	return http_port;
}

int64_t itest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *itest_bin(const char *name)
{
	const char *dir = getenv("PIYASA_BIN_DIR");
	char *p;

	if (asprintf(&p, "%s/%s", dir && *dir ? dir : "bin", name) < 0)
		abort();
	return p;
}

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int admin_exec(const char *sql)
{
	PGconn *c = PQconnectdb(admin_url);
	PGresult *r;
	int ok;

	PQsetNoticeProcessor(c, quiet_notice, NULL);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "itest: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "itest: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

void itest_env_setup(void)
{
	const char *pg = getenv("PIYASA_PG_PORT"), *rd = getenv("PIYASA_REDIS_PORT");
	char sql[128], url[256], *ctl;
	int pid = (int)getpid();

	pg = pg && *pg ? pg : "25432";
	rd = rd && *rd ? rd : "26379";
	snprintf(db_name, sizeof db_name, "itest_%d", pid);
	snprintf(admin_url, sizeof admin_url, "postgresql://postgres@127.0.0.1:%s/postgres", pg);
	snprintf(db_url, sizeof db_url, "postgresql://postgres@127.0.0.1:%s/%s", pg, db_name);
	snprintf(prefix, sizeof prefix, "it%d", pid);
	/* scripts/test exports the URL with the password of the test Redis. */
	if (getenv("PIYASA_REDIS_URL"))
		snprintf(url, sizeof url, "%s", getenv("PIYASA_REDIS_URL"));
	else
		snprintf(url, sizeof url, "redis://127.0.0.1:%s", rd);
	fake_port = 11000 + (pid % 6000) * 2; /* below the ephemeral range */
	http_port = fake_port + 1;
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", db_name);
	admin_exec(sql);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", db_name);
	if (admin_exec(sql) < 0)
		abort();
	setenv("PIYASA_DATABASE_URL", db_url, 1);
	setenv("PIYASA_REDIS_URL", url, 1);
	setenv("PIYASA_REDIS_PREFIX", prefix, 1);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", fake_port);
	setenv("PIYASA_TELEGRAM_API_URL", url, 1);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", fake_port);
	setenv("PIYASA_LLM_BASE_URL", url, 1);
	snprintf(url, sizeof url, "%d", http_port);
	setenv("PIYASA_HTTP_PORT", url, 1);
	/* The fake has no limits; tests of pacing switch it back on. */
	setenv("PIYASA_TELEGRAM_PACING", "off", 1);
	if (!getenv("PIYASA_TOKEN_KEY") && !getenv("PIYASA_TOKEN_KEY_FILE"))
		setenv("PIYASA_TOKEN_KEY",
		       "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
	ctl = itest_bin("piyasactl");
	const char *av[] = { ctl, "migrate", NULL };
	if (itest_run(av) != 0)
		abort();
	free(ctl);
}

void itest_env_teardown(void)
{
	char sql[128];

	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
	admin_exec(sql);
	redisContext *c = itest_redis_connect(5000);
	if (c) {
		redisReply *r = redisCommand(
			c, "EVAL %s 0 %s*",
			"local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) n = n + 1 end return n",
			prefix);
		freeReplyObject(r);
	}
	if (c)
		redisFree(c);
}

redisContext *itest_redis_connect(int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	const char *env = getenv("PIYASA_REDIS_URL");
	struct rurl u;
	redisContext *c;
	redisReply *r = NULL;
	char err[128];

	if (rurl_parse(&u, env ? env : "redis://127.0.0.1:26379", err, sizeof err) < 0) {
		fprintf(stderr, "itest: %s\n", err);
		return NULL;
	}
	c = redisConnectWithTimeout(u.host, u.port, tv);
	if (!c || c->err)
		goto fail;
	redisSetTimeout(c, tv);
	if (*u.password) {
		r = *u.user ? redisCommand(c, "AUTH %s %s", u.user, u.password)
			    : redisCommand(c, "AUTH %s", u.password);
		if (!r || r->type == REDIS_REPLY_ERROR)
			goto fail;
		freeReplyObject(r);
	}
	return c;
fail:
	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	return NULL;
}

pid_t itest_spawn(const char *const argv[], const char *logfile)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (logfile) {
			int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
		}
		setpgid(0, 0);
		/* Everything a test started dies with it, even when a failed assertion
		 * ends the test process at once (check _exit()s a forked test). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "itest: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

int itest_wait_exit(pid_t pid, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;
	int st;

	do {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		usleep(20000);
	} while (itest_now_ms() < end);
	return -1;
}

int itest_run(const char *const argv[])
{
	pid_t pid = itest_spawn(argv, NULL);
	int st = itest_wait_exit(pid, 120000);

	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int itest_ctl(const char *first, ...)
{
	const char *av[24];
	char *bin = itest_bin("piyasactl");
	va_list ap;
	int n = 0, rc;

	av[n++] = bin;
	av[n++] = first;
	va_start(ap, first);
	while (n < 23 && (av[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	av[n] = NULL;
	rc = itest_run(av);
	free(bin);
	return rc;
}

/* A whole file into a malloc'd string ("" when empty or unreadable). */
static char *slurp_fd(int fd)
{
	size_t cap = 4096, n = 0;
	char *p = malloc(cap);
	ssize_t r;

	lseek(fd, 0, SEEK_SET);
	while (p && (r = read(fd, p + n, cap - n - 1)) > 0) {
		n += (size_t)r;
		if (n + 1 == cap) {
			char *q = realloc(p, cap *= 2);
			if (!q)
				break;
			p = q;
		}
	}
	if (p)
		p[n] = '\0';
	return p;
}

int itest_ctl_io(const char *input, char **out, char **err, const char *first, ...)
{
	const char *av[24];
	va_list ap;
	int n = 0;

	av[n++] = first;
	va_start(ap, first);
	while (n < 23 && (av[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	av[n] = NULL;
	return itest_ctl_iov(input, out, err, av);
}

int itest_ctl_iov(const char *input, char **out, char **err, const char *const args[])
{
	const char *av[32];
	char *bin = itest_bin("piyasactl"), opath[] = "/tmp/itest-outXXXXXX",
	     epath[] = "/tmp/itest-errXXXXXX";
	int ofd = mkstemp(opath), efd = mkstemp(epath), in[2], n = 0, st;
	pid_t pid;

	unlink(opath);
	unlink(epath);
	av[n++] = bin;
	for (; n < 31 && args[n - 1]; n++)
		av[n] = args[n - 1];
	av[n] = NULL;
	if (ofd < 0 || efd < 0 || pipe(in) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(in[0], 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		close(in[0]);
		close(in[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(av[0], (char *const *)av);
		_exit(127);
	}
	close(in[0]);
	/* Small inputs fit in the pipe's buffer: no deadlock with a child that
	 * reads nothing. */
	if (input && write(in[1], input, strlen(input)) < 0)
		perror("itest: write");
	close(in[1]);
	st = itest_wait_exit(pid, 120000);
	if (out)
		*out = slurp_fd(ofd);
	if (err)
		*err = slurp_fd(efd);
	close(ofd);
	close(efd);
	free(bin);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void itest_kill(pid_t pid, int sig)
{
	if (pid > 0)
		kill(pid, sig);
}

struct buf {
	char *p;
	size_t n;
};

static size_t on_body(char *d, size_t sz, size_t nm, void *arg)
{
	struct buf *b = arg;
	char *p = realloc(b->p, b->n + sz * nm + 1);

	if (!p)
		return 0;
	memcpy(p + b->n, d, sz * nm);
	b->n += sz * nm;
	p[b->n] = '\0';
	b->p = p;
	return sz * nm;
}

static char *http(int port, const char *path, const char *post, long *status)
{
	CURL *c = curl_easy_init();
	struct buf b = { NULL, 0 };
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[256];

	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (post)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	*status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (!b.p && *status)
		b.p = strdup("");
	return b.p;
}

char *itest_http_get(int port, const char *path, long *status)
{
	return http(port, path, NULL, status);
}

double itest_metric(const char *series)
{
	long status;
	char *m = itest_http_get(itest_http_port(), "/metrics", &status), *p;
	char want[256];
	double v = -1;

	snprintf(want, sizeof want, "\n%s ", series);
	if (m && (p = strstr(m, want)))
		v = strtod(p + strlen(want), NULL);
	free(m);
	return v;
}

int itest_log_count(const char *what)
{
	const char *path = getenv("PIYASA_ITEST_LOG");
	char line[4096];
	int n = 0;
	FILE *f = path ? fopen(path, "r") : NULL;

	while (f && fgets(line, sizeof line, f))
		n += strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return n;
}

json_t *itest_fake_post(const char *path, const char *json)
{
	long st;
	char *body = http(fake_port, path, json, &st);
	json_t *o = body ? json_loads(body, 0, NULL) : NULL;

	free(body);
	return o;
}

json_t *itest_fake_stats(void)
{
	long st;
	char *body = http(fake_port, "/_stats", NULL, &st);
	json_t *o = body ? json_loads(body, 0, NULL) : NULL;

	free(body);
	return o;
}

static int prompt_has(void *needle)
{
	long st;
	char *body = http(fake_port, "/_prompts", NULL, &st);
	int found = body && st == 200 && strstr(body, needle);

	free(body);
	return found;
}

int itest_fake_prompt_wait(const char *needle, int timeout_ms)
{
	int64_t t0 = itest_now_ms();

	if (!itest_wait_for(prompt_has, (void *)needle, timeout_ms))
		return -1;
	return (int)(itest_now_ms() - t0);
}

static int fake_up(void *arg)
{
	json_t *s = itest_fake_stats();

	(void)arg;
	json_decref(s);
	return s != NULL;
}

pid_t itest_fake_start(const char *const extra[])
{
	const char *av[32];
	char port[16], *bin = itest_bin("piyasa-fakeapi");
	int n = 0;
	pid_t pid;

	snprintf(port, sizeof port, "%d", fake_port);
	av[n++] = bin;
	av[n++] = "--port";
	av[n++] = port;
	av[n++] = "--quiet";
	for (int i = 0; extra && extra[i] && n < 30; i++)
		av[n++] = extra[i];
	av[n] = NULL;
	pid = itest_spawn(av, "/dev/null");
	free(bin);
	if (!itest_wait_for(fake_up, NULL, 10000)) {
		fprintf(stderr, "itest: the fake API did not come up\n");
		abort();
	}
	return pid;
}

long long itest_pg_int(const char *sql)
{
	PGconn *c = PQconnectdb(db_url);
	PGresult *r;
	long long v = -1;

	if (PQstatus(c) == CONNECTION_OK) {
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
			v = atoll(PQgetvalue(r, 0, 0));
		else if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fprintf(stderr, "itest: %s: %s", sql, PQerrorMessage(c));
		PQclear(r);
	}
	PQfinish(c);
	return v;
}

char *itest_pg_text(const char *sql)
{
	PGconn *c = PQconnectdb(db_url);
	PGresult *r;
	char *v = NULL;

	if (PQstatus(c) == CONNECTION_OK) {
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
			v = strdup(PQgetvalue(r, 0, 0));
		else if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fprintf(stderr, "itest: %s: %s", sql, PQerrorMessage(c));
		PQclear(r);
	}
	PQfinish(c);
	return v;
}

int itest_pg_exec(const char *sql)
{
	PGconn *c = PQconnectdb(db_url);
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "itest: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

long long itest_redis_int(const char *fmt, ...)
{
	redisContext *c = itest_redis_connect(5000);
	redisReply *r;
	long long v = -1;
	va_list ap;

	if (!c)
		return -1;
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	freeReplyObject(r);
	redisFree(c);
	return v;
}

/* ---- the test Redis, stopped and started ---- */

static int redis_port(void)
{
	const char *u = getenv("PIYASA_REDIS_URL");

	return u && strrchr(u, ':') ? atoi(strrchr(u, ':') + 1) : 26379;
}

static int redis_answers(void)
{
	redisContext *c = itest_redis_connect(300);
	redisReply *r = NULL;
	int ok;

	if (c)
		r = redisCommand(c, "PING");
	ok = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	return ok;
}

/* scripts/services: from the project's root (scripts/test runs there), or
 * three levels above PIYASA_BIN_DIR (build/MODE/bin). */
static const char *services_script(void)
{
	static char path[1024];
	const char *bin = getenv("PIYASA_BIN_DIR");

	if (access("scripts/services", R_OK) == 0)
		return "scripts/services";
	snprintf(path, sizeof path, "%s/../../../scripts/services", bin && *bin ? bin : "bin");
	return path;
}

static int sh(const char *cmd)
{
	const char *av[] = { "/bin/sh", "-c", cmd, NULL };

	return itest_run(av);
}

void itest_redis_stop(void)
{
	char cmd[256];
	int64_t end = itest_now_ms() + 10000;

	snprintf(cmd, sizeof cmd, "redis-cli -h 127.0.0.1 -p %d shutdown nosave >/dev/null 2>&1",
		 redis_port());
	sh(cmd);
	while (redis_answers()) {
		if (itest_now_ms() > end) {
			fprintf(stderr, "itest: redis on port %d did not stop\n", redis_port());
			abort();
		}
		usleep(20000);
	}
}

void itest_redis_start(void)
{
	char cmd[1200];

	snprintf(cmd, sizeof cmd, "bash %s start >/dev/null", services_script());
	if (sh(cmd) != 0 || !redis_answers()) {
		fprintf(stderr, "itest: %s could not start redis on port %d\n", services_script(),
			redis_port());
		abort();
	}
}

void itest_redis_ensure(void)
{
	char path[1024];
	const char *data = getenv("PIYASA_DATA");
	FILE *f;
	int pid = 0;

	if (redis_answers())
		return;
	snprintf(path, sizeof path, "%s/redis/redis.pid", data && *data ? data : ".data");
	if ((f = fopen(path, "r"))) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	if (pid > 0 && kill(pid, SIGCONT) == 0) {
		for (int i = 0; i < 50 && !redis_answers(); i++)
			usleep(20000);
		if (redis_answers())
			return;
	}
	itest_redis_start();
}

/* From the environment, not admin_url: the runner's fixtures call these
 * without itest_env_setup. */
static int pg_answers(void)
{
	const char *pg = getenv("PIYASA_PG_PORT");
	char url[160];

	snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%s/postgres?connect_timeout=2",
		 pg && *pg ? pg : "25432");
	return PQping(url) == PQPING_OK;
}

void itest_pg_stop(void)
{
	char cmd[1200];
	int64_t end = itest_now_ms() + 20000;

	snprintf(cmd, sizeof cmd, "bash %s stop pg >/dev/null", services_script());
	sh(cmd);
	while (pg_answers()) {
		if (itest_now_ms() > end) {
			fprintf(stderr, "itest: postgresql did not stop\n");
			abort();
		}
		usleep(50000);
	}
}

void itest_pg_start(void)
{
	char cmd[1200];
	int64_t end = itest_now_ms() + 20000;

	snprintf(cmd, sizeof cmd, "bash %s start >/dev/null", services_script());
	if (sh(cmd) != 0) {
		fprintf(stderr, "itest: %s could not start postgresql\n", services_script());
		abort();
	}
	while (!pg_answers()) {
		if (itest_now_ms() > end) {
			fprintf(stderr, "itest: postgresql did not come back\n");
			abort();
		}
		usleep(50000);
	}
}

void itest_pg_ensure(void)
{
	if (!pg_answers())
		itest_pg_start();
}

char *itest_write_cast(int nbots, long long chat_id)
{
	json_t *cast = json_object(), *bots = json_array();
	char *path, name[32], token[64];

	json_object_set_new(cast, "chats",
			    json_pack("[{s:I, s:s}]", "id", (json_int_t)chat_id, "title", "Test Grubu"));
	for (int i = 1; i <= nbots; i++) {
		snprintf(name, sizeof name, "bot%02d", i);
		snprintf(token, sizeof token, "%d:test-token-%d", 9000000 + i, i);
		json_array_append_new(bots, json_pack("{s:s, s:s, s:{s:s, s:s}, s:[I]}", "name",
						      name, "token", token, "persona_profile",
						      "tone", "samimi", "risk_profile", "orta",
						      "chats", (json_int_t)chat_id));
	}
	json_object_set_new(cast, "bots", bots);
	/* These tests measure the engine: the market chat's caps, checks and
	 * typing are out of their way (test_market tests those). */
	json_object_set_new(cast, "settings",
			    json_pack("{s:b, s:b, s:b, s:b, s:{s:i, s:i}, s:i, s:f, s:i}",
				      "typing_enabled", 0, "consistency_guard_enabled", 0,
				      "semantic_dedup_enabled", 0, "dedup_enabled", 0,
				      "bot_hourly_msg_limit", "min", 0, "max", 1000000,
				      "max_msgs_per_min", 0, "short_reaction_probability", 0.0,
				      "memorize_interval", 0));
	if (asprintf(&path, "/tmp/itest-cast-%d.json", (int)getpid()) < 0)
		abort();
	json_dump_file(cast, path, JSON_INDENT(1));
	json_decref(cast);
	return path;
}

pid_t itest_supervisor(const char *workers)
{
	char *bin = itest_bin("supervisor");
	const char *av[] = { bin, "--workers", workers, NULL };
	pid_t pid = itest_spawn(av, getenv("PIYASA_ITEST_LOG"));

	free(bin);
	return pid;
}

int itest_wait_for(int (*cond)(void *), void *arg, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;

	do {
		if (cond(arg))
			return 1;
		usleep(50000);
	} while (itest_now_ms() < end);
	return cond(arg);
}

long long itest_terminal(void)
{
	return itest_pg_int("SELECT count(*) FROM messages WHERE status IN ('sent','unknown','failed')");
}

int itest_terminal_at_least(void *n)
{
	return itest_terminal() >= (long long)(intptr_t)n;
}

int itest_ready(void *unused)
{
	long st = 0;
	char *body = itest_http_get(itest_http_port(), "/health/ready", &st);

	(void)unused;
	free(body);
	return body && st == 200;
}
