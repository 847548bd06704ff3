/* test_api: the admin API (piyasa-api) as an operator meets it: started and
 * respawned by the supervisor, every endpoint against every role, sessions
 * with CSRF, login throttling, keys revoked, bad values refused with their
 * field and nothing written, a setting changed through the API reaching the
 * workers. Real supervisor, workers, PostgreSQL, Redis and the fake API. */
#include "common/auth.h"
#include "common/tok.h"
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t sup = -1, fake = -1, janitor = -1;
static char api_base[128];
static char key_viewer[AUTH_KEY_SIZE], key_operator[AUTH_KEY_SIZE], key_admin[AUTH_KEY_SIZE];

#define CHAT 1001

/* ---- HTTP ---- */

struct ans {
	long status;
	char *body;
	size_t len;
	char hdrs[8192];
	size_t hlen;
	json_t *json;
};

static size_t on_body(char *p, size_t s, size_t n, void *arg)
{
	struct ans *a = arg;
	char *b = realloc(a->body, a->len + s * n + 1);

	if (!b)
		return 0;
	memcpy(b + a->len, p, s * n);
	a->len += s * n;
	b[a->len] = '\0';
	a->body = b;
	return s * n;
}

static size_t on_hdr(char *p, size_t s, size_t n, void *arg)
{
	struct ans *a = arg;
	size_t k = s * n;

	if (a->hlen + k < sizeof a->hdrs) {
		memcpy(a->hdrs + a->hlen, p, k);
		a->hlen += k;
		a->hdrs[a->hlen] = '\0';
	}
	return k;
}

/* A header's value (first match, case-insensitive) into out; 0 when absent. */
static int hdr(const struct ans *a, const char *name, char *out, size_t n)
{
	const char *p = a->hdrs;
	size_t nl = strlen(name);

	while (p && *p) {
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *e;
			while (*v == ' ')
				v++;
			e = strpbrk(v, "\r\n");
			snprintf(out, n, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return 1;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return 0;
}

static void ans_free(struct ans *a)
{
	free(a->body);
	json_decref(a->json);
	memset(a, 0, sizeof *a);
}

/* Every answer goes to a file the teardown checks against docs/openapi.json. */
static char answers[64];

static void record(const char *method, const char *path, const struct ans *a)
{
	char ctype[128] = "";
	json_t *line;
	FILE *f;

	if (!a->status) /* no answer (waiting for the API to come up) */
		return;
	hdr(a, "Content-Type", ctype, sizeof ctype);
	line = json_pack("{s:s, s:s, s:i, s:s, s:s}", "method", method, "path", path, "status",
			 (int)a->status, "ctype", ctype, "body", a->body ? a->body : "");
	if (line && (f = fopen(answers, "a"))) {
		json_dumpf(line, f, JSON_COMPACT);
		fputc('\n', f);
		fclose(f);
	}
	json_decref(line);
}

/* method path [body] with auth: "key" a Bearer key, or cookie+csrf. */
/* The Content-Type of call's bodies (a test may change it for a while). */
static const char *body_type = "application/json";

static struct ans call(const char *method, const char *path, const char *body, const char *key,
		       const char *cookie, const char *csrf)
{
	struct ans a = { 0 };
	struct curl_slist *h = NULL;
	char url[512], line[256];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof url, "%s%s", api_base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		snprintf(line, sizeof line, "Content-Type: %s", body_type);
		h = curl_slist_append(h, line);
	}
	if (key) {
		snprintf(line, sizeof line, "Authorization: Bearer %s", key);
		h = curl_slist_append(h, line);
	}
	if (cookie) {
		snprintf(line, sizeof line, "piyasa_session=%s", cookie);
		curl_easy_setopt(c, CURLOPT_COOKIE, line);
	}
	if (csrf) {
		snprintf(line, sizeof line, "X-CSRF-Token: %s", csrf);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (a.body)
		a.json = json_loads(a.body, 0, NULL);
	record(method, path, &a);
	return a;
}

/* ---- fixtures ---- */

static void add_user(const char *name, const char *pass, const char *role)
{
	char hash[AUTH_PASS_HASH_MAX], err[128], sql[512];

	ck_assert_int_eq(auth_pass_hash(pass, hash, err, sizeof err), 0);
	snprintf(sql, sizeof sql, "INSERT INTO users (name, pass_hash, role) VALUES ('%s', '%s', '%s')",
		 name, hash, role);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
}

static void add_key(const char *name, const char *role, char key[AUTH_KEY_SIZE])
{
	char hash[AUTH_HASH_HEX_SIZE], hint[AUTH_KEY_HINT_SIZE], sql[512];

	auth_key_new(key);
	auth_token_hash(key, hash);
	auth_key_hint(key, hint);
	snprintf(sql, sizeof sql,
		 "INSERT INTO api_keys (name, hint, key_hash, role, created_by)"
		 " VALUES ('%s', '%s', '%s', '%s', 'ctl:test')",
		 name, hint, hash, role);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
}

static int api_up(void *arg)
{
	struct ans a = call("GET", "/health", NULL, NULL, NULL, NULL);
	int ok = a.status == 200;

	(void)arg;
	ans_free(&a);
	return ok;
}

static char conf[64];

/* check _exit()s a failed test without its teardown: a child that outlives
 * the test process stops the supervisor and the fake then, so a failure
 * leaves nothing running. The teardown kills it first when all went well. */
static void start_janitor(void)
{
	pid_t parent = getpid();

	if ((janitor = fork()) != 0)
		return;
	while (getppid() == parent)
		usleep(200000);
	kill(sup, SIGTERM);
	kill(fake, SIGTERM);
	sleep(20);
	kill(sup, SIGKILL);
	kill(fake, SIGKILL);
	_exit(0);
}

static void setup(void)
{
	char listen[64];
	FILE *f;

	curl_global_init(CURL_GLOBAL_ALL);
	itest_env_setup();
	snprintf(answers, sizeof answers, "/tmp/itest-api-answers-%d.jsonl", (int)getpid());
	unlink(answers);
	/* Another loopback address, the supervisor's port: no port of its own to pick. */
	snprintf(listen, sizeof listen, "127.0.0.2:%d", itest_http_port());
	snprintf(api_base, sizeof api_base, "http://%s", listen);
	setenv("PIYASA_API_LISTEN", listen, 1);
	add_user("alice", "alice-password", "admin");
	add_user("olga", "olga-password", "operator");
	add_user("victor", "victor-password", "viewer");
	add_key("view", "viewer", key_viewer);
	add_key("ops", "operator", key_operator);
	add_key("root", "admin", key_admin);
	fake = itest_fake_start(NULL);
	/* The table of every endpoint and role sends ~100 requests at once: room
	 * for them (the limits themselves are login_throttled's and test_rlim's). */
	snprintf(conf, sizeof conf, "/tmp/itest-api-%d.conf", (int)getpid());
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[api]\nrate_burst = 1000\nkey_rate_burst = 1000\nper_ip_connections = 40\n"
	      "timeout_s = 2\n",
	      f);
	fclose(f);
	{
		char *bin = itest_bin("supervisor");
		const char *av[] = { bin, "--workers", "2", "--config", conf, NULL };
		sup = itest_spawn(av, getenv("PIYASA_ITEST_LOG"));
		free(bin);
	}
	start_janitor();
	ck_assert_msg(itest_wait_for(api_up, NULL, 20000), "the API did not come up");
}

/* Every answer of the test, against the OpenAPI document (python3-jsonschema). */
static void check_answers(void)
{
	const char *av[] = { "/usr/bin/python3", "tests/openapi/check.py", "docs/openapi.json",
			     answers, NULL };

	if (access(answers, R_OK) != 0)
		return;
	ck_assert_msg(itest_run(av) == 0, "answers that do not match docs/openapi.json (above)");
	unlink(answers);
}

static void teardown(void)
{
	if (janitor > 0) {
		kill(janitor, SIGKILL);
		waitpid(janitor, NULL, 0);
	}
	check_answers();
	if (sup > 0) {
		itest_kill(sup, SIGTERM);
		ck_assert_msg(itest_wait_exit(sup, 30000) >= 0, "the supervisor did not stop");
	}
	if (fake > 0) {
		itest_kill(fake, SIGTERM);
		itest_wait_exit(fake, 5000);
	}
	itest_env_teardown();
	unlink(conf);
	unsetenv("PIYASA_API_LISTEN");
	curl_global_cleanup();
}

static json_t *sup_status(void)
{
	long st = 0;
	char *body = itest_http_get(itest_http_port(), "/status", &st);
	json_t *j = body && st == 200 ? json_loads(body, 0, NULL) : NULL;

	free(body);
	return j;
}

static int api_pid(void)
{
	json_t *s = sup_status(), *api = json_object_get(s, "api");
	int pid = 0;

	if (api && !strcmp(json_string_value(json_object_get(api, "state")) ?: "", "ready"))
		pid = (int)json_integer_value(json_object_get(api, "pid"));
	json_decref(s);
	return pid;
}

static int api_pid_not(void *arg)
{
	int pid = api_pid();

	return pid && pid != (int)(intptr_t)arg && api_up(NULL);
}

/* ---- tests ---- */

static int api_ready(void *arg)
{
	(void)arg;
	return api_pid() > 0;
}

START_TEST(supervised)
{
	struct ans a;
	int pid;

	ck_assert_msg(itest_wait_for(api_ready, NULL, 5000),
		      "the supervisor's /status shows no ready API");
	pid = api_pid();
	a = call("GET", "/health", NULL, NULL, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert(json_is_true(json_object_get(a.json, "postgres")));
	ans_free(&a);
	/* A reload reaches it in place (same pid, still serving). */
	kill(sup, SIGHUP);
	usleep(500000);
	ck_assert_int_eq(api_pid(), pid);
	ck_assert(api_up(NULL));
	/* Killed: respawned, and the workers never noticed. */
	kill(pid, SIGKILL);
	ck_assert_msg(itest_wait_for(api_pid_not, (void *)(intptr_t)pid, 15000),
		      "the API was not respawned");
}
END_TEST

struct rule {
	const char *method, *path, *body;
	int min; /* 1 viewer, 2 operator, 3 admin */
};

static const struct rule rules[] = {
	{ "GET", "/api/v1/me", NULL, 1 },
	{ "GET", "/api/v1/settings", NULL, 1 },
	{ "GET", "/api/v1/settings/scale_factor", NULL, 1 },
	{ "PUT", "/api/v1/settings/scale_factor", "{\"value\": 2.0}", 2 },
	{ "DELETE", "/api/v1/settings/scale_factor", NULL, 2 },
	{ "GET", "/api/v1/control", NULL, 1 },
	{ "PATCH", "/api/v1/control", "{\"scale_factor\": 1.5}", 2 },
	{ "GET", "/api/v1/fleet", NULL, 1 },
	{ "GET", "/api/v1/queues", NULL, 1 },
	{ "POST", "/api/v1/fleet/resize", "{\"workers\": 2}", 2 },
	{ "GET", "/api/v1/dead", NULL, 1 },
	{ "GET", "/api/v1/dead?state=all&limit=5", NULL, 1 },
	{ "POST", "/api/v1/dead/retry", "{\"ids\": [1]}", 2 },
	{ "GET", "/api/v1/bots", NULL, 1 },
	{ "GET", "/api/v1/bots?enabled=true&chat=1001&q=bot", NULL, 1 },
	{ "GET", "/api/v1/bots/1", NULL, 1 },
	{ "PATCH", "/api/v1/bots/1", "{\"enabled\": true}", 2 },
	{ "PUT", "/api/v1/bots/1/stances/FX",
	  "{\"stance_text\": \"dolar yukari\", \"confidence\": 0.7}", 2 },
	{ "PUT", "/api/v1/bots/1/holdings/THYAO", "{\"size\": 100, \"avg_price\": 250.5}", 2 },
	{ "POST", "/api/v1/bots/1/memories",
	  "{\"memory_type\": \"routine\", \"content\": \"sabah kahvesi\"}", 2 },
	{ "GET", "/api/v1/chats", NULL, 1 },
	{ "GET", "/api/v1/chats/1001", NULL, 1 },
	{ "PATCH", "/api/v1/chats/1001", "{\"title\": \"Borsa\"}", 2 },
	{ "PUT", "/api/v1/chats/1001/bots/2", NULL, 2 },
	{ "GET", "/api/v1/messages?chat=1001&status=sent&limit=10", NULL, 1 },
	{ "GET", "/api/v1/messages?humans=true&since=2026-01-01T00:00:00Z", NULL, 1 },
	{ "GET", "/api/v1/stats/messages", NULL, 1 },
	{ "GET", "/api/v1/stats/messages?minutes=5", NULL, 1 },
	{ "GET", "/api/v1/spend", NULL, 1 },
	{ "GET", "/api/v1/breakers", NULL, 1 },
	{ "GET", "/api/v1/users", NULL, 3 },
	{ "POST", "/api/v1/users",
	  "{\"name\":\"newbie\",\"password\":\"newbie-pass\",\"role\":\"viewer\"}", 3 },
	{ "PATCH", "/api/v1/users/victor", "{\"role\": \"viewer\"}", 3 },
	{ "GET", "/api/v1/keys", NULL, 3 },
	{ "POST", "/api/v1/keys", "{\"name\":\"deploy\",\"role\":\"operator\"}", 3 },
	{ "GET", "/api/v1/audit?action=settings.*", NULL, 3 },
	{ "DELETE", "/api/v1/keys/1", NULL, 3 }, /* the viewer's: last */
};

START_TEST(every_endpoint_every_role)
{
	const char *keys[4] = { NULL, key_viewer, key_operator, key_admin };
	char *cast = itest_write_cast(2, CHAT);

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0); /* bots 1 and 2, chat 1001 */
	free(cast);

	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		for (int role = 0; role <= 3; role++) {
			const struct rule *r = &rules[i];
			struct ans a = call(r->method, r->path, r->body, keys[role], NULL, NULL);
			long want = role == 0 ? 401 : role < r->min ? 403 : 0;
			char v[32];

			if (want)
				ck_assert_msg(a.status == want,
					      "%s %s as role %d: %ld, not %ld (%s)", r->method,
					      r->path, role, a.status, want, a.body ? a.body : "");
			else
				ck_assert_msg(a.status >= 200 && a.status < 300,
					      "%s %s as role %d: %ld (%s)", r->method, r->path,
					      role, a.status, a.body ? a.body : "");
			/* Every answer carries the rate limit's numbers. */
			ck_assert_msg(hdr(&a, "X-RateLimit-Remaining", v, sizeof v),
				      "%s %s: no X-RateLimit-Remaining", r->method, r->path);
			if (a.status >= 400) {
				ck_assert(hdr(&a, "Content-Type", v, sizeof v));
				ck_assert_str_eq(v, "application/problem+json");
			}
			ans_free(&a);
		}
}
END_TEST

static int setting_is(const char *key, const char *json)
{
	char sql[256];

	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM settings WHERE key = '%s' AND value = '%s'::jsonb", key, json);
	return itest_pg_int(sql) == 1;
}

START_TEST(sessions_csrf_logout)
{
	struct ans a;
	char cookie[600] = "", csrf[128], v[512], *p;

	a = call("POST", "/api/v1/login", "{\"name\":\"olga\",\"password\":\"wrong-password\"}",
		 NULL, NULL, NULL);
	ck_assert_int_eq(a.status, 401);
	ans_free(&a);
	a = call("POST", "/api/v1/login", "{\"name\":\"olga\",\"password\":\"olga-password\"}",
		 NULL, NULL, NULL);
	ck_assert_msg(a.status == 200, "login: %ld %s", a.status, a.body);
	ck_assert(hdr(&a, "Set-Cookie", v, sizeof v));
	ck_assert_ptr_nonnull(strstr(v, "HttpOnly"));
	ck_assert_ptr_nonnull(strstr(v, "SameSite=Strict"));
	ck_assert(!strncmp(v, "piyasa_session=", 15));
	snprintf(cookie, sizeof cookie, "%s", v + 15);
	if ((p = strchr(cookie, ';')))
		*p = '\0';
	snprintf(csrf, sizeof csrf, "%s", json_string_value(json_object_get(a.json, "csrf")));
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "role")), "operator");
	ans_free(&a);
	/* The session id is stored hashed, never as is. */
	{
		char q[800];

		snprintf(q, sizeof q, "SELECT count(*) FROM sessions WHERE id_hash = '%s'", cookie);
		ck_assert_int_eq(itest_pg_int(q), 0);
	}

	a = call("GET", "/api/v1/me", NULL, NULL, cookie, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "actor")), "user:olga");
	ans_free(&a);
	/* A stolen cookie without its CSRF token changes nothing. */
	a = call("PUT", "/api/v1/settings/scale_factor", "{\"value\": 7}", NULL, cookie, NULL);
	ck_assert_int_eq(a.status, 403);
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "field")), "X-CSRF-Token");
	ans_free(&a);
	a = call("PUT", "/api/v1/settings/scale_factor", "{\"value\": 7}", NULL, cookie, "nope");
	ck_assert_int_eq(a.status, 403);
	ans_free(&a);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM settings WHERE key = 'scale_factor'"), 0);
	/* With it: stored, audited with the user's name and both values. */
	a = call("PUT", "/api/v1/settings/scale_factor", "{\"value\": 7}", NULL, cookie, csrf);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ans_free(&a);
	ck_assert(setting_is("scale_factor", "7"));
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE actor = 'user:olga'"
				      " AND action = 'settings.set' AND target = 'scale_factor'"
				      " AND before IS NULL AND after = '7'::jsonb"),
			 1);
	/* Logout ends the session for good. */
	a = call("POST", "/api/v1/logout", NULL, NULL, cookie, csrf);
	ck_assert_int_eq(a.status, 200);
	ans_free(&a);
	a = call("GET", "/api/v1/me", NULL, NULL, cookie, NULL);
	ck_assert_int_eq(a.status, 401);
	ans_free(&a);
	/* An expired session is no session. */
	a = call("POST", "/api/v1/login", "{\"name\":\"victor\",\"password\":\"victor-password\"}",
		 NULL, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert(hdr(&a, "Set-Cookie", v, sizeof v));
	snprintf(cookie, sizeof cookie, "%s", v + 15);
	if ((p = strchr(cookie, ';')))
		*p = '\0';
	ans_free(&a);
	ck_assert_int_eq(itest_pg_exec("UPDATE sessions SET expires_at = now() - interval '1 s'"), 0);
	a = call("GET", "/api/v1/me", NULL, NULL, cookie, NULL);
	ck_assert_int_eq(a.status, 401);
	ans_free(&a);
}
END_TEST

START_TEST(login_throttled)
{
	struct ans a = { 0 };
	char v[64];
	int i;

	/* api.login_per_minute (5): the sixth try in a row is refused, even with
	 * the right password. */
	for (i = 0; i < 5; i++) {
		a = call("POST", "/api/v1/login",
			 "{\"name\":\"alice\",\"password\":\"guess-guess\"}", NULL, NULL, NULL);
		ck_assert_int_eq(a.status, 401);
		ans_free(&a);
	}
	a = call("POST", "/api/v1/login", "{\"name\":\"alice\",\"password\":\"alice-password\"}",
		 NULL, NULL, NULL);
	ck_assert_int_eq(a.status, 429);
	ck_assert(hdr(&a, "Retry-After", v, sizeof v));
	ck_assert_int_ge(atoi(v), 1);
	ck_assert(hdr(&a, "X-RateLimit-Limit", v, sizeof v));
	ck_assert(hdr(&a, "X-RateLimit-Reset", v, sizeof v));
	ans_free(&a);
	/* The operator sees it in the supervisor's /metrics. */
	ck_assert_double_ge(itest_metric("piyasa_api_logins_total{result=\"failed\"}"), 5);
	ck_assert_double_ge(itest_metric("piyasa_api_rate_limited_total"), 1);
	ck_assert_double_ge(itest_metric("piyasa_api_requests_total{code=\"4xx\"}"), 6);
	ck_assert_double_ge(itest_metric("piyasa_api_requests_total{code=\"2xx\"}"), 1);
	ck_assert_double_ge(itest_metric("piyasa_api_request_duration_seconds_count"), 7);
	ck_assert_double_eq(itest_metric("piyasa_api_up"), 1);
}
END_TEST

START_TEST(keys_revoked)
{
	struct ans a = call("GET", "/api/v1/me", NULL, key_admin, NULL, NULL);

	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "actor")), "key:root");
	ans_free(&a);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM api_keys WHERE name = 'root'"
				      " AND last_used_at IS NOT NULL"),
			 1);
	ck_assert_int_eq(itest_pg_exec("UPDATE api_keys SET revoked_at = now() WHERE name = 'root'"),
			 0);
	a = call("GET", "/api/v1/me", NULL, key_admin, NULL, NULL);
	ck_assert_int_eq(a.status, 401);
	ans_free(&a);
	a = call("GET", "/api/v1/me", NULL, "piy_not-a-key", NULL, NULL);
	ck_assert_int_eq(a.status, 401);
	ans_free(&a);
}
END_TEST

START_TEST(bad_input_refused)
{
	static const struct {
		const char *method, *path, *body;
		long status;
		const char *field;
	} cases[] = {
		{ "PUT", "/api/v1/settings/scale_factor", "{\"value\": 99999}", 422, "value" },
		{ "PUT", "/api/v1/settings/scale_factor", "{\"value\": \"fast\"}", 422, "value" },
		{ "PUT", "/api/v1/settings/scale_factor", "{\"value\": 2, \"extra\": 1}", 422, "extra" },
		{ "PUT", "/api/v1/settings/scale_factor", "{}", 422, "value" },
		{ "PUT", "/api/v1/settings/scale_factor", "{\"value\": ", 400, NULL },
		{ "PUT", "/api/v1/settings/scale_factor", "[1]", 400, NULL },
		{ "PUT", "/api/v1/settings/no_such_key", "{\"value\": 1}", 404, "key" },
		{ "PATCH", "/api/v1/control", "{\"simulation_active\": \"yes\"}", 422,
		  "simulation_active" },
		{ "GET", "/api/v1/../etc/passwd", NULL, 404, NULL },
		{ "GET", "/api/v1/nothing", NULL, 404, NULL },
		{ "POST", "/api/v1/settings", "{}", 405, NULL },
		/* Found by fuzz_api: each was a 500 (the problem or PostgreSQL refused
		 * text that is not UTF-8, a time or an id PostgreSQL refused). */
		{ "GET", "/api/v1/settings/%ff%fe", NULL, 404, NULL },
		{ "GET", "/api/v1/messages?status=%c4", NULL, 400, "status" },
		{ "GET", "/api/v1/dead?reason=%ff", NULL, 400, "reason" },
		{ "GET", "/api/v1/messages?since=1", NULL, 400, "since" },
		{ "GET", "/api/v1/dead?since=2026-02-30", NULL, 400, "since" },
		{ "GET", "/api/v1/dead/744444444444444444444", NULL, 404, "id" },
	};
	struct ans a;
	char *big;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		a = call(cases[i].method, cases[i].path, cases[i].body, key_operator, NULL, NULL);
		ck_assert_msg(a.status == cases[i].status, "%s %s %s: %ld %s", cases[i].method,
			      cases[i].path, cases[i].body ? cases[i].body : "", a.status,
			      a.body ? a.body : "");
		if (cases[i].field)
			ck_assert_str_eq(json_string_value(json_object_get(a.json, "field")) ?: "",
					 cases[i].field);
		ans_free(&a);
	}
	/* Over api.max_body_kb (256): 413 before it is read. */
	big = malloc(300 * 1024);
	memset(big, ' ', 300 * 1024 - 1);
	big[0] = '{';
	big[300 * 1024 - 2] = '}';
	big[300 * 1024 - 1] = '\0';
	a = call("PUT", "/api/v1/settings/scale_factor", big, key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 413);
	ans_free(&a);
	free(big);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM settings"), 0);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit"), 0);
	/* A body is JSON by its media type, with parameters, not a longer name. */
	body_type = "application/jsonx";
	a = call("PUT", "/api/v1/settings/scale_factor", "{\"value\": 2}", key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 415);
	ans_free(&a);
	body_type = "Application/JSON; charset=utf-8";
	a = call("PUT", "/api/v1/settings/scale_factor", "{\"value\": 2}", key_operator, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ans_free(&a);
	body_type = "application/json";
	/* An empty filter filters on nothing (it was chat 0: no message). */
	ck_assert_int_eq(itest_pg_exec("INSERT INTO messages (chat_id, bot_id, job_id, status,"
				       " sent_at) VALUES (1001, 1, 'e1', 'sent', now())"),
			 0);
	a = call("GET", "/api/v1/messages?chat=&bot=&limit=10", NULL, key_operator, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ck_assert_int_eq(json_array_size(json_object_get(a.json, "messages")), 1);
	ans_free(&a);
}
END_TEST

static int some_sent(void *arg)
{
	(void)arg;
	return itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'") > 0;
}

START_TEST(control_reaches_workers)
{
	char *cast = itest_write_cast(4, CHAT);
	struct ans a;

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	free(cast);
	sleep(2); /* the workers subscribed to the change notices */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages"), 0);
	a = call("PATCH", "/api/v1/control", "{\"simulation_active\": true, \"scale_factor\": 500}",
		 key_operator, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ck_assert(json_is_true(json_object_get(a.json, "simulation_active")));
	ans_free(&a);
	ck_assert_msg(itest_wait_for(some_sent, NULL, 20000),
		      "the workers did not start the simulation after the API's change");
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE action = 'control.set'"
				      " AND actor = 'key:ops'"),
			 1);
	a = call("GET", "/api/v1/fleet", NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(a.json, "workers")), 2);
	ans_free(&a);
	a = call("GET", "/api/v1/queues", NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(a.json, "workers")), 2);
	ans_free(&a);
	/* The workers' LLM calls, read from shared memory. */
	a = call("GET", "/api/v1/spend", NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert_int_gt(
		json_integer_value(json_object_get(
			json_object_get(json_array_get(json_object_get(a.json, "providers"), 0), "calls"),
			"ok")),
		0);
	/* Today's tokens of the fleet, as the budgets counted them in Redis. */
	ck_assert_int_eq(json_array_size(json_object_get(a.json, "days")), 1);
	{
		/* The first provider's tokens today: at least those the workers'
		 * counters saw (a call in flight is counted at its estimate). */
		json_t *p0 = json_array_get(json_object_get(a.json, "providers"), 0);
		json_t *d0 = json_array_get(json_object_get(a.json, "days"), 0);
		const char *name = json_string_value(json_object_get(p0, "provider"));

		ck_assert_ptr_nonnull(name);
		ck_assert_int_eq(
			json_integer_value(json_object_get(json_object_get(d0, "providers"), name)),
			json_integer_value(json_object_get(p0, "prompt_tokens")) +
				json_integer_value(json_object_get(p0, "completion_tokens")));
	}
	ans_free(&a);
	a = call("GET", "/api/v1/spend?days=9", NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 400); /* kept 3 days: more is refused, naming days */
	ans_free(&a);
	a = call("GET", "/api/v1/breakers", NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(a.json, "workers")), 2);
	ans_free(&a);
}
END_TEST

static long long fake_stat(const char *key)
{
	json_t *st = itest_fake_stats();
	long long v = st ? json_integer_value(json_object_get(st, key)) : -1;

	json_decref(st);
	return v;
}

static int all_sent(void *arg)
{
	return itest_pg_int("SELECT count(*) FROM messages WHERE status IN ('sent','unknown','failed')") >=
	       (long long)(intptr_t)arg;
}

/* The API's fleet view: n workers, every one ready, the phase running. */
static int fleet_is(void *arg)
{
	struct ans a = call("GET", "/api/v1/fleet", NULL, key_viewer, NULL, NULL);
	json_t *w = json_object_get(a.json, "workers");
	int n = (int)(intptr_t)arg, ready = 0, ok;
	size_t i;
	json_t *x;

	json_array_foreach(w, i, x)
		ready += !strcmp(json_string_value(json_object_get(x, "state")) ?: "", "ready");
	ok = a.status == 200 && json_integer_value(json_object_get(a.json, "count")) == n &&
	     !strcmp(json_string_value(json_object_get(a.json, "phase")) ?: "", "running") &&
	     ready == n;
	ans_free(&a);
	return ok;
}

START_TEST(resize_under_a_stream)
{
	char *cast = itest_write_cast(10, CHAT), chat[32];
	struct ans a;
	long long n = 0;

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	free(cast);
	snprintf(chat, sizeof chat, "%d", CHAT);
	ck_assert(itest_wait_for(fleet_is, (void *)(intptr_t)2, 20000));
	/* Jobs keep coming while the fleet grows to 3 and shrinks back to 2. */
	for (int round = 0; round < 12; round++) {
		ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--count", "25", NULL), 0);
		n += 25;
		if (round == 3 || round == 8) {
			a = call("POST", "/api/v1/fleet/resize",
				 round == 3 ? "{\"workers\": 3}" : "{\"workers\": 2}", key_operator,
				 NULL, NULL);
			ck_assert_msg(a.status == 202, "%ld %s", a.status, a.body);
			ans_free(&a);
		}
		usleep(200000);
		if (round == 7)
			ck_assert_msg(itest_wait_for(fleet_is, (void *)(intptr_t)3, 30000),
				      "the fleet did not grow to 3");
	}
	ck_assert_msg(itest_wait_for(fleet_is, (void *)(intptr_t)2, 30000),
		      "the fleet did not shrink to 2");
	ck_assert_msg(itest_wait_for(all_sent, (void *)(intptr_t)n, 60000), "jobs left undone");
	sleep(1);
	/* Every job once: one row each, every row sent, no second send. */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE bot_id IS NOT NULL"), n);
	ck_assert_int_eq(itest_pg_int("SELECT count(DISTINCT job_id) FROM messages"), n);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'"), n);
	ck_assert_int_eq(fake_stat("duplicate_sends"), 0);
	ck_assert_int_eq(fake_stat("sends"), n);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE action = 'fleet.resize'"), 2);
}
END_TEST

static int dl_sent(void *arg)
{
	(void)arg;
	return itest_pg_int("SELECT count(*) FROM messages WHERE job_id = 'dl1' AND status = 'sent'") ==
	       1;
}

START_TEST(dead_letter_retried_and_sent)
{
	char *cast = itest_write_cast(2, CHAT), sql[1024];
	long long bot, id;
	struct ans a;
	char path[64];

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	free(cast);
	bot = itest_pg_int("SELECT min(id) FROM bots");
	/* A job that ran out of attempts, its outbox row failed. */
	snprintf(sql, sizeof sql,
		 "INSERT INTO dead_jobs (job_id, kind, bot_id, chat_id, attempts, job, reason)"
		 " VALUES ('dl1', 'speak', %lld, %d, 5, '{\"id\":\"dl1\",\"kind\":\"speak\","
		 "\"bot_id\":%lld,\"chat_id\":%d,\"priority\":\"normal\",\"attempts\":5}',"
		 " 'telegram: 502 five times'),"
		 " ('dl2', 'speak', %lld, %d, 1, 'not json', 'malformed job')",
		 bot, CHAT, bot, CHAT, bot, CHAT);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
	snprintf(sql, sizeof sql,
		 "INSERT INTO messages (chat_id, bot_id, job_id, status, error)"
		 " VALUES (%d, %lld, 'dl1', 'failed', 'telegram: 502')",
		 CHAT, bot);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
	id = itest_pg_int("SELECT id FROM dead_jobs WHERE job_id = 'dl1'");

	a = call("GET", "/api/v1/dead?reason=502", NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(a.json, "dead")), 1);
	ans_free(&a);
	snprintf(path, sizeof path, "/api/v1/dead/%lld", id);
	a = call("GET", path, NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a.json, "job"), "kind")),
			 "speak");
	ans_free(&a);
	snprintf(path, sizeof path, "/api/v1/dead/%lld/retry", id);
	a = call("POST", path, NULL, key_operator, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ans_free(&a);
	ck_assert_msg(itest_wait_for(dl_sent, NULL, 20000), "the retried job was not sent");
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM dead_jobs WHERE job_id = 'dl1'"
				      " AND retried_at IS NOT NULL"),
			 1);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE action = 'dead.retry'"
				      " AND actor = 'key:ops'"),
			 1);
	/* Twice: refused. A malformed one: refused with why, nothing changed. */
	a = call("POST", path, NULL, key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 409);
	ans_free(&a);
	snprintf(path, sizeof path, "/api/v1/dead/%lld/retry", id + 1);
	a = call("POST", path, NULL, key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 422);
	ans_free(&a);
	snprintf(path, sizeof path, "/api/v1/dead/%lld", id + 1);
	a = call("DELETE", path, NULL, key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ans_free(&a);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM dead_jobs"), 1);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE action = 'dead.delete'"), 1);
}
END_TEST

/* The key as the API gets it: PIYASA_TOKEN_KEY, else the file scripts/test names. */
static void token_key(unsigned char key[TOK_KEY_BYTES])
{
	char err[256];

	ck_assert_msg(tok_key_load(key, getenv("PIYASA_TOKEN_KEY_FILE"), err, sizeof err) == 0,
		      "%s", err);
}

START_TEST(login_with_totp)
{
	char secret[AUTH_TOTP_SECRET_SIZE], code[16], body[256], *sealed, sql[512];
	unsigned char key[32];
	struct ans a;

	ck_assert_int_eq(auth_totp_secret_new(secret), 0);
	token_key(key);
	ck_assert_ptr_nonnull(sealed = auth_secret_seal(key, secret));
	snprintf(sql, sizeof sql, "UPDATE users SET totp_secret = '%s' WHERE name = 'alice'", sealed);
	free(sealed);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
	/* The right password without the code: asked for it, no session. */
	a = call("POST", "/api/v1/login", "{\"name\":\"alice\",\"password\":\"alice-password\"}",
		 NULL, NULL, NULL);
	ck_assert_int_eq(a.status, 401);
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "field")), "totp");
	ans_free(&a);
	a = call("POST", "/api/v1/login",
		 "{\"name\":\"alice\",\"password\":\"alice-password\",\"totp\":\"000000\"}", NULL,
		 NULL, NULL);
	ck_assert_int_eq(a.status, 401);
	ans_free(&a);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM sessions"), 0);
	ck_assert_int_eq(auth_totp_code(secret, time(NULL), 6, code, sizeof code), 0);
	snprintf(body, sizeof body,
		 "{\"name\":\"alice\",\"password\":\"alice-password\",\"totp\":\"%s\"}", code);
	a = call("POST", "/api/v1/login", body, NULL, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ans_free(&a);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM sessions"), 1);
	/* The same code again: refused (a replay within its window). */
	a = call("POST", "/api/v1/login", body, NULL, NULL, NULL);
	ck_assert_int_eq(a.status, 401);
	ans_free(&a);
	/* A key made through the API works at once and is shown only in that answer. */
	a = call("POST", "/api/v1/keys", "{\"name\":\"ci\",\"role\":\"viewer\"}", key_admin, NULL,
		 NULL);
	ck_assert_int_eq(a.status, 201);
	{
		char k[AUTH_KEY_SIZE];
		struct ans b;

		snprintf(k, sizeof k, "%s", json_string_value(json_object_get(a.json, "key")));
		b = call("GET", "/api/v1/me", NULL, k, NULL, NULL);
		ck_assert_int_eq(b.status, 200);
		ck_assert_str_eq(json_string_value(json_object_get(b.json, "actor")), "key:ci");
		ans_free(&b);
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM audit WHERE after::text LIKE '%%%s%%'", k + 4);
		ck_assert_int_eq(itest_pg_int(sql), 0);
	}
	ans_free(&a);
}
END_TEST

/* The bot's profiles and chats as text, to compare before and after. */
static long long bot_fingerprint(void)
{
	return itest_pg_int("SELECT hashtext(persona_profile::text || emotion_profile::text ||"
			    " speed_profile::text || active_hours::text || enabled::text ||"
			    " updated_at::text) FROM bots WHERE id = 1");
}

/* bots.updated_at of bot 1 in microseconds (what a kept draft records). */
static long long bot1_version(void)
{
	return itest_pg_int("SELECT (extract(epoch FROM updated_at) * 1000000)::bigint FROM bots"
			    " WHERE id = 1");
}

START_TEST(bad_persona_refused_with_its_path)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
		{ "{\"persona_profile\": {\"style\": {\"length\": \"huge\"}}}",
		  "persona_profile.style.length" },
		{ "{\"persona_profile\": {\"tone\": \"calm\", \"watchlst\": []}}",
		  "persona_profile.watchlst" },
		{ "{\"emotion_profile\": {\"empathy\": 3}}", "emotion_profile.empathy" },
		{ "{\"active_hours\": [\"25:00-26:00\"]}", "active_hours[0]" },
		{ "{\"speed_profile\": \"fast\"}", "speed_profile" },
		{ "{\"enabled\": true, \"token\": \"1:x\"}", "token" },
	};
	char *cast = itest_write_cast(2, CHAT);
	long long before, v0, v1;
	struct ans a;

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	free(cast);
	before = bot_fingerprint();
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		a = call("PATCH", "/api/v1/bots/1", bad[i].body, key_operator, NULL, NULL);
		ck_assert_msg(a.status == 422, "%s: %ld %s", bad[i].body, a.status, a.body);
		ck_assert_msg(!strcmp(json_string_value(json_object_get(a.json, "field")) ?: "",
				      bad[i].field),
			      "%s: field %s, not %s", bad[i].body,
			      json_string_value(json_object_get(a.json, "field")), bad[i].field);
		ans_free(&a);
	}
	ck_assert_int_eq(bot_fingerprint(), before);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit"), 0);
	/* A good one: stored, audited; the token never in an answer. */
	a = call("PATCH", "/api/v1/bots/1",
		 "{\"persona_profile\": {\"tone\": \"sakin\", \"style\": {\"length\": \"short\"}},"
		 " \"active_hours\": [\"09:00-18:00\"]}",
		 key_operator, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ans_free(&a);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM bots WHERE id = 1 AND"
				      " persona_profile->>'tone' = 'sakin'"),
			 1);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE action = 'bot.update'"
				      " AND before->'persona_profile'->>'tone' = 'samimi'"
				      " AND after->'persona_profile'->>'tone' = 'sakin'"),
			 1);
	a = call("GET", "/api/v1/bots/1", NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert_ptr_null(strstr(a.body, "test-token"));
	ck_assert_ptr_null(json_object_get(a.json, "token_enc"));
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "token_hint")), "9000001");
	ans_free(&a);
	/* A new bot: its token checked with getMe, stored sealed, never shown. */
	a = call("POST", "/api/v1/bots", "{\"name\": \"yeni\", \"token\": \"not a token\"}",
		 key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 422);
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "field")), "token");
	ans_free(&a);
	a = call("POST", "/api/v1/bots",
		 "{\"name\": \"yeni\", \"token\": \"9000042:gizli-anahtar\", \"chats\": [1001],"
		 " \"persona_profile\": {\"tone\": \"sakin\"}}",
		 key_operator, NULL, NULL);
	ck_assert_msg(a.status == 201, "%ld %s", a.status, a.body);
	ck_assert_ptr_null(strstr(a.body, "gizli"));
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "token_hint")), "9000042");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(a.json, "username")));
	ans_free(&a);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM bots b JOIN chat_bots cb ON cb.bot_id = b.id"
				      " WHERE b.name = 'yeni' AND cb.chat_id = 1001"
				      " AND position('gizli' in encode(b.token_enc, 'escape')) = 0"),
			 1);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE action = 'bot.add'"
				      " AND after::text NOT LIKE '%gizli%'"),
			 1);
	/* Stances, holdings, memories: the same checks, the same refusal. */
	v0 = bot1_version();
	a = call("PUT", "/api/v1/bots/1/stances/FX", "{\"stance_text\": \"x\", \"confidence\": 2}",
		 key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 422);
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "field")), "confidence");
	ans_free(&a);
	a = call("POST", "/api/v1/bots/1/memories",
		 "{\"memory_type\": \"gossip\", \"content\": \"x\"}", key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 422);
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "field")), "memory_type");
	ans_free(&a);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM bot_stances") +
				 itest_pg_int("SELECT count(*) FROM bot_memories"),
			 0);
	ck_assert_int_eq(bot1_version(), v0);
	a = call("PUT", "/api/v1/bots/1/stances/FX", "{\"stance_text\": \"dolar yukari\"}",
		 key_operator, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ans_free(&a);
	/* A stance is in the bot's prompt: its change moves the bot's version,
	 * which a draft kept with a job is checked against. */
	ck_assert_int_gt(v1 = bot1_version(), v0);
	a = call("DELETE", "/api/v1/bots/1/stances/FX", NULL, key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ans_free(&a);
	ck_assert_int_gt(bot1_version(), v1);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE action LIKE 'bot.stance.%'"),
			 2);
	/* Chats go through import's checks the same way. */
	a = call("POST", "/api/v1/chats", "{\"id\": 77, \"title\": \"\"}", key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 422);
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "field")), "title");
	ans_free(&a);
	a = call("PATCH", "/api/v1/chats/1001", "{\"topics\": [\"\"]}", key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 422);
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "field")), "topics[0]");
	ans_free(&a);
	a = call("POST", "/api/v1/chats", "{\"id\": -1002, \"title\": \"Yeni\", \"topics\": [\"FX\"]}",
		 key_operator, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ans_free(&a);
	a = call("PUT", "/api/v1/chats/-1002/bots/1", NULL, key_operator, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ans_free(&a);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM chat_bots WHERE chat_id = -1002"), 1);
}
END_TEST

/* ---- the live stream ---- */

struct sse {
	char *body;
	size_t len;
	const char *needle;
	int64_t seen_ms; /* when needle first arrived */
};

static size_t on_sse(char *p, size_t sz, size_t n, void *arg)
{
	struct sse *s = arg;
	char *b = realloc(s->body, s->len + sz * n + 1);

	if (!b)
		return 0;
	memcpy(b + s->len, p, sz * n);
	s->len += sz * n;
	b[s->len] = '\0';
	s->body = b;
	if (s->needle && !s->seen_ms && strstr(s->body, s->needle))
		s->seen_ms = itest_now_ms();
	return sz * n;
}

/* Read the stream for ms; resume from last_id when > 0. */
static void read_stream(const char *query, long long last_id, int ms, struct sse *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], line[128];

	snprintf(url, sizeof url, "%s/api/v1/stream%s", api_base, query);
	snprintf(line, sizeof line, "Authorization: Bearer %s", key_viewer);
	h = curl_slist_append(h, line);
	if (last_id > 0) {
		snprintf(line, sizeof line, "Last-Event-ID: %lld", last_id);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sse);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ms);
	curl_easy_perform(c); /* ends by its timeout */
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static int64_t written_ms;

static void *write_later(void *arg)
{
	(void)arg;
	usleep(1000000);
	written_ms = itest_now_ms();
	itest_pg_exec(
		"INSERT INTO messages (chat_id, status, text) VALUES (1001, 'received', 'canli-1')");
	return NULL;
}

/* The id of the last message event in body (0: none). */
static long long last_event_id(const char *body)
{
	const char *p = body;
	long long id = 0;

	while ((p = strstr(p, "id: "))) {
		id = strtoll(p + 4, NULL, 10);
		p += 4;
	}
	return id;
}

static int count_of(const char *body, const char *needle)
{
	int n = 0;

	for (const char *p = body; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

START_TEST(stream_live_and_resumed)
{
	struct sse s1 = { .needle = "canli-1" }, s2 = { 0 };
	pthread_t t;
	long long last;

	ck_assert_int_eq(itest_pg_exec("INSERT INTO chats (id, title) VALUES (1001, 'x'), (1002, 'y')"),
			 0);
	ck_assert_int_eq(itest_pg_exec("INSERT INTO messages (chat_id, status, text)"
				       " VALUES (1001, 'received', 'eski')"),
			 0);
	pthread_create(&t, NULL, write_later, NULL);
	read_stream("?chat=1001", 0, 3000, &s1);
	pthread_join(t, NULL);
	ck_assert_msg(s1.seen_ms > 0, "the new message did not arrive: %s", s1.body ? s1.body : "");
	fprintf(stderr, "stream: a new message arrived %lld ms after its commit\n",
		(long long)(s1.seen_ms - written_ms));
	ck_assert_int_le(s1.seen_ms - written_ms, 1000);
	ck_assert_int_eq(count_of(s1.body, "eski"), 0); /* older than the stream: not replayed */
	ck_assert_int_ge(count_of(s1.body, "event: fleet"), 1);
	last = last_event_id(s1.body);
	ck_assert_int_gt(last, 0);
	/* Away: two new messages in the chat, one in another, one status change. */
	ck_assert_int_eq(itest_pg_exec("INSERT INTO messages (chat_id, status, text) VALUES"
				       " (1001, 'received', 'kayip-1'), (1002, 'received', 'baska'),"
				       " (1001, 'received', 'kayip-2')"),
			 0);
	ck_assert_int_eq(itest_pg_exec("UPDATE messages SET status = 'sent' WHERE text = 'canli-1'"),
			 0);
	read_stream("?chat=1001", last, 1500, &s2);
	ck_assert_msg(count_of(s2.body, "kayip-1") == 1 && count_of(s2.body, "kayip-2") == 1,
		      "missed on resume: %s", s2.body ? s2.body : "");
	ck_assert_int_eq(count_of(s2.body, "baska"), 0);
	/* canli-1 again, once, with its new status; nothing before it again */
	ck_assert_int_eq(count_of(s2.body, "canli-1"), 1);
	ck_assert_ptr_nonnull(strstr(s2.body, "\"status\":\"sent\""));
	ck_assert_int_eq(count_of(s2.body, "eski"), 0);
	free(s1.body);
	free(s2.body);
}
END_TEST

/* A raw connection to the API, or -1. */
static int raw_connect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_port = htons((uint16_t)itest_http_port());
	inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* 1 when the server closed fd (EOF) within ms. */
static int closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[256];

	return poll(&p, 1, ms) == 1 && read(fd, b, sizeof b) <= 0;
}

/* Slow and idle clients hold at most per_ip_connections sockets and lose them
 * after timeout_s; meanwhile the API answers everyone else. (The suite's
 * config: per_ip_connections 40, timeout_s 2.) */
START_TEST(slow_clients_are_bounded)
{
	int fds[60], n = 0, refused = 0;
	struct ans a;

	for (int i = 0; i < 60; i++) {
		int fd = raw_connect();
		if (fd < 0)
			continue;
		/* half a request, never finished */
		if (write(fd, "GET /api/v1/me HTTP/1.1\r\nHost: x\r\n", 34) < 0) {
			close(fd);
			continue;
		}
		fds[n++] = fd;
	}
	/* Past the per-address limit the server closes at once (all looked at
	 * together, well inside timeout_s). */
	usleep(300000);
	for (int i = 0; i < n; i++)
		refused += closed_within(fds[i], 0);
	fprintf(stderr, "slow clients: %d of %d connections refused at once\n", refused, n);
	ck_assert_int_eq(refused, n - 40);
	/* After the idle timeout every slow one is gone ... */
	sleep(3);
	for (int i = 0; i < n; i++) {
		ck_assert_msg(closed_within(fds[i], 1000),
			      "connection %d still open after timeout_s", i);
		close(fds[i]);
	}
	/* ... and the API answers. */
	a = call("GET", "/api/v1/me", NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ans_free(&a);
}
END_TEST

static int bot1_sent(void *n)
{
	return itest_pg_int("SELECT count(*) FROM messages WHERE bot_id = 1 AND status = 'sent'") >=
	       (intptr_t)n;
}

/* One speak job of bot 1, and the prompt it was built from holding marker:
 * the ms it took from the enqueue. */
static int speak_with(const char *marker, int sent_before)
{
	int64_t t0 = itest_now_ms();
	char chat[32];
	int ms;

	snprintf(chat, sizeof chat, "%d", CHAT);
	ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--bot", "1", NULL), 0);
	ms = itest_fake_prompt_wait(marker, 5000) < 0 ? -1 : (int)(itest_now_ms() - t0);
	ck_assert_msg(itest_wait_for(bot1_sent, (void *)(intptr_t)(sent_before + 1), 20000),
		      "bot 1's message was not sent");
	return ms;
}

START_TEST(persona_edit_reaches_the_next_prompt)
{
	char *cast = itest_write_cast(2, CHAT), api_mark[48], ctl_mark[48], body[512], path[64];
	long long v, v1;
	int ms;
	struct ans a;
	FILE *f;

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	free(cast);
	/* The first message puts bot 1 into its worker's cache (10 minutes). */
	ms = speak_with("orta", 0);
	ck_assert_msg(ms >= 0, "the first prompt of bot 1 never came");
	snprintf(api_mark, sizeof api_mark, "apimark%d", (int)getpid());
	snprintf(body, sizeof body,
		 "{\"persona_profile\": {\"tone\": \"samimi\", \"risk_profile\": \"%s\"}}", api_mark);
	a = call("PATCH", "/api/v1/bots/1", body, key_operator, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ans_free(&a);
	ms = speak_with(api_mark, 1);
	fprintf(stderr, "persona edited through the API: in the next prompt after %d ms\n", ms);
	ck_assert_msg(ms >= 0 && ms < 5000, "the edited persona did not reach the prompt (%d ms)", ms);
	/* The same through piyasactl import. */
	snprintf(ctl_mark, sizeof ctl_mark, "ctlmark%d", (int)getpid());
	snprintf(path, sizeof path, "/tmp/itest-api-recast-%d.json", (int)getpid());
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f,
		"{\"bots\": [{\"name\": \"bot01\", \"persona_profile\": {\"tone\": \"samimi\","
		" \"risk_profile\": \"%s\"}}]}\n",
		ctl_mark);
	fclose(f);
	ck_assert_int_eq(itest_ctl("import", path, NULL), 0);
	unlink(path);
	ms = speak_with(ctl_mark, 2);
	fprintf(stderr, "persona edited through piyasactl: in the next prompt after %d ms\n", ms);
	ck_assert_msg(ms >= 0 && ms < 5000, "the imported persona did not reach the prompt (%d ms)",
		      ms);
	/* The bot's version (what a kept draft is checked against) moves with
	 * what is in its prompt, stances too, and only when it changed. */
	v = bot1_version();
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "{\"bots\": [{\"name\": \"bot01\", \"stances\": [{\"topic\": \"FX\","
		   " \"stance_text\": \"dolar yukari\"}]}]}\n");
	fclose(f);
	ck_assert_int_eq(itest_ctl("import", path, NULL), 0);
	ck_assert_int_gt(v1 = bot1_version(), v);
	ck_assert_int_eq(itest_ctl("import", path, NULL), 0);
	ck_assert_int_eq(bot1_version(), v1);
	unlink(path);
}
END_TEST

static int bot1_send_failed(void *arg)
{
	(void)arg;
	return itest_pg_int("SELECT count(*) FROM messages WHERE bot_id = 1 AND status = 'retry'") > 0;
}

/* The fake's answer to the last completion whose prompt holds marker
 * (/_prompts), malloc'd; NULL when there is none. */
static char *answer_to(const char *marker)
{
	long st;
	char *body = itest_http_get(itest_fake_port(), "/_prompts", &st), *ans = NULL, *m;
	json_t *j = body && st == 200 ? json_loads(body, 0, NULL) : NULL, *p;
	size_t i;

	json_array_foreach(json_object_get(j, "prompts"), i, p) {
		const char *a = json_string_value(json_object_get(p, "answer"));
		if (!a || !(m = json_dumps(json_object_get(p, "messages"), JSON_COMPACT)))
			continue;
		if (strstr(m, marker)) {
			free(ans);
			ans = strdup(a);
		}
		free(m);
	}
	json_decref(j);
	free(body);
	return ans;
}

/* 1 when every word of answer with a digit in it (the fake's price levels:
 * the humanisers leave them alone) is in text, and there is one. */
static int numbers_of(const char *answer, const char *text)
{
	char *copy = strdup(answer), *save = NULL, *w;
	int n = 0, all = 1;

	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (strpbrk(w, "0123456789")) {
			w[strcspn(w, ".!?")] = '\0';
			n++;
			all &= strstr(text, w) != NULL;
		}
	free(copy);
	return n > 0 && all;
}

/* A job whose send failed after its draft was kept, retried after an edit of
 * its bot's persona, sends a draft of the new persona: the kept one is stale
 * (issue 15: the next message of that bot is built from the new persona). */
START_TEST(persona_edit_drops_a_kept_draft)
{
	char *cast = itest_write_cast(2, CHAT), mark[48], body[512], chat[32], *ans, *text;
	double kept0, stale0;
	json_t *r;
	struct ans a;

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	free(cast);
	/* The first message puts bot 1 into its worker's cache (10 minutes). */
	ck_assert(speak_with("orta", 0) >= 0);
	kept0 = itest_metric("piyasa_drafts_kept_total");
	stale0 = itest_metric("piyasa_drafts_stale_total");
	/* Telegram refuses every send: the job keeps its draft and is nacked. */
	r = itest_fake_post("/_control/faults", "{\"fault_5xx\": 1, \"fault_scope\": \"telegram\"}");
	ck_assert_ptr_nonnull(r);
	json_decref(r);
	snprintf(chat, sizeof chat, "%d", CHAT);
	ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--bot", "1", NULL), 0);
	ck_assert_msg(itest_wait_for(bot1_send_failed, NULL, 20000), "the send never failed");
	ck_assert_double_eq(itest_metric("piyasa_drafts_kept_total"), kept0 + 1);
	/* The persona edited meanwhile; an attempt under way meets the faults. */
	snprintf(mark, sizeof mark, "keptmark%d", (int)getpid());
	snprintf(body, sizeof body,
		 "{\"persona_profile\": {\"tone\": \"samimi\", \"risk_profile\": \"%s\"}}", mark);
	a = call("PATCH", "/api/v1/bots/1", body, key_operator, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ans_free(&a);
	usleep(500000);
	r = itest_fake_post("/_control/faults", "{\"fault_5xx\": 0}");
	ck_assert_ptr_nonnull(r);
	json_decref(r);
	ck_assert_msg(itest_wait_for(bot1_sent, (void *)(intptr_t)2, 60000),
		      "bot 1's second message was not sent");
	/* Sent: a draft of the new persona, the old one counted stale once. */
	ans = answer_to(mark);
	text = itest_pg_text("SELECT text FROM messages WHERE bot_id = 1 AND status = 'sent'"
			     " ORDER BY id DESC LIMIT 1");
	fprintf(stderr, "kept draft after a persona edit: sent \"%s\", drafted as \"%s\"\n",
		text ? text : "(none)", ans ? ans : "(no prompt with the marker)");
	ck_assert_msg(ans, "no draft was made from the edited persona");
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(numbers_of(ans, text), "the message sent is not the new persona's draft");
	ck_assert_double_eq(itest_metric("piyasa_drafts_stale_total"), stale0 + 1);
	free(ans);
	free(text);
}
END_TEST

static int speak_skipped(void *n)
{
	return itest_metric("piyasa_jobs_total{kind=\"speak\",outcome=\"skipped\"}") >=
	       (double)(intptr_t)n;
}

/* A chat switched off through the API (and on again through piyasactl) is
 * seen by the workers at once, not when their cached context of it expires
 * (30 s): the chat notice. */
START_TEST(chat_edit_reaches_the_workers_at_once)
{
	char *cast = itest_write_cast(2, CHAT), chat[32], path[64];
	int64_t t0;
	struct ans a;

	snprintf(chat, sizeof chat, "%d", CHAT);
	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	free(cast);
	/* The first message puts the chat into its worker's cache. */
	ck_assert(speak_with("orta", 0) >= 0);
	snprintf(path, sizeof path, "/api/v1/chats/%d", CHAT);
	a = call("PATCH", path, "{\"enabled\": false}", key_operator, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ans_free(&a);
	t0 = itest_now_ms();
	ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--bot", "1", NULL), 0);
	ck_assert_msg(itest_wait_for(speak_skipped, (void *)(intptr_t)1, 5000),
		      "the disabled chat's job was not skipped within 5 s");
	fprintf(stderr, "chat disabled through the API: its next job skipped after %lld ms\n",
		(long long)(itest_now_ms() - t0));
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE bot_id = 1 AND "
				      "status = 'sent'"),
			 1);
	/* On again through piyasactl: the next job is sent. */
	ck_assert_int_eq(itest_ctl("chat", "enable", chat, NULL), 0);
	ck_assert_msg(speak_with("orta", 1) >= 0, "no prompt after the chat was enabled again");
}
END_TEST

START_TEST(message_stats_per_minute)
{
	json_t *per, *m;
	long long sent = 0, failed = 0, unknown = 0;
	size_t i;
	struct ans a;

	/* Three sent now, 100, 200 and 1100 ms after their enqueue; one failed,
	 * one unknown; a human's (not counted); one sent two hours ago (outside). */
	ck_assert_int_eq(
		itest_pg_exec(
			"INSERT INTO messages (chat_id, bot_id, job_id, status, enqueued_at,"
			" sent_at) SELECT 1001, 1, 's' || x, 'sent',"
			" now() - x * interval '1 ms', now()"
			" FROM unnest(ARRAY[100, 200, 1100]) x;"
			"INSERT INTO messages (chat_id, bot_id, job_id, status, enqueued_at)"
			" VALUES (1001, 1, 'f1', 'failed', now()), (1001, 2, 'u1', 'unknown', now());"
			"INSERT INTO messages (chat_id, status) VALUES (1001, 'received');"
			"INSERT INTO messages (chat_id, bot_id, job_id, status, enqueued_at,"
			" created_at, sent_at) VALUES (1001, 1, 'old', 'sent',"
			" now() - interval '2 h', now() - interval '2 h', now() - interval '2 h')"),
		0);
	a = call("GET", "/api/v1/stats/messages?minutes=5", NULL, key_viewer, NULL, NULL);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ck_assert_int_eq(json_integer_value(json_object_get(a.json, "minutes")), 5);
	per = json_object_get(a.json, "per_minute");
	ck_assert_int_eq(json_array_size(per), 5); /* every minute, the quiet ones as 0 */
	json_array_foreach(per, i, m) {
		sent += json_integer_value(json_object_get(m, "sent"));
		failed += json_integer_value(json_object_get(m, "failed"));
		unknown += json_integer_value(json_object_get(m, "unknown"));
		if (json_integer_value(json_object_get(m, "sent")) == 3) {
			ck_assert_int_eq(json_integer_value(json_object_get(m, "p50_ms")), 200);
			ck_assert_int_eq(json_integer_value(json_object_get(m, "p95_ms")), 1010);
		} else if (!json_integer_value(json_object_get(m, "sent"))) {
			ck_assert(json_is_null(json_object_get(m, "p50_ms")));
		}
	}
	ck_assert_int_eq(sent, 3);
	ck_assert_int_eq(failed, 1);
	ck_assert_int_eq(unknown, 1);
	ans_free(&a);
	a = call("GET", "/api/v1/stats/messages", NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(a.json, "per_minute")), 60);
	ans_free(&a);
	a = call("GET", "/api/v1/stats/messages?minutes=0", NULL, key_viewer, NULL, NULL);
	ck_assert_int_eq(a.status, 400);
	ck_assert_str_eq(json_string_value(json_object_get(a.json, "field")), "minutes");
	ans_free(&a);
}
END_TEST

/* One case per test, so `scripts/test integration api CASE` runs one. */
static void add(Suite *s, const char *name, const TTest *test)
{
	TCase *t = tcase_create(name);

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test);
	suite_add_tcase(s, t);
}

static Suite *api_suite(void)
{
	Suite *s = suite_create("api");

	add(s, "supervised", supervised);
	add(s, "every_endpoint_every_role", every_endpoint_every_role);
	add(s, "sessions_csrf_logout", sessions_csrf_logout);
	add(s, "login_throttled", login_throttled);
	add(s, "keys_revoked", keys_revoked);
	add(s, "bad_input_refused", bad_input_refused);
	add(s, "control_reaches_workers", control_reaches_workers);
	add(s, "resize_under_a_stream", resize_under_a_stream);
	add(s, "dead_letter_retried_and_sent", dead_letter_retried_and_sent);
	add(s, "login_with_totp", login_with_totp);
	add(s, "bad_persona_refused_with_its_path", bad_persona_refused_with_its_path);
	add(s, "stream_live_and_resumed", stream_live_and_resumed);
	add(s, "slow_clients_are_bounded", slow_clients_are_bounded);
	add(s, "persona_edit_reaches_the_next_prompt", persona_edit_reaches_the_next_prompt);
	add(s, "persona_edit_drops_a_kept_draft", persona_edit_drops_a_kept_draft);
	add(s, "chat_edit_reaches_the_workers_at_once", chat_edit_reaches_the_workers_at_once);
	add(s, "message_stats_per_minute", message_stats_per_minute);
	return s;
}

CHECK_MAIN(api_suite)
