/* test_fakeapi.c: integration test of piyasa-fakeapi, the fake Telegram + LLM server.
 * Starts the built binary on a free port and talks to it over real HTTP with libcurl.
 * Every helper is static: other files in tests/integration are linked into this test.
 * The news feeds are read with the worker's own parser (common/rss). */
#include "tests/check_main.h"
#include "worker/chat/rss.h"

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t fx_pid = -1;
static int fx_exit_status; /* of the shared fake; non-zero (e.g. a sanitizer report) fails */
static int fx_port;
static char fx_base[64];

/* ---- process management ---- */

static const char *fx_binary(void)
{
	static char path[1024];
	const char *dir = getenv("PIYASA_BIN_DIR");

	snprintf(path, sizeof(path), "%s/piyasa-fakeapi", dir && *dir ? dir : "bin");
	if (access(path, X_OK) != 0)
		snprintf(path, sizeof(path), "build/release/bin/piyasa-fakeapi");
	return path;
}

static double fx_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits for the "listening" line on fd; returns 0 when seen within timeout. */
static int fx_wait_ready(int fd, double timeout)
{
	char buf[512];
	size_t len = 0;
	double end = fx_now() + timeout;

	while (fx_now() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "listening on http://"))
			return 0;
	}
	return -1;
}

/* Starts the fake on port with extra flags (may be NULL); returns its pid or -1. */
static pid_t fx_spawn(int port, const char *extra)
{
	int fds[2];
	char portbuf[16];
	pid_t pid;

	if (pipe(fds) < 0)
		return -1;
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl(fx_binary(), "piyasa-fakeapi", "--port", portbuf, "--quiet", "--seed", "7",
		      extra, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	if (pid < 0 || fx_wait_ready(fds[0], 10.0) < 0) {
		if (pid > 0)
			kill(pid, SIGKILL);
		close(fds[0]);
		return -1;
	}
	close(fds[0]); /* the fake writes nothing else to stdout */
	return pid;
}

static void fx_setup(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	/* Another suite may hold our first choice of port: walk on a few times. */
	for (int i = 0; i < 20 && fx_pid < 0; i++) {
		fx_port = 23180 + (int)((getpid() + i * 37) % 500);
		fx_pid = fx_spawn(fx_port, NULL);
	}
	snprintf(fx_base, sizeof(fx_base), "http://127.0.0.1:%d", fx_port);
	if (fx_pid < 0) {
		fprintf(stderr, "cannot start %s on port %d\n", fx_binary(), fx_port);
		exit(1);
	}
}

static void fx_teardown(void)
{
	int status = 0;

	if (fx_pid > 0) {
		kill(fx_pid, SIGTERM);
		waitpid(fx_pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "piyasa-fakeapi exited with status %d\n", status);
			fx_exit_status = 1;
		}
	}
	fx_pid = -1;
	curl_global_cleanup();
}

/* ---- HTTP ---- */

struct fx_resp {
	long status;
	char *body;
	size_t len;
	char *headers;
	size_t hlen;
	double secs;
};

static size_t fx_sink(char *data, size_t size, size_t n, void *userp)
{
	char **buf = userp;
	size_t old = *buf ? strlen(*buf) : 0, add = size * n;
	char *p = realloc(*buf, old + add + 1);

	if (!p)
		return 0;
	memcpy(p + old, data, add);
	p[old + add] = '\0';
	*buf = p;
	return add;
}

static void fx_resp_free(struct fx_resp *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

/* Prepares h for one request; the caller owns *hdrs (free with curl_slist_free_all). */
static void fx_prepare(CURL *h, struct fx_resp *r, const char *path, const char *body,
		       const char *key, struct curl_slist **hdrs)
{
	static char url[512];
	char auth[128];

	snprintf(url, sizeof(url), "%s%s", fx_base, path);
	*hdrs = curl_slist_append(NULL, body && body[0] != '{'
						? "Content-Type: application/x-www-form-urlencoded"
						: "Content-Type: application/json");
	if (key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		*hdrs = curl_slist_append(*hdrs, auth);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fx_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, fx_sink);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	else
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
}

/* One request on handle h (NULL: a fresh handle); POST when body is given. */
static long fx_http_on(CURL *h, const char *path, const char *body, const char *key, struct fx_resp *r)
{
	CURL *own = h ? NULL : curl_easy_init();
	struct curl_slist *hdrs = NULL;
	double t0 = fx_now();

	memset(r, 0, sizeof(*r));
	if (!h)
		h = own;
	else
		curl_easy_reset(h);
	fx_prepare(h, r, path, body, key, &hdrs);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	r->secs = fx_now() - t0;
	curl_slist_free_all(hdrs);
	if (own)
		curl_easy_cleanup(own);
	return r->status;
}

static long fx_http(const char *path, const char *body, const char *key, struct fx_resp *r)
{
	return fx_http_on(NULL, path, body, key, r);
}

/* Request whose answer must be JSON; returns it (caller decrefs) and the status. */
static json_t *fx_json(const char *path, const char *body, const char *key, long *status)
{
	struct fx_resp r;
	json_t *j;

	*status = fx_http(path, body, key, &r);
	j = r.body ? json_loads(r.body, 0, NULL) : NULL;
	fx_resp_free(&r);
	return j;
}

static json_t *fx_ok(const char *path, const char *body)
{
	long st;
	json_t *j = fx_json(path, body, NULL, &st);

	ck_assert_msg(st == 200 && j, "%s answered %ld", path, st);
	return j;
}

/* A number in /_stats by its path, e.g. "calls/sendMessage". */
static json_int_t fx_stat(const char *path)
{
	json_t *s = fx_ok("/_stats", NULL), *v = s;
	char buf[128], *save = NULL;
	json_int_t out;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, "/", &save); k && v; k = strtok_r(NULL, "/", &save))
		v = json_object_get(v, k);
	out = json_integer_value(v);
	json_decref(s);
	return out;
}

static void fx_faults(const char *json)
{
	json_decref(fx_ok("/_control/faults", json));
}

static void fx_reset(void)
{
	json_decref(fx_ok("/_control/reset", "{}"));
	fx_faults("{\"llm_latency_ms\":0,\"telegram_latency_ms\":0,\"fault_429\":0,"
		  "\"fault_5xx\":0,\"fault_hang\":0,\"fault_badjson\":0,\"fault_scope\":\"all\","
		  "\"retry_after\":1,\"hang_ms\":30000,\"down_models\":[],\"down_keys\":[],"
		  "\"missing_chats\":[],\"guard_reject\":0}");
}

static json_int_t fx_send(const char *token, long long chat, const char *text, long *status)
{
	json_t *req = json_pack("{s:I, s:s}", "chat_id", (json_int_t)chat, "text", text), *j;
	char path[128], *body = json_dumps(req, JSON_COMPACT);
	json_int_t id;

	json_decref(req);
	snprintf(path, sizeof(path), "/bot%s/sendMessage", token);
	j = fx_json(path, body, NULL, status);
	id = json_integer_value(json_object_get(json_object_get(j, "result"), "message_id"));
	free(body);
	json_decref(j);
	return id;
}

static const char fx_chat_body[] =
	"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"Sen bir yatirimcisin\"},"
	"{\"role\":\"user\",\"content\":\"Persona: Ayse\\nBugun piyasa?\"}]}";

/* ---- tests ---- */

START_TEST(test_get_me)
{
	json_t *j, *r;

	fx_reset();
	j = fx_ok("/bot123456:SECRET/getMe", NULL);
	r = json_object_get(j, "result");
	ck_assert(json_is_true(json_object_get(j, "ok")));
	ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 123456);
	ck_assert(json_is_true(json_object_get(r, "is_bot")));
	ck_assert_str_eq(json_string_value(json_object_get(r, "username")), "bot123456_bot");
	json_decref(j);
}
END_TEST

START_TEST(test_send_ids_and_stats)
{
	long st;
	json_int_t a, b, c;
	json_t *j;

	fx_reset();
	a = fx_send("101:T", -1001, "birinci", &st);
	ck_assert_int_eq(st, 200);
	/* a form body and the query string are accepted too */
	j = fx_ok("/bot101:T/sendMessage", "chat_id=-1001&text=ikinci");
	b = json_integer_value(json_object_get(json_object_get(j, "result"), "message_id"));
	json_decref(j);
	j = fx_ok("/bot101:T/sendMessage?chat_id=-1001&text=ucuncu", NULL);
	c = json_integer_value(json_object_get(json_object_get(j, "result"), "message_id"));
	json_decref(j);
	ck_assert(a > 0 && b > a && c > b);
	ck_assert_int_eq(fx_stat("sends"), 3);
	ck_assert_int_eq(fx_stat("calls/sendMessage"), 3);
	ck_assert_int_eq(fx_stat("sends_by_chat/-1001"), 3);
	ck_assert_int_eq(fx_stat("sends_by_bot/101"), 3);
	ck_assert_int_eq(fx_stat("duplicate_sends"), 0);
	/* the short form a poller reads */
	j = fx_ok("/_stats/sends", NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "sends")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "duplicate_sends")), 0);
	ck_assert_int_eq(json_object_size(j), 2);
	json_decref(j);
}
END_TEST

START_TEST(test_duplicate_sends)
{
	long st;

	fx_reset();
	fx_send("102:T", -1002, "ayni metin", &st);
	fx_send("102:T", -1002, "ayni metin", &st);
	fx_send("102:T", -1003, "ayni metin", &st); /* another chat: not a duplicate */
	ck_assert_int_eq(fx_stat("sends"), 3);
	ck_assert_int_eq(fx_stat("duplicate_sends"), 1);
}
END_TEST

START_TEST(test_send_validation)
{
	size_t n = 4097;
	char *text = malloc(n * 2 + 1);
	long st;

	fx_reset();
	for (size_t i = 0; i < n; i++)
		memcpy(text + 2 * i, "\xc5\x9f", 2); /* 'ş': 2 bytes, 1 code point */
	text[n * 2] = '\0';
	fx_send("103:T", -1004, text, &st);
	ck_assert_int_eq(st, 400);
	text[4096 * 2] = '\0'; /* exactly 4096 code points is allowed */
	fx_send("103:T", -1004, text, &st);
	ck_assert_int_eq(st, 200);
	fx_send("103:T", -1004, "", &st);
	ck_assert_int_eq(st, 400);
	fx_faults("{\"missing_chats\":[-1005]}");
	fx_send("103:T", -1005, "merhaba", &st);
	ck_assert_int_eq(st, 400);
	ck_assert_int_eq(fx_stat("sends"), 1);
	free(text);
}
END_TEST

START_TEST(test_human_reaches_member)
{
	long st;
	json_int_t mid, uid;
	char body[256];
	json_t *j, *u, *m;

	fx_reset();
	mid = fx_send("201:T", -2001, "bot mesaji", &st);
	snprintf(body, sizeof(body),
		 "{\"chat_id\":-2001,\"text\":\"selam bot\",\"from\":\"ali\","
		 "\"reply_to_message_id\":%lld}",
		 (long long)mid);
	j = fx_ok("/_control/human", body);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "delivered_to")), 1);
	json_decref(j);
	j = fx_ok("/bot201:T/getUpdates", "{\"timeout\":0}");
	ck_assert_int_eq(json_array_size(json_object_get(j, "result")), 1);
	u = json_array_get(json_object_get(j, "result"), 0);
	m = json_object_get(u, "message");
	uid = json_integer_value(json_object_get(u, "update_id"));
	ck_assert_str_eq(json_string_value(json_object_get(m, "text")), "selam bot");
	ck_assert(json_is_false(json_object_get(json_object_get(m, "from"), "is_bot")));
	ck_assert_int_eq(json_integer_value(json_object_get(
				 json_object_get(json_object_get(m, "reply_to_message"), "from"), "id")),
			 201);
	json_decref(j);
	snprintf(body, sizeof(body), "{\"offset\":%lld}", (long long)uid + 1);
	j = fx_ok("/bot201:T/getUpdates", body);
	ck_assert_int_eq(json_array_size(json_object_get(j, "result")), 0);
	json_decref(j);
	/* a bot that is not a member hears nothing */
	j = fx_ok("/bot202:T/getUpdates", "{}");
	ck_assert_int_eq(json_array_size(json_object_get(j, "result")), 0);
	json_decref(j);
}
END_TEST

struct fx_poll {
	const char *path;
	const char *body;
	long status;
	double secs;
	size_t n_updates;
};

static void *fx_poll_thread(void *arg)
{
	struct fx_poll *p = arg;
	struct fx_resp r;
	json_t *j;

	p->status = fx_http(p->path, p->body, NULL, &r);
	p->secs = r.secs;
	j = r.body ? json_loads(r.body, 0, NULL) : NULL;
	p->n_updates = json_array_size(json_object_get(j, "result"));
	json_decref(j);
	fx_resp_free(&r);
	return NULL;
}

START_TEST(test_long_poll_returns_early)
{
	struct fx_poll p = { "/bot301:T/getUpdates", "{\"timeout\":10}", 0, 0, 0 };
	pthread_t t;

	fx_reset();
	json_decref(fx_ok("/_control/join", "{\"chat_id\":-3001,\"bot_id\":301}"));
	pthread_create(&t, NULL, fx_poll_thread, &p);
	usleep(300 * 1000);
	json_decref(fx_ok("/_control/human", "{\"chat_id\":-3001,\"text\":\"uyan\"}"));
	pthread_join(t, NULL);
	ck_assert_int_eq(p.status, 200);
	ck_assert_int_eq(p.n_updates, 1);
	ck_assert_msg(p.secs < 2.0, "long poll took %.2f s", p.secs);
}
END_TEST

START_TEST(test_get_updates_conflict)
{
	struct fx_poll older = { "/bot401:T/getUpdates", "{\"timeout\":5}", 0, 0, 0 };
	struct fx_resp r;
	pthread_t t;

	fx_reset();
	pthread_create(&t, NULL, fx_poll_thread, &older);
	usleep(300 * 1000);
	ck_assert_int_eq(fx_http("/bot401:T/getUpdates", "{\"timeout\":1}", NULL, &r), 200);
	ck_assert(r.secs >= 0.9);
	fx_resp_free(&r);
	pthread_join(t, NULL);
	ck_assert_int_eq(older.status, 409);
	ck_assert_msg(older.secs < 2.0, "older poll took %.2f s", older.secs);
	ck_assert_int_eq(fx_stat("getUpdates_conflicts"), 1);
}
END_TEST

static int fx_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_completions_unique)
{
	enum { N = 2000 };
	char **texts = calloc(N, sizeof(*texts));
	CURL *h = curl_easy_init();
	struct fx_resp r;

	fx_reset();
	for (int i = 0; i < N; i++) {
		json_t *j, *usage;
		ck_assert_int_eq(fx_http_on(h, "/v1/chat/completions", fx_chat_body, "k1", &r), 200);
		j = json_loads(r.body, 0, NULL);
		usage = json_object_get(j, "usage");
		ck_assert(json_integer_value(json_object_get(usage, "prompt_tokens")) > 0);
		ck_assert(json_integer_value(json_object_get(usage, "completion_tokens")) > 0);
		ck_assert_int_eq(json_integer_value(json_object_get(usage, "total_tokens")),
				 json_integer_value(json_object_get(usage, "prompt_tokens")) +
					 json_integer_value(
						 json_object_get(usage, "completion_tokens")));
		texts[i] = strdup(json_string_value(json_object_get(
			json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message"),
			"content")));
		json_decref(j);
		fx_resp_free(&r);
	}
	qsort(texts, N, sizeof(*texts), fx_cmp_str);
	for (int i = 1; i < N; i++)
		ck_assert_msg(strcmp(texts[i - 1], texts[i]) != 0, "duplicate: %s", texts[i]);
	ck_assert_int_eq(fx_stat("calls/chat.completions"), N);
	ck_assert(fx_stat("tokens/k1") > N);
	for (int i = 0; i < N; i++)
		free(texts[i]);
	free(texts);
	curl_easy_cleanup(h);
}
END_TEST

START_TEST(test_fault_429)
{
	struct fx_resp r;
	json_t *j;

	fx_reset();
	fx_faults("{\"fault_429\":1,\"retry_after\":3}");
	ck_assert_int_eq(fx_http("/bot501:T/sendMessage", "{\"chat_id\":-5001,\"text\":\"x\"}",
				 NULL, &r),
			 429);
	ck_assert_ptr_nonnull(strcasestr(r.headers, "Retry-After: 3"));
	j = json_loads(r.body, 0, NULL);
	ck_assert_int_eq(json_integer_value(
				 json_object_get(json_object_get(j, "parameters"), "retry_after")),
			 3);
	json_decref(j);
	fx_resp_free(&r);
	ck_assert_int_eq(fx_http("/v1/chat/completions", fx_chat_body, "k1", &r), 429);
	ck_assert_ptr_nonnull(strcasestr(r.headers, "x-ratelimit-reset-requests"));
	ck_assert_ptr_nonnull(strstr(r.body, "rate_limit_exceeded"));
	fx_resp_free(&r);
	/* getMe is never faulted */
	ck_assert_int_eq(fx_http("/bot501:T/getMe", NULL, NULL, &r), 200);
	fx_resp_free(&r);
	ck_assert_int_eq(fx_stat("sends"), 0);
	ck_assert_int_eq(fx_stat("faults/429"), 2);
}
END_TEST

START_TEST(test_fault_badjson)
{
	struct fx_resp r;

	fx_reset();
	fx_faults("{\"fault_badjson\":1}");
	ck_assert_int_eq(fx_http("/bot502:T/sendMessage", "{\"chat_id\":-5002,\"text\":\"x\"}",
				 NULL, &r),
			 200);
	ck_assert_ptr_null(json_loads(r.body, 0, NULL));
	fx_resp_free(&r);
	ck_assert_int_eq(fx_http("/v1/chat/completions", fx_chat_body, "k1", &r), 200);
	ck_assert_ptr_null(json_loads(r.body, 0, NULL));
	fx_resp_free(&r);
	ck_assert_int_eq(fx_stat("sends"), 0);
}
END_TEST

START_TEST(test_fault_5xx_and_hang)
{
	struct fx_resp r;
	int seen = 0;

	fx_reset();
	fx_faults("{\"fault_5xx\":1,\"fault_scope\":\"telegram\"}");
	for (int i = 0; i < 3; i++) {
		long st = fx_http("/bot503:T/sendMessage", "{\"chat_id\":-5003,\"text\":\"x\"}",
				  NULL, &r);
		seen |= st == 500 ? 1 : st == 502 ? 2 : st == 503 ? 4 : 8;
		fx_resp_free(&r);
	}
	ck_assert_int_eq(seen, 7);
	ck_assert_int_eq(fx_http("/v1/chat/completions", fx_chat_body, "k1", &r), 200);
	fx_resp_free(&r);
	fx_faults("{\"fault_5xx\":0,\"fault_hang\":1,\"hang_ms\":300}");
	ck_assert_int_eq(fx_http("/bot503:T/sendMessage", "{\"chat_id\":-5003,\"text\":\"y\"}",
				 NULL, &r),
			 200);
	ck_assert(r.secs >= 0.29);
	fx_resp_free(&r);
	ck_assert_int_eq(fx_stat("sends"), 1); /* the hung send was accepted */
	ck_assert_int_eq(fx_stat("faults/hang"), 1);
}
END_TEST

START_TEST(test_latency_holds_no_thread)
{
	enum { N = 50 };
	CURLM *m = curl_multi_init();
	CURL *h[N];
	struct fx_resp r[N];
	struct curl_slist *hdrs[N];
	int running = 1;
	double t0;

	fx_reset();
	fx_faults("{\"telegram_latency_ms\":200}");
	ck_assert_int_eq(fx_http("/bot601:T/getMe", NULL, NULL, &r[0]), 200);
	ck_assert(r[0].secs >= 0.19);
	fx_resp_free(&r[0]);
	t0 = fx_now();
	for (int i = 0; i < N; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		h[i] = curl_easy_init();
		fx_prepare(h[i], &r[i], "/bot601:T/sendMessage?chat_id=-6001&text=gecikme", NULL,
			   NULL, &hdrs[i]);
		curl_multi_add_handle(m, h[i]);
	}
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	ck_assert_msg(fx_now() - t0 < 1.5, "50 calls took %.2f s", fx_now() - t0);
	for (int i = 0; i < N; i++) {
		long st = 0;
		curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &st);
		ck_assert_int_eq(st, 200);
		curl_multi_remove_handle(m, h[i]);
		curl_easy_cleanup(h[i]);
		curl_slist_free_all(hdrs[i]);
		fx_resp_free(&r[i]);
	}
	curl_multi_cleanup(m);
	ck_assert_int_eq(fx_stat("sends"), N);
}
END_TEST

START_TEST(test_llm_auth_and_down)
{
	struct fx_resp r;

	fx_reset();
	ck_assert_int_eq(fx_http("/v1/chat/completions", fx_chat_body, NULL, &r), 401);
	fx_resp_free(&r);
	fx_faults("{\"down_models\":[\"m\"]}");
	ck_assert_int_eq(fx_http("/v1/chat/completions", fx_chat_body, "k1", &r), 503);
	fx_resp_free(&r);
	fx_faults("{\"down_models\":[],\"down_keys\":[\"k1\"]}");
	ck_assert_int_eq(fx_http("/v1/chat/completions", fx_chat_body, "k1", &r), 503);
	fx_resp_free(&r);
	ck_assert_int_eq(fx_http("/v1/chat/completions", fx_chat_body, "k2", &r), 200);
	fx_resp_free(&r);
}
END_TEST

static double fx_cosine(json_t *data, size_t a, size_t b)
{
	json_t *ea = json_object_get(json_array_get(data, a), "embedding");
	json_t *eb = json_object_get(json_array_get(data, b), "embedding");
	double dot = 0;

	ck_assert_int_eq(json_array_size(ea), 64);
	for (size_t i = 0; i < json_array_size(ea); i++)
		dot += json_number_value(json_array_get(ea, i)) *
		       json_number_value(json_array_get(eb, i));
	return dot;
}

START_TEST(test_embeddings)
{
	long st;
	json_t *j;
	json_t *data;

	fx_reset();
	j = fx_json("/v1/embeddings",
		    "{\"input\":[\"THYAO bugun sert dustu, destek 280\","
		    "\"THYAO bugun sert dustu, destek 285\","
		    "\"altin ons fiyati rekor kirdi\"]}",
		    "k1", &st);
	data = json_object_get(j, "data");

	ck_assert_int_eq(st, 200);
	ck_assert_int_eq(json_array_size(data), 3);
	ck_assert(fx_cosine(data, 0, 0) > 0.999);
	ck_assert(fx_cosine(data, 0, 1) > 0.8);
	ck_assert(fx_cosine(data, 0, 2) < fx_cosine(data, 0, 1));
	json_decref(j);
	ck_assert_int_eq(fx_stat("embeddings/calls"), 1);
	ck_assert_int_eq(fx_stat("embeddings/inputs"), 3);
}
END_TEST

/* ---- the kinds of completions ---- */

/* A completion for a system and a user prompt on handle h (NULL: fresh); its content
 * (malloc'd; NULL when the answer is not JSON) and the status. */
static char *fx_complete_on(CURL *h, const char *system, const char *user, long *status)
{
	json_t *req = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "model", "m", "messages",
				"role", "system", "content", system, "role", "user", "content", user);
	char *body = json_dumps(req, JSON_COMPACT), *out = NULL;
	struct fx_resp r;
	json_t *j;

	*status = fx_http_on(h, "/v1/chat/completions", body, "k1", &r);
	j = r.body ? json_loads(r.body, 0, NULL) : NULL;
	if (j)
		out = strdup(json_string_value(json_object_get(
			json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message"),
			"content")));
	json_decref(j);
	json_decref(req);
	fx_resp_free(&r);
	free(body);
	return out;
}

static char *fx_complete(const char *system, const char *user)
{
	long st;
	char *text = fx_complete_on(NULL, system, user, &st);

	ck_assert_int_eq(st, 200);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* Our emojis are all four-byte UTF-8 (U+1F4xx..U+1F6xx). */
static int fx_has_emoji(const char *s)
{
	return strstr(s, "\xF0\x9F") != NULL;
}

static int fx_has_any(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strstr(s, *words))
			return 1;
	return 0;
}

START_TEST(test_persona_without_emoji)
{
	CURL *h = curl_easy_init();
	int with = 0;
	long st;

	fx_reset();
	for (int i = 0; i < 200; i++) {
		char *t = fx_complete_on(h, "Sen Ayşe'sin, temkinli bir yatırımcı. Emoji kullanma.",
					 "Konu: BIST\nSohbete katıl.", &st);
		ck_assert_int_eq(st, 200);
		ck_assert_msg(!fx_has_emoji(t), "emoji in: %s", t);
		free(t);
		t = fx_complete_on(h, "Sen Ali'sin. Arada emoji kullanırsın.", "Sohbete katıl.", &st);
		with += fx_has_emoji(t);
		free(t);
	}
	ck_assert_msg(with > 50, "only %d of 200 texts had an emoji", with); /* 5 in 9 */
	curl_easy_cleanup(h);
}
END_TEST

START_TEST(test_topic_and_reply)
{
	static const char *const bist[] = { "THYAO", "ASELS", "GARAN", "AKBNK",    "EREGL", "SISE",
					    "KCHOL", "BIMAS", "TUPRS", "FROTO",    "SASA",  "YKBNK",
					    "PGSUS", "TCELL", "ISCTR", "BIST 100", NULL };
	static const char *const fx[] = { "dolar/TL", "euro/TL", "sterlin/TL", "euro/dolar", NULL };
	static const char *const kripto[] = { "BTC", "ETH", "SOL", "XRP", "AVAX", "BNB", NULL };
	static const char *const makro[] = { "faiz", "enflasyon", "CDS", NULL };
	static const char *const replies[] = {
		"Katılıyorum, ", "Bence öyle değil, ", "Haklısın ama ",
		"Aynen öyle, ",  "Pek sanmıyorum, ",   "Doğru söylüyorsun, ",
		"Yok artık, ",   "İtiraz edeceğim, ",  NULL
	};
	const char *sys = "Sen bir yatırımcısın.";
	int replied = 0;

	fx_reset();
	for (int i = 0; i < 30; i++) {
		char *b = fx_complete(sys, "Persona: Ayşe\nKonu: BIST\nSon mesajlar: ...");
		char *f = fx_complete(sys, "Konu: FX");
		char *k = fx_complete(sys, "Son mesajlar:\n[ali]: selam\nKonu: Kripto\n");
		char *m = fx_complete(sys, "Konu: Makro");
		char *s = fx_complete(sys, "Konu: THYAO\nŞu mesaja cevap ver: [ali]: THYAO ne olur?");
		char *x = fx_complete(sys, "Konu: KOZAL");
		ck_assert_msg(fx_has_any(b, bist), "BIST: %s", b);
		ck_assert_msg(fx_has_any(f, fx), "FX: %s", f);
		ck_assert_msg(fx_has_any(k, kripto), "Kripto: %s", k);
		ck_assert_msg(fx_has_any(m, makro), "Makro: %s", m);
		ck_assert_msg(strstr(s, "THYAO"), "symbol: %s", s);
		ck_assert_msg(strstr(x, "KOZAL"), "ticker: %s", x);
		for (const char *const *r = replies; *r; r++)
			replied += strncmp(s, *r, strlen(*r)) == 0;
		ck_assert(!fx_has_any(b, replies)); /* only when asked to answer */
		free(b);
		b = fx_complete(sys, "Konu: Emtia"); /* a topic word, not a ticker */
		ck_assert_msg(!strstr(b, "EMTIA") && !strstr(b, "Emtia"), "%s", b);
		free(b), free(f), free(k), free(m), free(s), free(x);
	}
	ck_assert_msg(replied >= 5 && replied <= 25, "%d of 30 replies had an opener", replied);
	ck_assert_int_eq(fx_stat("completions/chat"), 210);
}
END_TEST

/* Texts stay unique when the prompts ask for different topics, replies and styles. */
START_TEST(test_variants_unique)
{
	static const char *const users[] = {
		"Sohbete katıl.",
		"Konu: BIST",
		"Konu: FX",
		"Konu: Kripto",
		"Konu: Makro",
		"Konu: THYAO",
		"Konu: BTC",
		"Konu: KOZAL",
		"Konu: BIST\nŞu mesaja cevap ver: x",
		"Şu mesaja cevap ver: selam",
	};
	enum { NU = sizeof(users) / sizeof(users[0]), N = 1500 };
	char **texts = calloc(N, sizeof(*texts));
	CURL *h = curl_easy_init();
	long st;

	fx_reset();
	for (int i = 0; i < N; i++) {
		texts[i] =
			fx_complete_on(h, i % 2 ? "Emoji kullanma." : "Persona.", users[i % NU], &st);
		ck_assert_int_eq(st, 200);
		ck_assert_ptr_nonnull(texts[i]);
	}
	qsort(texts, N, sizeof(*texts), fx_cmp_str);
	for (int i = 1; i < N; i++)
		ck_assert_msg(strcmp(texts[i - 1], texts[i]) != 0, "duplicate: %s", texts[i]);
	for (int i = 0; i < N; i++)
		free(texts[i]);
	free(texts);
	curl_easy_cleanup(h);
}
END_TEST

START_TEST(test_consistency_guard)
{
	const char *sys = "TUTARLILIK DENETİMİ\nAşağıdaki mesaj botun tutumlarıyla tutarlı mı?";
	const char *user = "Tutumlar: THYAO için yükseliş bekliyor.\nMesaj: THYAO çok düşecek.";
	char *t;

	fx_reset();
	for (int i = 0; i < 20; i++) {
		t = fx_complete(sys, user);
		ck_assert_str_eq(t, "EVET");
		free(t);
	}
	fx_faults("{\"guard_reject\":1}");
	t = fx_complete(sys, user);
	ck_assert_msg(strncmp(t, "HAYIR: ", 7) == 0 && strstr(t, "THYAO"), "%s", t);
	ck_assert(strlen(t) < 120);
	free(t);
	t = fx_complete(sys, "Mesaj: bugün hava güzel");
	ck_assert_msg(strncmp(t, "HAYIR: ", 7) == 0 && strlen(t) > 10, "%s", t);
	free(t);
	fx_faults("{\"guard_reject\":0.5}");
	for (int i = 0, yes = 0, no = 0; i < 200; i++) {
		t = fx_complete(sys, user);
		yes += strcmp(t, "EVET") == 0;
		no += strncmp(t, "HAYIR: ", 7) == 0;
		free(t);
		if (i == 199)
			ck_assert_msg(yes > 60 && no > 60 && yes + no == 200, "%d EVET, %d HAYIR",
				      yes, no);
	}
	ck_assert_int_eq(fx_stat("completions/guard"), 222);
	ck_assert(fx_stat("completions/guard_rejected") >= 62);
	ck_assert_int_eq(fx_stat("completions/chat"), 0);
}
END_TEST

START_TEST(test_memorize)
{
	const char *sys = "HAFIZA ÖZETİ\nBotun son mesajlarından kalıcı anılar çıkar. "
			  "JSON dizi döndür.";
	const char *user = "Son mesajların:\n- THYAO'dan dün çıktım, kâr iyiydi.\n"
			   "- GARAN bence ucuz.\n- Altında pozisyon yok.";
	static const char *const types[] = { "past_event", "preference", "personal_fact", NULL };
	int sizes[4] = { 0 };
	long st;

	fx_reset();
	for (int i = 0; i < 30; i++) {
		char *t = fx_complete(sys, user);
		json_t *arr = json_loads(t, 0, NULL), *o;
		size_t k;
		ck_assert_msg(json_is_array(arr), "not a JSON array: %s", t);
		ck_assert(json_array_size(arr) >= 1 && json_array_size(arr) <= 3);
		sizes[json_array_size(arr)]++;
		json_array_foreach(arr, k, o) {
			const char *type = json_string_value(json_object_get(o, "memory_type"));
			const char *content = json_string_value(json_object_get(o, "content"));
			int known = 0;
			for (const char *const *ty = types; *ty && type; ty++)
				known |= strcmp(type, *ty) == 0;
			ck_assert_msg(known, "memory_type %s", type ? type : "(none)");
			ck_assert(content && strlen(content) > 10 && strlen(content) < 200);
			ck_assert_msg(strstr(content, "THYAO") || strstr(content, "GARAN"), "%s",
				      content);
		}
		json_decref(arr);
		free(t);
	}
	ck_assert(sizes[1] > 0 && sizes[2] > 0 && sizes[3] > 0);
	/* badjson: a valid answer whose content is broken JSON */
	fx_faults("{\"fault_badjson\":1}");
	for (int i = 0; i < 5; i++) {
		char *t = fx_complete_on(NULL, sys, user, &st);
		ck_assert_int_eq(st, 200);
		ck_assert_ptr_nonnull(t);
		ck_assert_msg(t[0] == '[' && !json_loads(t, 0, NULL), "not broken: %s", t);
		free(t);
	}
	ck_assert_int_eq(fx_stat("completions/memorize"), 35);
	ck_assert_int_eq(fx_stat("faults/badjson"), 5);
}
END_TEST

/* ---- news feeds ---- */

/* GET /_rss/<name> parsed with common/rss; the item count, or -1 when not 200 RSS. */
static int fx_feed(const char *name, struct rss_item **items)
{
	char path[128], err[256];
	struct fx_resp r;
	size_t n = 0;
	int rc;

	snprintf(path, sizeof(path), "/_rss/%s", name);
	*items = NULL;
	if (fx_http(path, NULL, NULL, &r) != 200 || !strcasestr(r.headers, "application/rss+xml")) {
		fx_resp_free(&r);
		return -1;
	}
	rc = rss_parse(r.body, strlen(r.body), items, &n, err, sizeof(err));
	ck_assert_msg(rc == 0, "feed does not parse: %s", err);
	fx_resp_free(&r);
	return (int)n;
}

static int64_t fx_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(test_news_feeds)
{
	static const char *const topics[] = { "BIST", "FX", "Kripto", "Makro" };
	struct rss_item *it;
	int64_t now = fx_wall_ms();
	struct fx_resp r;
	long st;
	int n;

	fx_reset();
	n = fx_feed("piyasa", &it);
	ck_assert_int_eq(n, 10);
	for (int i = 0; i < n; i++) {
		ck_assert(it[i].published_ms <= now + 2000 && it[i].published_ms > now - 6 * 3600000LL);
		if (i > 0)
			ck_assert(it[i].published_ms <= it[i - 1].published_ms); /* newest first */
	}
	for (int t = 0; t < 4; t++) {
		int found = 0;
		for (int i = 0; i < n; i++)
			found += rss_topic_match(it[i].title, topics[t]);
		ck_assert_msg(found >= 2, "%d headlines about %s", found, topics[t]);
	}
	ck_assert_int_eq(rss_pick(it, (size_t)n, "Kripto", now, NULL) >= 0, 1);
	rss_items_free(it, (size_t)n);

	json_decref(fx_ok("/_control/news", "{\"title\":\"THYAO & Pegasus: yolcu rekoru <kırıldı>\"}"));
	json_decref(fx_ok("/_control/news", "{\"title\":\"Eski haber\",\"age_s\":90000}"));
	n = fx_feed("baska.xml", &it);
	ck_assert_int_eq(n, 12);
	ck_assert_str_eq(it[0].title, "THYAO & Pegasus: yolcu rekoru <kırıldı>");
	ck_assert(it[0].published_ms > now - 5000);
	ck_assert_str_eq(it[11].title, "Eski haber");
	ck_assert(it[11].published_ms < now - 89000000LL);
	rss_items_free(it, (size_t)n);

	json_decref(fx_json("/_control/news", "{\"age_s\":5}", NULL, &st));
	ck_assert_int_eq(st, 400);
	json_decref(fx_json("/_control/news", "{\"title\":\"x\",\"age_s\":-1}", NULL, &st));
	ck_assert_int_eq(st, 400);
	ck_assert_int_eq(fx_http("/_rss/dead", NULL, NULL, &r), 503);
	fx_resp_free(&r);
	ck_assert_int_eq(fx_http("/_rss/bad%20name", NULL, NULL, &r), 404);
	fx_resp_free(&r);
	ck_assert_int_eq(fx_stat("rss/served"), 2);
	ck_assert_int_eq(fx_stat("rss/dead"), 1);
	ck_assert_int_eq(fx_stat("rss/added"), 2);

	fx_reset();
	n = fx_feed("piyasa", &it);
	ck_assert_int_eq(n, 10);
	rss_items_free(it, (size_t)n);
}
END_TEST

START_TEST(test_sigterm_exits_zero)
{
	int port = fx_port + 500, status = -1;
	pid_t pid = -1;
	char url[128];
	CURL *h = curl_easy_init();

	for (int i = 0; i < 20 && pid < 0; i++)
		pid = fx_spawn(port += i, "--hang-ms=1000");
	ck_assert(pid > 0);
	/* leave a long poll pending: shutdown must still be clean and quick */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bot1:T/getUpdates?timeout=30", port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 300L);
	curl_easy_perform(h);
	curl_easy_cleanup(h);
	kill(pid, SIGTERM);
	for (int i = 0; i < 50 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}
END_TEST

static Suite *fx_suite(void)
{
	Suite *s = suite_create("fakeapi");
	TCase *tc = tcase_create("fakeapi");

	tcase_add_unchecked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_get_me);
	tcase_add_test(tc, test_send_ids_and_stats);
	tcase_add_test(tc, test_duplicate_sends);
	tcase_add_test(tc, test_send_validation);
	tcase_add_test(tc, test_human_reaches_member);
	tcase_add_test(tc, test_long_poll_returns_early);
	tcase_add_test(tc, test_get_updates_conflict);
	tcase_add_test(tc, test_completions_unique);
	tcase_add_test(tc, test_fault_429);
	tcase_add_test(tc, test_fault_badjson);
	tcase_add_test(tc, test_fault_5xx_and_hang);
	tcase_add_test(tc, test_latency_holds_no_thread);
	tcase_add_test(tc, test_llm_auth_and_down);
	tcase_add_test(tc, test_embeddings);
	tcase_add_test(tc, test_persona_without_emoji);
	tcase_add_test(tc, test_topic_and_reply);
	tcase_add_test(tc, test_variants_unique);
	tcase_add_test(tc, test_consistency_guard);
	tcase_add_test(tc, test_memorize);
	tcase_add_test(tc, test_news_feeds);
	tcase_add_test(tc, test_sigterm_exits_zero);
	suite_add_tcase(s, tc);
	return s;
}

/* The fake's own exit status fails the run too (its teardown sets it). */
int main(void)
{
	int failed = check_run(fx_suite());

	return failed || fx_exit_status ? EXIT_FAILURE : EXIT_SUCCESS;
}
