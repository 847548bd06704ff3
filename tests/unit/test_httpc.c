/* test_httpc: httpc against a libmicrohttpd server run inside the test process
 * (one thread per connection) on a random loopback port. Endpoints: /echo
 * (method|X-Test|body), /429 (Retry-After: 3), /500, /slow (2 s), /stall (one
 * byte then silence), /big (2 MiB). Each test runs its own loop and ends by
 * asserting the loop closes clean. Prints the request rate. */
#include "common/net/httpc.h"
#include "tests/check_main.h"

#include <arpa/inet.h>
#include <check.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static struct MHD_Daemon *srv;
static char base[64]; /* http://127.0.0.1:port */

/* --- the server ------------------------------------------------------------ */

struct upload {
	char *data;
	size_t len;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
			     size_t len, const char *hname, const char *hval)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (hname)
		MHD_add_response_header(r, hname, hval);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result echo(struct MHD_Connection *conn, const char *method, struct upload *u)
{
	const char *xt = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Test");
	size_t n = strlen(method) + (xt ? strlen(xt) : 0) + u->len + 3;
	char *b = malloc(n);
	int k = snprintf(b, n, "%s|%s|", method, xt ? xt : "");
	enum MHD_Result ret;

	memcpy(b + k, u->data ? u->data : "", u->len);
	ret = reply(conn, 200, b, k + u->len, NULL, NULL);
	free(b);
	return ret;
}

/* /stall: one byte, then nothing for 3 s. */
static ssize_t stall_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)max;
	if (pos == 0) {
		buf[0] = 'a';
		return 1;
	}
	for (int i = 0; i < 30; i++)
		usleep(100000);
	return MHD_CONTENT_READER_END_OF_STREAM;
}

static enum MHD_Result stall(struct MHD_Connection *conn)
{
	struct MHD_Response *r =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, stall_body, NULL, NULL);
	enum MHD_Result ret = MHD_queue_response(conn, 200, r);

	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result route(struct MHD_Connection *conn, const char *url, const char *method,
			     struct upload *u)
{
	static char big[2 << 20];

	if (strcmp(url, "/429") == 0)
		return reply(conn, 429, "slow down", 9, "Retry-After", "3");
	if (strcmp(url, "/500") == 0)
		return reply(conn, 500, "oops", 4, NULL, NULL);
	if (strcmp(url, "/slow") == 0) {
		sleep(2);
		return reply(conn, 200, "slow", 4, NULL, NULL);
	}
	if (strcmp(url, "/stall") == 0)
		return stall(conn);
	if (strcmp(url, "/big") == 0) {
		memset(big, 'b', sizeof big);
		return reply(conn, 200, big, sizeof big, NULL, NULL);
	}
	return echo(conn, method, u);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct upload *u = *con_cls;

	(void)cls;
	(void)version;
	if (!u) { /* headers only: ask for the body */
		*con_cls = calloc(1, sizeof *u);
		return MHD_YES;
	}
	if (*data_size) {
		u->data = realloc(u->data, u->len + *data_size);
		memcpy(u->data + u->len, data, *data_size);
		u->len += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	return route(conn, url, method, u);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (u)
		free(u->data);
	free(u);
	*con_cls = NULL;
}

static void server_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
				       MHD_USE_POLL,
			       0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
			       MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			       MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	ck_assert_msg(srv != NULL, "MHD_start_daemon");
	info = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)info->port);
}

static void server_stop(void)
{
	MHD_stop_daemon(srv);
	srv = NULL;
}

/* --- helpers --------------------------------------------------------------- */

struct got {
	int calls;
	int status, kind, too_large;
	long retry_after;
	char err[256];
	char body[256];
	size_t body_len;
};

static void on_resp(const struct httpc_resp *r, void *arg)
{
	struct got *g = arg;

	g->calls++;
	g->status = r->status;
	g->kind = r->err_kind;
	g->too_large = r->too_large;
	g->retry_after = r->retry_after_s;
	g->body_len = r->body_len;
	snprintf(g->err, sizeof g->err, "%s", r->err);
	memcpy(g->body, r->body, r->body_len < 255 ? r->body_len : 255);
	g->body[r->body_len < 255 ? r->body_len : 255] = '\0';
}

static void url(char *buf, size_t n, const char *path)
{
	snprintf(buf, n, "%s%s", base, path);
}

/* One request, run to its answer. */
static void fetch(uv_loop_t *loop, struct httpc *h, const struct httpc_req *req, struct got *g)
{
	memset(g, 0, sizeof *g);
	ck_assert_int_eq(httpc_request(h, req, on_resp, g), 0);
	ck_assert_uint_eq(httpc_inflight(h), 1);
	while (!g->calls)
		uv_run(loop, UV_RUN_ONCE);
	ck_assert_uint_eq(httpc_inflight(h), 0);
}

static struct httpc *client(uv_loop_t *loop)
{
	char err[128];
	struct httpc *h;

	uv_loop_init(loop);
	h = httpc_new(loop, err, sizeof err);
	ck_assert_msg(h != NULL, "%s", err);
	return h;
}

static void close_loop(uv_loop_t *loop, struct httpc *h)
{
	httpc_free(h);
	uv_run(loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(loop), 0);
}

/* --- tests ----------------------------------------------------------------- */

START_TEST(get_and_post)
{
	uv_loop_t loop;
	struct httpc *h = client(&loop);
	const char *hdrs[] = { "X-Test: hello", "Content-Type: application/json", NULL };
	struct httpc_req req = { .url = NULL, .headers = hdrs, .timeout_ms = 5000 };
	struct got g;
	char u[128];

	url(u, sizeof u, "/echo");
	req.url = u;
	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.kind, HTTPC_OK);
	ck_assert_int_eq(g.status, 200);
	ck_assert_str_eq(g.body, "GET|hello|");
	ck_assert_str_eq(g.err, "");
	ck_assert_int_eq(g.retry_after, -1);

	req.method = "POST";
	req.body = "{\"a\":1}";
	req.body_len = 7;
	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert_str_eq(g.body, "POST|hello|{\"a\":1}");

	/* A body with a NUL in it goes out whole; method defaults to POST. */
	req.method = NULL;
	req.body = "x\0y";
	req.body_len = 3;
	fetch(&loop, h, &req, &g);
	ck_assert_uint_eq(g.body_len, 14);
	ck_assert_int_eq(memcmp(g.body, "POST|hello|x\0y", 14), 0);

	req.method = "PUT";
	req.body = "z";
	req.body_len = 1;
	fetch(&loop, h, &req, &g);
	ck_assert_str_eq(g.body, "PUT|hello|z");
	close_loop(&loop, h);
}
END_TEST

START_TEST(status_and_retry_after)
{
	uv_loop_t loop;
	struct httpc *h = client(&loop);
	struct httpc_req req = { .timeout_ms = 5000 };
	struct got g;
	char u[128];

	url(u, sizeof u, "/429");
	req.url = u;
	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.kind, HTTPC_OK);
	ck_assert_int_eq(g.status, 429);
	ck_assert_int_eq(g.retry_after, 3);
	ck_assert_str_eq(g.body, "slow down");

	url(u, sizeof u, "/500");
	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.kind, HTTPC_OK);
	ck_assert_int_eq(g.status, 500);
	ck_assert_int_eq(g.retry_after, -1);
	close_loop(&loop, h);
}
END_TEST

/* --- many at once ----------------------------------------------------------- */

#define MANY 1000

struct many {
	int done, ok;
};

static void on_many(const struct httpc_resp *r, void *arg)
{
	struct many *m = arg;

	m->done++;
	m->ok += r->err_kind == HTTPC_OK && r->status == 200 && r->body_len == 5 &&
		 memcmp(r->body, "GET||", 5) == 0;
}

static double run_many(uv_loop_t *loop, struct httpc *h, struct many *m)
{
	struct httpc_req req = { .timeout_ms = 20000 };
	char u[128];
	uint64_t t0 = uv_hrtime();

	url(u, sizeof u, "/echo");
	req.url = u;
	for (int i = 0; i < MANY; i++)
		ck_assert_int_eq(httpc_request(h, &req, on_many, m), 0);
	ck_assert_uint_eq(httpc_inflight(h), MANY);
	while (m->done < MANY)
		uv_run(loop, UV_RUN_ONCE);
	return MANY / ((uv_hrtime() - t0) / 1e9);
}

START_TEST(thousand_concurrent_reuse_connections)
{
	uv_loop_t loop;
	struct httpc *h = client(&loop);
	struct many m = { 0 }, m2 = { 0 };
	double rate, rate2;

	rate = run_many(&loop, h, &m);
	ck_assert_int_eq(m.ok, MANY);
	ck_assert_msg(httpc_connects(h) <= 16, "%ld connections", httpc_connects(h));
	/* A second wave rides the connections already open. */
	rate2 = run_many(&loop, h, &m2);
	ck_assert_int_eq(m2.ok, MANY);
	ck_assert_msg(httpc_connects(h) <= 16, "%ld connections", httpc_connects(h));
	printf("httpc: %d concurrent GETs: %.0f req/s cold, %.0f req/s warm, %ld connections "
	       "for %d requests\n",
	       MANY, rate, rate2, httpc_connects(h), 2 * MANY);
	fflush(stdout);

	close_loop(&loop, h);
}
END_TEST

START_TEST(max_host_connections)
{
	uv_loop_t loop;
	struct httpc *h = client(&loop);
	struct many m = { 0 };

	httpc_set_max_host_connections(h, 2);
	run_many(&loop, h, &m);
	ck_assert_int_eq(m.ok, MANY);
	ck_assert_msg(httpc_connects(h) <= 2, "%ld connections", httpc_connects(h));
	close_loop(&loop, h);
}
END_TEST

/* --- failures --------------------------------------------------------------- */

START_TEST(timeout)
{
	uv_loop_t loop;
	struct httpc *h = client(&loop);
	struct httpc_req req = { .timeout_ms = 300 };
	struct got g;
	char u[160];

	/* The path stands in for a bot token: it must not reach the error text. */
	url(u, sizeof u, "/slow?token=SECRETTOKEN42");
	req.url = u;
	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.kind, HTTPC_TIMEOUT);
	ck_assert_int_eq(g.status, 0);
	ck_assert_msg(strstr(g.err, "SECRETTOKEN42") == NULL, "%s", g.err);
	close_loop(&loop, h);
}
END_TEST

START_TEST(stall_detection)
{
	uv_loop_t loop;
	struct httpc *h = client(&loop);
	struct httpc_req req = { .timeout_ms = 10000, .low_speed_time_s = 1 };
	struct got g;
	char u[128];
	uint64_t t0 = uv_hrtime();

	url(u, sizeof u, "/stall");
	req.url = u;
	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.kind, HTTPC_TIMEOUT);
	ck_assert_int_eq(g.status, 200);
	ck_assert_msg(uv_hrtime() - t0 < 2800000000ull, "stall not detected early");
	close_loop(&loop, h);
}
END_TEST

START_TEST(connect_refused)
{
	uv_loop_t loop;
	struct httpc *h = client(&loop);
	struct httpc_req req = { .url = "http://127.0.0.1:1/botSECRETTOKEN42/sendMessage",
				 .method = "POST",
				 .body = "{}",
				 .body_len = 2,
				 .timeout_ms = 3000,
				 .connect_timeout_ms = 1000 };
	struct got g;

	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.kind, HTTPC_CONNECT);
	ck_assert_int_eq(g.status, 0);
	ck_assert(g.err[0] != '\0');
	ck_assert_msg(strstr(g.err, "SECRETTOKEN42") == NULL, "%s", g.err);
	ck_assert_msg(strstr(g.err, "sendMessage") == NULL, "%s", g.err);
	close_loop(&loop, h);
}
END_TEST

START_TEST(response_too_large)
{
	uv_loop_t loop;
	struct httpc *h = client(&loop);
	struct httpc_req req = { .timeout_ms = 5000 };
	struct got g;
	char u[128];

	url(u, sizeof u, "/big");
	req.url = u;
	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.kind, HTTPC_NETWORK);
	ck_assert_str_eq(g.err, "response too large");
	ck_assert_int_eq(g.too_large, 1);
	/* A caller that expects big answers (getUpdates: issue 19, item 3) raises
	 * the cap for its request; the next request has the default again. */
	req.max_body = 4 << 20;
	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.kind, HTTPC_OK);
	ck_assert_int_eq(g.too_large, 0);
	ck_assert_uint_eq(g.body_len, 2 << 20);
	req.max_body = 0;
	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.too_large, 1);
	req.max_body = (2 << 20) - 1;
	fetch(&loop, h, &req, &g);
	ck_assert_int_eq(g.too_large, 1);
	close_loop(&loop, h);
}
END_TEST

START_TEST(bad_requests_refused)
{
	uv_loop_t loop;
	struct httpc *h = client(&loop);
	struct httpc_req req = { .url = "file:///etc/passwd" };
	struct got g = { 0 };

	ck_assert_int_eq(httpc_request(h, &(struct httpc_req){ 0 }, on_resp, &g), -1);
	/* curl refuses other schemes when the transfer starts. */
	fetch(&loop, h, &req, &g);
	ck_assert_int_ne(g.kind, HTTPC_OK);
	ck_assert_int_eq(g.calls, 1);
	close_loop(&loop, h);
}
END_TEST

/* --- freeing with requests in flight ---------------------------------------- */

struct tally {
	int calls[50];
	int aborted;
	struct httpc *h;
	int free_at; /* call httpc_free from the callback that makes this many */
	int total;
};

struct tally_arg {
	struct tally *t;
	int i;
};

static void on_tally(const struct httpc_resp *r, void *arg)
{
	struct tally_arg *ta = arg;
	struct tally *t = ta->t;

	t->calls[ta->i]++;
	t->aborted += r->err_kind == HTTPC_ABORTED;
	if (++t->total == t->free_at)
		httpc_free(t->h);
}

static void on_free_timer(uv_timer_t *tm)
{
	httpc_free(tm->data);
	uv_close((uv_handle_t *)tm, NULL);
}

static void start_tally(struct httpc *h, struct tally *t, struct tally_arg *args,
			const char *fast_path, const char *slow_path)
{
	char fast[128], slow[128];
	struct httpc_req req = { .timeout_ms = 10000 };

	url(fast, sizeof fast, fast_path);
	url(slow, sizeof slow, slow_path);
	for (int i = 0; i < 50; i++) {
		args[i] = (struct tally_arg){ t, i };
		req.url = i < 5 ? fast : slow;
		ck_assert_int_eq(httpc_request(h, &req, on_tally, &args[i]), 0);
	}
}

START_TEST(free_with_requests_in_flight)
{
	uv_loop_t loop;
	uv_timer_t tm;
	struct httpc *h = client(&loop);
	struct tally t = { .h = h };
	struct tally_arg args[50];

	start_tally(h, &t, args, "/slow", "/slow");
	uv_timer_init(&loop, &tm);
	tm.data = h;
	uv_timer_start(&tm, on_free_timer, 100, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	for (int i = 0; i < 50; i++)
		ck_assert_msg(t.calls[i] == 1, "request %d: %d calls", i, t.calls[i]);
	ck_assert_int_eq(t.aborted, 50);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(free_from_callback)
{
	uv_loop_t loop;
	struct httpc *h = client(&loop);
	struct tally t = { .h = h, .free_at = 1 };
	struct tally_arg args[50];

	start_tally(h, &t, args, "/echo", "/slow");
	uv_run(&loop, UV_RUN_DEFAULT);
	for (int i = 0; i < 50; i++)
		ck_assert_msg(t.calls[i] == 1, "request %d: %d calls", i, t.calls[i]);
	ck_assert_int_ge(t.aborted, 45);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *httpc_suite(void)
{
	Suite *s = suite_create("httpc");
	TCase *tc = tcase_create("httpc");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, server_start, server_stop);
	tcase_add_test(tc, get_and_post);
	tcase_add_test(tc, status_and_retry_after);
	tcase_add_test(tc, thousand_concurrent_reuse_connections);
	tcase_add_test(tc, max_host_connections);
	tcase_add_test(tc, timeout);
	tcase_add_test(tc, stall_detection);
	tcase_add_test(tc, connect_refused);
	tcase_add_test(tc, response_too_large);
	tcase_add_test(tc, bad_requests_refused);
	tcase_add_test(tc, free_with_requests_in_flight);
	tcase_add_test(tc, free_from_callback);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(httpc_suite)
