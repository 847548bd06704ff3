/* test_task: the job runner (worker/jobs/task.c) with hooks of the test's own
 * (ack, nack and freed are recorded; an ack or nack is answered with
 * task_done on a later turn of the loop, as the queue does) and a job kind of
 * the test's own, on a real libuv loop against the real PostgreSQL of
 * scripts/services: each test case (TCase) creates a database of its own
 * (tt_<pid>_<case>) from PIYASA_DATABASE_URL's server, migrated by
 * `$PIYASA_BIN_DIR/piyasactl migrate`, and drops it at the end. The "send"
 * case also starts `$PIYASA_BIN_DIR/piyasa-fakeapi` on a port the kernel picks
 * (--port 0) and points telegram.api_url and the LLM provider at it; faults
 * are switched through its control API. Each test ends by asserting that the
 * loop closes clean. */
#include "common/backoff.h"
#include "common/cfg.h"
#include "common/job.h"
#include "common/log.h"
#include "common/net/httpc.h"
#include "common/net/later.h"
#include "common/net/pgpool.h"
#include "common/settings.h"
#include "common/shm.h"
#include "tests/check_main.h"
#include "worker/calls/llm.h"
#include "worker/calls/tgc.h"
#include "worker/jobs/task.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

/* ---- the case's services: a database and, for "send", the fake API ---- */

static char db_url[512], admin_url[512], db_name[64];
static char fake_url[64];
static pid_t fake_pid;
static int fake_out = -1;

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* sql on conninfo; 0, or -1 after printing why. */
static int pg_exec_on(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;
	int ok;

	PQsetNoticeProcessor(c, quiet_notice, NULL);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "test_task: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "test_task: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

static char *bin(const char *name)
{
	const char *dir = getenv("PIYASA_BIN_DIR");
	char *p;

	if (asprintf(&p, "%s/%s", dir && *dir ? dir : "bin", name) < 0)
		abort();
	return p;
}

/* Run argv with PIYASA_DATABASE_URL=db_url; its exit status, -1 when it did
 * not exit. */
static int run_prog(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		setenv("PIYASA_DATABASE_URL", db_url, 1);
		if (!freopen("/dev/null", "w", stdout)) /* "applied 001_init"... */
			_exit(126);
		execv(argv[0], argv);
		fprintf(stderr, "test_task: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A database of the case's own on the server of PIYASA_DATABASE_URL. */
static void db_create(const char *tag)
{
	const char *u = getenv("PIYASA_DATABASE_URL");
	const char *slash;
	char sql[160], *ctl = bin("piyasactl");
	char *const av[] = { ctl, "migrate", NULL };

	if (!u || !*u)
		u = "postgresql://postgres@127.0.0.1:25432/piyasa";
	slash = strrchr(u, '/');
	ck_assert_msg(slash && slash > u + 12, "PIYASA_DATABASE_URL %s has no database", u);
	snprintf(db_name, sizeof db_name, "tt_%d_%s", (int)getpid(), tag);
	snprintf(admin_url, sizeof admin_url, "%.*s/postgres", (int)(slash - u), u);
	snprintf(db_url, sizeof db_url, "%.*s/%s", (int)(slash - u), u, db_name);
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", db_name);
	pg_exec_on(admin_url, sql);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", db_name);
	ck_assert_msg(pg_exec_on(admin_url, sql) == 0,
		      "cannot create %s (is scripts/services "
		      "running?)",
		      db_name);
	ck_assert_msg(run_prog(av) == 0, "piyasactl migrate failed on %s", db_url);
	free(ctl);
}

static void db_drop(void)
{
	char sql[160];

	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
	pg_exec_on(admin_url, sql);
}

/* The fake on a free port: it prints one line when ready, with the port. */
static void fake_start(void)
{
	char *path = bin("piyasa-fakeapi"), line[256];
	char *const av[] = { path, "--port", "0", "--quiet", "--threads", "2", NULL };
	int fds[2];
	size_t n = 0;
	ssize_t got;
	unsigned port = 0;
	const char *p;

	ck_assert_int_eq(pipe(fds), 0);
	fake_pid = fork();
	ck_assert_int_ge(fake_pid, 0);
	if (fake_pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test */
		execv(av[0], av);
		_exit(127);
	}
	close(fds[1]);
	fake_out = fds[0];
	while (n < sizeof line - 1 && (got = read(fake_out, line + n, 1)) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	p = strrchr(line, ':');
	ck_assert_msg(p && sscanf(p + 1, "%u", &port) == 1 && port > 0,
		      "the fake API did not come up: '%s'", line);
	snprintf(fake_url, sizeof fake_url, "http://127.0.0.1:%u", port);
	free(path);
}

static void fake_stop(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
		fake_pid = 0;
	}
	if (fake_out >= 0)
		close(fake_out);
	fake_out = -1;
}

static void case_runner_up(void)
{
	db_create("runner");
}

static void case_send_up(void)
{
	db_create("send");
	fake_start();
}

static void case_send_down(void)
{
	fake_stop();
	db_drop();
}

/* ---- talking to the fake and the database from the outside ---- */

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

/* GET (post NULL) or POST a JSON body to the fake; the answer, decref it. */
static json_t *fake_call(const char *path, const char *post)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct buf b = { NULL, 0 };
	char url[256];
	long st = 0;
	json_t *o;

	snprintf(url, sizeof url, "%s%s", fake_url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (post)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	ck_assert_msg(curl_easy_perform(c) == CURLE_OK, "no answer from the fake at %s", url);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	ck_assert_msg(st == 200, "%s: HTTP %ld: %s", path, st, b.p ? b.p : "");
	o = json_loads(b.p ? b.p : "", 0, NULL);
	free(b.p);
	ck_assert_ptr_nonnull(o);
	return o;
}

static void fake_faults(const char *json)
{
	json_decref(fake_call("/_control/faults", json));
}

/* The first column of the first row as text ("" for NULL, "(none)" for no row). */
static char *pg_text(const char *sql, const char *p1)
{
	PGconn *c = PQconnectdb(db_url);
	const char *params[1] = { p1 };
	PGresult *r;
	char *v;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexecParams(c, sql, p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	v = strdup(PQntuples(r) == 0 ? "(none)" : PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

#define ck_pg_eq(sql, p1, want)                                                                  \
	do {                                                                                     \
		char *got_ = pg_text(sql, p1);                                                   \
		ck_assert_msg(strcmp(got_, want) == 0, "%s [%s]: '%s', not '%s'", sql, p1, got_, \
			      want);                                                             \
		free(got_);                                                                      \
	} while (0)

static void pg_exec(const char *sql)
{
	ck_assert_msg(pg_exec_on(db_url, sql) == 0, "%s", sql);
}

/* ---- the runner under test, its hooks and the test's job kind ---- */

static uv_loop_t loop;
static struct cfg cfg;
static struct shm_slot slot;
static struct httpc *http;
static struct llm *llm;
static struct tgc *tgc;
static struct pgpool *pg;
static struct tasks *ts;
static int64_t chat; /* a chat of the test's own, in the fake too */

#define NREC 64

/* What the runner asked of the queue. */
static struct {
	int acks, nacks, freed;
	char ack_id[NREC][JOB_ID_MAX];
	char nack_id[NREC][JOB_ID_MAX];
	int64_t nack_delay[NREC];
	int nack_fault[NREC]; /* 1: the try failed (counts towards max_attempts) */
} H;

/* What the kind saw. */
enum kind_mode { K_HOLD, K_SEND, K_RETRY, K_LLM };
static struct {
	enum kind_mode mode;
	int64_t retry_with; /* K_RETRY: task_retry's delay */
	int starts, sents, recordeds, clears;
	struct task *held[NREC];
	int nheld;
	int cut_pg_ms;        /* the sent hook takes the database away this long */
	struct task_sent rec; /* the last recorded (text copied below) */
	char rec_text[256];
	char sent_text[256]; /* the text as the sent hook saw it */
} K;

static void on_done_later(void *t)
{
	task_done(t, 1);
}

static void hook_ack(struct task *t, void *arg)
{
	(void)arg;
	ck_assert_int_lt(H.acks, NREC);
	snprintf(H.ack_id[H.acks++], JOB_ID_MAX, "%s", task_id(t));
	later_run(&loop, 0, on_done_later, t); /* the queue answers on a later turn */
}

static void hook_nack(struct task *t, int64_t delay_ms, int fault, void *arg)
{
	(void)arg;
	ck_assert_int_lt(H.nacks, NREC);
	snprintf(H.nack_id[H.nacks], JOB_ID_MAX, "%s", task_id(t));
	H.nack_fault[H.nacks] = fault;
	H.nack_delay[H.nacks++] = delay_ms;
	later_run(&loop, 0, on_done_later, t);
}

static void hook_freed(void *arg)
{
	(void)arg;
	H.freed++;
}

static void kind_send_text(struct task *t, char *text)
{
	task_set_bot(t, "bot42", "42:secret");
	task_send(t, text);
}

static void kind_start(struct task *t, void *arg)
{
	static const struct llmw_params par = { 0.7, 1.0, 0, 0, 200 };
	char *text;

	(void)arg;
	K.starts++;
	switch (K.mode) {
	case K_HOLD:
		ck_assert_int_lt(K.nheld, NREC);
		K.held[K.nheld++] = t;
		break;
	case K_SEND:
		ck_assert(asprintf(&text, "merhaba %s", task_id(t)) > 0);
		kind_send_text(t, text);
		break;
	case K_RETRY: task_retry(t, K.retry_with); break;
	case K_LLM:
		task_llm(t, TASK_LLM_DRAFT, strdup("Sen bir borsa grubundasın."),
			 strdup("THYAO ne olur?"), &par, kind_send_text);
		break;
	}
}

/* A database outage, for real: the case's database refuses connections and
 * its backends (the pool's) are terminated; allow_connections comes back on
 * a timer. */
static uv_timer_t pg_back_timer;

static void pg_allow(int on)
{
	char sql[160];

	snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS %s", db_name,
		 on ? "true" : "false");
	ck_assert_int_eq(pg_exec_on(admin_url, sql), 0);
	if (on)
		return;
	snprintf(sql, sizeof sql,
		 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
		 "WHERE datname = '%s'",
		 db_name);
	ck_assert_int_eq(pg_exec_on(admin_url, sql), 0);
}

static void on_pg_back(uv_timer_t *t)
{
	pg_allow(1);
	uv_close((uv_handle_t *)t, NULL);
}

static void kind_sent(struct task *t, void *arg)
{
	(void)arg;
	K.sents++;
	if (K.cut_pg_ms) {
		pg_allow(0);
		uv_timer_init(&loop, &pg_back_timer);
		uv_timer_start(&pg_back_timer, on_pg_back, (uint64_t)K.cut_pg_ms, 0);
		K.cut_pg_ms = 0;
	}
	snprintf(K.sent_text, sizeof K.sent_text, "%s", task_text(t));
}

static void kind_recorded(struct task *t, const struct task_sent *s, void *arg)
{
	(void)t;
	(void)arg;
	K.recordeds++;
	K.rec = *s;
	snprintf(K.rec_text, sizeof K.rec_text, "%s", s->text);
	K.rec.text = K.rec_text;
}

static void kind_clear(struct task *t, void *arg)
{
	(void)t;
	(void)arg;
	K.clears++;
}

/* ---- the loop ---- */

static void on_deadline(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

static int run_until(int (*cond)(void), unsigned ms)
{
	uv_timer_t t;
	int expired = 0;

	uv_timer_init(&loop, &t);
	t.data = &expired;
	uv_timer_start(&t, on_deadline, ms, 0);
	while (!cond() && !expired)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	return cond();
}

static int pg_is_up(void)
{
	return pgpool_up(pg);
}

static int pg_is_down(void)
{
	return !pgpool_up(pg);
}

static int idle(void)
{
	return tasks_idle(ts);
}

static int want_ends;
static int ends_came(void)
{
	return H.acks + H.nacks >= want_ends;
}

/* Run until n tasks ended (ack or nack) and every task left memory. */
static void wait_ends(int n, unsigned ms)
{
	want_ends = n;
	ck_assert_msg(run_until(ends_came, ms), "%d acks and %d nacks, %d ends expected", H.acks,
		      H.nacks, n);
	ck_assert_msg(run_until(idle, 2000), "tasks still in memory after their end");
}

static int want_held;
static int held_came(void)
{
	return K.nheld >= want_held;
}

/* Run until the kind holds n tasks. */
static void wait_held(int n)
{
	want_held = n;
	ck_assert_msg(run_until(held_came, 5000), "%d tasks started, %d expected", K.nheld, n);
}

/* ---- set-up ---- */

static void setup(void)
{
	struct task_kind kind = { kind_start, kind_sent, kind_recorded, NULL, kind_clear, NULL, NULL };
	struct tasks_deps d;
	char err[512];

	memset(&H, 0, sizeof H);
	memset(&K, 0, sizeof K);
	memset(&slot, 0, sizeof slot);
	ck_assert_msg(cfg_load(&cfg, NULL, err, sizeof err) == 0, "%s", err);
	log_init("test_task", "text", cfg.log_level);
	snprintf(cfg.database_url, sizeof cfg.database_url, "%s", db_url);
	cfg.max_attempts = 3;
	cfg.backoff_base_ms = 1000;
	cfg.backoff_max_ms = 3000;
	cfg.telegram_pacing = 0;
	if (*fake_url) {
		snprintf(cfg.telegram_api_url, sizeof cfg.telegram_api_url, "%s", fake_url);
		snprintf(cfg.providers[0].base_url, sizeof cfg.providers[0].base_url, "%s/v1",
			 fake_url);
		fake_faults("{\"fault_5xx\":0,\"fault_hang\":0,\"fault_429\":0,\"missing_chats\":[],"
			    "\"fault_scope\":\"all\"}");
	}
	chat = -(1000000000LL + getpid()); /* each test runs in a process of its own */
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_ptr_nonnull(http = httpc_new(&loop, err, sizeof err));
	ck_assert_ptr_nonnull(llm = llm_new(&loop, &cfg, &slot, 1));
	ck_assert_ptr_nonnull(tgc = tgc_new(&cfg, &slot, 2));
	pg = pgpool_new(&loop, cfg.database_url, 1, err, sizeof err);
	ck_assert_msg(pg != NULL, "%s", err);
	ck_assert_msg(run_until(pg_is_up, 5000), "no connection to %s", cfg.database_url);
	d = (struct tasks_deps){ &loop, &cfg,     &slot,     http,       llm,  tgc, pg,
				 3,     hook_ack, hook_nack, hook_freed, NULL, NULL, NULL };
	ck_assert_ptr_nonnull(ts = tasks_new(&d));
	ck_assert_int_eq(tasks_set_kind(ts, JOB_SPEAK, &kind), 0);
}

/* Free everything and check the loop closes clean. Every task must have ended:
 * tasks_free forgets the ones in memory. */
static void close_all(void)
{
	ck_assert_msg(tasks_idle(ts), "tasks left in memory");
	tasks_free(ts);
	httpc_free(http);
	pgpool_free(pg);
	llm_free(llm);
	tgc_free(tgc);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}

/* A job's JSON as the queue hands it over. */
static char *job_body(const char *id, enum job_kind kind)
{
	struct job j = { 0 };
	char *s;

	snprintf(j.id, sizeof j.id, "%s", id);
	j.kind = kind;
	j.prio = PRIO_NORMAL;
	j.bot_id = 42;
	j.chat_id = chat;
	j.enqueued_at = job_now_ms();
	ck_assert_ptr_nonnull(s = job_encode(&j));
	return s;
}

static void start_tries(const char *id, enum job_kind kind, struct rq_tries tries)
{
	char *body = job_body(id, kind);

	tasks_start(ts, id, body, strlen(body), &tries);
	free(body);
}

/* Lease number attempts, every earlier one a failed try. */
static void start_job(const char *id, enum job_kind kind, int attempts)
{
	struct rq_tries tries = { attempts, attempts - 1, 0, attempts > 1 ? 1000 : -1 };

	start_tries(id, kind, tries);
}

/* ---- dead letters and the outbox read of a later attempt ---- */

START_TEST(a_malformed_job_is_dead_lettered_and_acked)
{
	static const char body[] = "{\"id\":\"m1\",\"kind\":\"speak\",\"bot_id\":";

	tasks_start(ts, "m1", body, strlen(body), &(struct rq_tries){ 1, 0, 0, -1 });
	wait_ends(1, 5000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(H.nacks, 0);
	ck_assert_str_eq(H.ack_id[0], "m1");
	ck_assert_int_eq(K.starts, 0);
	ck_pg_eq("SELECT left(reason, 15) FROM dead_jobs WHERE job_id = $1", "m1", "malformed job: ");
	ck_pg_eq("SELECT job FROM dead_jobs WHERE job_id = $1", "m1", body);
	ck_pg_eq("SELECT count(*) FROM messages WHERE job_id = $1", "m1", "0");
	ck_assert_uint_eq(slot.counters[SHM_C_DEAD_LETTERS], 1);
	ck_assert_int_eq(H.freed, 1);
	close_all();
}
END_TEST

START_TEST(a_kind_nobody_runs_is_dead_lettered)
{
	start_job("k1", JOB_MEMORIZE, 1);
	wait_ends(1, 5000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(K.starts, 0);
	ck_pg_eq("SELECT reason FROM dead_jobs WHERE job_id = $1", "k1",
		 "no worker runs memorize jobs");
	ck_pg_eq("SELECT kind FROM dead_jobs WHERE job_id = $1", "k1", "memorize");
	/* Its outbox row says so too: the job ends in one terminal row. */
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", "k1", "failed");
	close_all();
}
END_TEST

START_TEST(out_of_attempts_is_dead_lettered)
{
	start_job("g1", JOB_SPEAK, 4); /* max_attempts 3 */
	wait_ends(1, 5000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(K.starts, 0);
	ck_pg_eq("SELECT reason FROM dead_jobs WHERE job_id = $1", "g1", "gave up after 3 attempts");
	ck_pg_eq("SELECT attempts FROM dead_jobs WHERE job_id = $1", "g1", "4");
	ck_assert_int_eq(slot.counters[SHM_C_DEAD_LETTERS], 1);
	/* The last allowed attempt still runs. */
	K.mode = K_HOLD;
	start_job("g2", JOB_SPEAK, 3);
	wait_held(1);
	task_finish(K.held[0], SHM_OUT_SKIPPED);
	wait_ends(2, 5000);
	ck_assert_str_eq(H.ack_id[1], "g2");
	ck_pg_eq("SELECT count(*) FROM dead_jobs WHERE job_id = $1", "g2", "0");
	close_all();
}
END_TEST

/* An earlier attempt claimed the row and died before the outcome: it may have
 * been posted, so it becomes 'unknown' and is never sent again. */
START_TEST(a_sending_row_of_an_earlier_attempt_becomes_unknown)
{
	char sql[256];

	snprintf(sql, sizeof sql,
		 "INSERT INTO messages (job_id, bot_id, chat_id, status, attempt, "
		 "text, error) VALUES ('u1', 42, %lld, 'sending', 1, 'x', 'telegram 429')",
		 (long long)chat);
	pg_exec(sql);
	K.mode = K_SEND;
	start_job("u1", JOB_SPEAK, 2);
	wait_ends(1, 5000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(H.nacks, 0);
	ck_assert_int_eq(K.starts, 0);
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", "u1", "unknown");
	/* Its cause is the cut, not the 429 of the attempt before the one cut. */
	ck_pg_eq("SELECT left(error, 5) FROM messages WHERE job_id = $1", "u1", "cut: ");
	ck_pg_eq("SELECT count(*) FROM dead_jobs WHERE job_id = $1", "u1", "0");
	close_all();
}
END_TEST

/* A later attempt that finds the row terminal acks and sends nothing. */
START_TEST(a_terminal_row_ends_a_later_attempt)
{
	char sql[256];

	snprintf(sql, sizeof sql,
		 "INSERT INTO messages (job_id, bot_id, chat_id, status, attempt, "
		 "telegram_message_id, text) VALUES ('s1', 42, %lld, 'sent', 1, 77, 'x')",
		 (long long)chat);
	pg_exec(sql);
	K.mode = K_SEND;
	start_job("s1", JOB_SPEAK, 2);
	wait_ends(1, 5000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(K.starts, 0);
	ck_pg_eq("SELECT status || ' ' || attempt || ' ' || telegram_message_id FROM messages "
		 "WHERE job_id = $1",
		 "s1", "sent 1 77");
	close_all();
}
END_TEST

START_TEST(task_retry_nacks_within_the_backoff)
{
	enum { N = 12 };
	int64_t lo = INT64_MAX, hi = -1;
	char id[16];

	K.mode = K_RETRY;
	K.retry_with = -1;
	/* Attempt 1: full jitter in [0, base]. */
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof id, "r%d", i);
		start_job(id, JOB_SPEAK, 1);
	}
	wait_ends(N, 5000);
	ck_assert_int_eq(H.nacks, N);
	ck_assert_int_eq(H.acks, 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_ge(H.nack_delay[i], 0);
		ck_assert_int_le(H.nack_delay[i], cfg.backoff_base_ms);
		lo = H.nack_delay[i] < lo ? H.nack_delay[i] : lo;
		hi = H.nack_delay[i] > hi ? H.nack_delay[i] : hi;
	}
	ck_assert_msg(lo < hi, "no jitter: every delay %lld", (long long)lo);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(H.nack_fault[i], 1); /* a failed step counts */
	/* Attempt 3: up to min(max, base * 4) = 3000. */
	memset(&H, 0, sizeof H);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof id, "r3_%d", i);
		start_job(id, JOB_SPEAK, 3);
	}
	wait_ends(N, 5000);
	for (int i = 0; i < N; i++) {
		ck_assert_int_ge(H.nack_delay[i], 0);
		ck_assert_int_le(H.nack_delay[i], cfg.backoff_max_ms);
	}
	/* An explicit delay (a Retry-After) is passed as it is. */
	memset(&H, 0, sizeof H);
	K.retry_with = 1234;
	start_job("rx", JOB_SPEAK, 1);
	wait_ends(1, 5000);
	ck_assert_int_eq(H.nack_delay[0], 1234);
	ck_assert_str_eq(H.nack_id[0], "rx");
	ck_assert_int_eq(H.nack_fault[0], 0); /* a kind's wait: not a failed try */
	close_all();
}
END_TEST

struct listed {
	int n;
	char ids[8][JOB_ID_MAX];
	char tokens[8][16];
};

static void list_one(const char *id, const char *token, void *arg)
{
	struct listed *l = arg;

	ck_assert_int_lt(l->n, 8);
	snprintf(l->ids[l->n], JOB_ID_MAX, "%s", id);
	snprintf(l->tokens[l->n++], 16, "%s", token);
}

static int listed_has(const struct listed *l, const char *id, const char *token)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->ids[i], id) == 0 && strcmp(l->tokens[i], token) == 0)
			return 1;
	return 0;
}

START_TEST(tasks_each_and_off_slot)
{
	struct listed l = { 0 };

	K.mode = K_HOLD;
	ck_assert_int_eq(tasks_idle(ts), 1);
	start_job("e1", JOB_SPEAK, 1);
	start_job("e2", JOB_SPEAK, 2); /* reads the outbox first */
	start_job("e3", JOB_SPEAK, 1);
	wait_held(3);
	ck_assert_int_eq(tasks_inflight(ts), 3);
	ck_assert_int_eq(tasks_idle(ts), 0);
	tasks_each(ts, list_one, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert(listed_has(&l, "e1", "1"));
	ck_assert(listed_has(&l, "e2", "2"));
	ck_assert(listed_has(&l, "e3", "1"));
	/* Off its slot (typing): not in flight, a slot is free, still in memory. */
	task_off_slot(K.held[0], 1);
	ck_assert_int_eq(tasks_inflight(ts), 2);
	ck_assert_int_eq(H.freed, 1);
	task_off_slot(K.held[0], 1); /* twice is once */
	ck_assert_int_eq(tasks_inflight(ts), 2);
	ck_assert_int_eq(H.freed, 1);
	l.n = 0;
	tasks_each(ts, list_one, &l);
	ck_assert_int_eq(l.n, 3);
	task_off_slot(K.held[0], 0);
	ck_assert_int_eq(tasks_inflight(ts), 3);
	ck_assert_int_eq(H.freed, 1);
	/* A task that ends off its slot does not free a slot twice. */
	task_off_slot(K.held[1], 1);
	ck_assert_int_eq(H.freed, 2);
	for (int i = 0; i < 3; i++)
		task_finish(K.held[i], SHM_OUT_SKIPPED);
	wait_ends(3, 5000);
	ck_assert_int_eq(tasks_inflight(ts), 0);
	ck_assert_int_eq(H.freed, 5);
	ck_assert_int_eq(K.clears, 3);
	l.n = 0;
	tasks_each(ts, list_one, &l);
	ck_assert_int_eq(l.n, 0);
	close_all();
}
END_TEST

/* ---- the send: claim, sendMessage (the fake), outcome, ack ---- */

/* The fake's last message in our chat: its id, and its text in text. */
static long long fake_last_message(char *text, size_t n)
{
	char path[96];
	json_t *a, *m;
	long long id;

	snprintf(path, sizeof path, "/_messages?chat_id=%lld&limit=5", (long long)chat);
	a = fake_call(path, NULL);
	ck_assert_msg(json_array_size(a) > 0, "the fake has no message in chat %lld", (long long)chat);
	m = json_array_get(a, json_array_size(a) - 1);
	id = json_integer_value(json_object_get(m, "message_id"));
	snprintf(text, n, "%s", json_string_value(json_object_get(m, "text")) ?: "");
	json_decref(a);
	return id;
}

static long long fake_sends_in_chat(void)
{
	char path[96];
	json_t *a;
	long long n;

	snprintf(path, sizeof path, "/_messages?chat_id=%lld&limit=100", (long long)chat);
	a = fake_call(path, NULL);
	n = (long long)json_array_size(a);
	json_decref(a);
	return n;
}

START_TEST(a_send_ends_in_a_sent_row_and_an_ack)
{
	char text[256], want[96], mid[32], rowid[32];
	long long tg_id;

	K.mode = K_SEND;
	start_job("t1", JOB_SPEAK, 1);
	wait_ends(1, 10000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(H.nacks, 0);
	ck_assert_int_eq(K.sents, 1);
	ck_assert_int_eq(K.recordeds, 1);
	ck_assert_int_eq(H.freed, 1);
	snprintf(want, sizeof want, "merhaba t1");
	ck_assert_str_eq(K.sent_text, want);
	tg_id = fake_last_message(text, sizeof text);
	ck_assert_str_eq(text, want);
	ck_assert_int_eq(K.rec.tg_id, tg_id);
	ck_assert_str_eq(K.rec.text, want);
	snprintf(mid, sizeof mid, "%lld", tg_id);
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", "t1", "sent");
	ck_pg_eq("SELECT telegram_message_id FROM messages WHERE job_id = $1", "t1", mid);
	ck_pg_eq("SELECT text FROM messages WHERE job_id = $1", "t1", want);
	ck_pg_eq("SELECT (sent_at IS NOT NULL)::text FROM messages WHERE job_id = $1", "t1", "true");
	snprintf(rowid, sizeof rowid, "%lld", (long long)K.rec.row_id);
	ck_pg_eq("SELECT id FROM messages WHERE job_id = $1", "t1", rowid);
	ck_assert_uint_eq(slot.counters[SHM_C_TG_OK], 1);
	ck_assert_uint_eq(slot.jobs[JOB_SPEAK][SHM_OUT_SENT], 1);
	close_all();
}
END_TEST

START_TEST(an_llm_text_is_sent)
{
	char text[512];

	K.mode = K_LLM;
	start_job("l1", JOB_SPEAK, 1);
	wait_ends(1, 10000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(K.recordeds, 1);
	ck_assert_int_eq(K.rec.tg_id, fake_last_message(text, sizeof text));
	ck_assert_msg(strlen(text) > 10, "the fake LLM's text: '%s'", text);
	ck_assert_str_eq(K.sent_text, text);
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", "l1", "sent");
	ck_assert_uint_eq(slot.pcounters[0][SHM_P_CALLS_OK], 1);
	close_all();
}
END_TEST

START_TEST(a_telegram_5xx_marks_retry_and_nacks)
{
	fake_faults("{\"fault_5xx\":1,\"fault_scope\":\"telegram\"}");
	K.mode = K_SEND;
	start_job("f1", JOB_SPEAK, 1);
	wait_ends(1, 10000);
	ck_assert_int_eq(H.nacks, 1);
	ck_assert_int_eq(H.acks, 0);
	ck_assert_int_eq(H.nack_fault[0], 1); /* a 5xx: a failed try */
	ck_assert_int_ge(H.nack_delay[0], 0);
	ck_assert_int_le(H.nack_delay[0], cfg.backoff_base_ms);
	ck_assert_int_eq(K.sents, 0);
	ck_assert_int_eq(K.recordeds, 0);
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", "f1", "retry");
	ck_pg_eq("SELECT left(error, 14) FROM messages WHERE job_id = $1", "f1", "telegram HTTP ");
	ck_assert_int_eq(fake_sends_in_chat(), 0);
	ck_assert_uint_eq(slot.counters[SHM_C_TG_5XX], 1);
	/* Telegram is back: the next attempt sends it, once. */
	fake_faults("{\"fault_5xx\":0}");
	memset(&H, 0, sizeof H);
	start_job("f1", JOB_SPEAK, 2);
	wait_ends(1, 10000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(K.recordeds, 1);
	ck_pg_eq("SELECT status || ' ' || attempt FROM messages WHERE job_id = $1", "f1", "sent 2");
	ck_pg_eq("SELECT coalesce(error, '-') FROM messages WHERE job_id = $1", "f1", "-");
	ck_assert_int_eq(fake_sends_in_chat(), 1);
	close_all();
}
END_TEST

/* A 429 leaves the row 'retry'; the next attempt's kind decides not to send
 * (talk's skip: a cap, a stale news item...). Acked as it was, the job left a
 * row in 'retry' for good; it must end terminal: 'failed', nothing was sent. */
static void retry_row_then_end(const char *id, enum shm_outcome o)
{
	char want[64];

	fake_faults("{\"fault_429\":1,\"retry_after\":1,\"fault_scope\":\"telegram\"}");
	K.mode = K_SEND;
	start_job(id, JOB_SPEAK, 1);
	wait_ends(1, 10000);
	ck_assert_int_eq(H.nacks, 1);
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", id, "retry");
	fake_faults("{\"fault_429\":0}");
	memset(&H, 0, sizeof H);
	K.mode = K_HOLD;
	K.nheld = 0;
	start_job(id, JOB_SPEAK, 2);
	wait_held(1);
	task_finish(K.held[0], o);
	wait_ends(1, 5000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(H.nacks, 0);
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", id, "failed");
	snprintf(want, sizeof want, "not sent: %s on attempt 2, after: telegram 429",
		 o == SHM_OUT_SKIPPED ? "skipped" : "given up");
	ck_pg_eq("SELECT error FROM messages WHERE job_id = $1", id, want);
	ck_assert_int_eq(fake_sends_in_chat(), 0);
}

START_TEST(a_retry_row_then_skipped_ends_failed)
{
	retry_row_then_end("r1", SHM_OUT_SKIPPED);
	retry_row_then_end("r2", SHM_OUT_FAILED);
	/* No job of the two is left in a row that is not an end. */
	ck_pg_eq("SELECT count(*) FROM messages WHERE status = $1", "retry", "0");
	close_all();
}
END_TEST

START_TEST(a_timeout_after_the_request_left_is_unknown_and_never_sent_again)
{
	cfg.telegram_timeout_ms = 200;
	fake_faults("{\"fault_hang\":1,\"hang_ms\":2000,\"fault_scope\":\"telegram\"}");
	K.mode = K_SEND;
	start_job("h1", JOB_SPEAK, 1);
	wait_ends(1, 10000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(H.nacks, 0);
	ck_assert_int_eq(K.recordeds, 0);
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", "h1", "unknown");
	/* Its lease lost and the job run again: nothing is sent. */
	fake_faults("{\"fault_hang\":0}");
	start_job("h1", JOB_SPEAK, 2);
	wait_ends(2, 5000);
	ck_assert_int_eq(K.starts, 1);
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", "h1", "unknown");
	close_all();
}
END_TEST

START_TEST(a_missing_chat_is_failed_and_dead_lettered)
{
	char body[96];

	snprintf(body, sizeof body, "{\"missing_chats\":[%lld]}", (long long)chat);
	fake_faults(body);
	K.mode = K_SEND;
	start_job("c1", JOB_SPEAK, 1);
	wait_ends(1, 10000);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(H.nacks, 0);
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", "c1", "failed");
	ck_pg_eq("SELECT reason FROM dead_jobs WHERE job_id = $1", "c1",
		 "telegram 400: Bad Request: chat not found");
	close_all();
}
END_TEST

/* Issue 18, item 3: PostgreSQL goes away between Telegram's answer and the
 * 'sent' write. The outcome is known, so it is kept and written when the
 * database is back: the row ends 'sent' with the message id, not 'sending'
 * (which the next attempt would turn into 'unknown'). */
START_TEST(a_sent_outcome_is_written_once_the_database_is_back)
{
	char text[256], mid[32];

	K.mode = K_SEND;
	K.cut_pg_ms = 2500;
	start_job("pg1", JOB_SPEAK, 1);
	wait_ends(1, 15000);
	pg_allow(1);
	ck_assert_int_eq(H.acks, 1);
	ck_assert_int_eq(H.nacks, 0);
	ck_assert_int_eq(K.sents, 1);
	ck_assert_int_eq(K.recordeds, 1);
	snprintf(mid, sizeof mid, "%lld", fake_last_message(text, sizeof text));
	ck_assert_int_eq(fake_sends_in_chat(), 1);
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", "pg1", "sent");
	ck_pg_eq("SELECT telegram_message_id FROM messages WHERE job_id = $1", "pg1", mid);
	ck_assert_uint_ge(slot.counters[SHM_C_PG_ERRORS], 1);
	ck_assert_uint_eq(slot.jobs[JOB_SPEAK][SHM_OUT_SENT], 1);
	close_all();
}
END_TEST

/* The 100,000-job chaos run left 20 rows 'retry' with their jobs acked: a
 * worker was killed with its 'retry' outcome on its way to PostgreSQL; its
 * successor read 'sending', and its write of 'unknown' (only over 'sending')
 * came after the outcome's commit and changed nothing, yet the job was acked.
 * Here the outcome's transaction holds the row until the successor's write
 * waits on it: the successor must read the row again and run the job. */
START_TEST(an_outcome_landing_after_the_read_is_read_again)
{
	char sql[256];
	PGconn *c;
	PGresult *r;

	snprintf(sql, sizeof sql,
		 "INSERT INTO messages (job_id, bot_id, chat_id, status, attempt, text) "
		 "VALUES ('race1', 42, %lld, 'sending', 1, 'x')",
		 (long long)chat);
	pg_exec(sql);
	c = PQconnectdb(db_url);
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	PQclear(PQexec(c, "BEGIN"));
	r = PQexec(c, "UPDATE messages SET status = 'retry', error = 'telegram 429' "
		      "WHERE job_id = 'race1'");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	K.mode = K_HOLD;
	start_job("race1", JOB_SPEAK, 2);
	/* The read sees 'sending' (the outcome is not committed); the write
	 * waits for the row. */
	ck_assert(!run_until(idle, 500));
	PQclear(PQexec(c, "COMMIT"));
	PQfinish(c);
	wait_held(1);
	ck_assert_int_eq(H.acks, 0);
	task_finish(K.held[0], SHM_OUT_SKIPPED);
	wait_ends(1, 5000);
	/* Nothing was sent: the row ends 'failed', not 'retry' for ever. */
	ck_pg_eq("SELECT status FROM messages WHERE job_id = $1", "race1", "failed");
	close_all();
}
END_TEST

/* Issue 18, item 4: a lease taken back from a dead worker is not a failed
 * try. A job whose leases were all taken back runs, however many there were
 * (max_attempts 3 here), up to the takeover bound. */
START_TEST(takeovers_spend_no_attempt_up_to_their_bound)
{
	K.mode = K_HOLD;
	start_tries("tk1", JOB_SPEAK, (struct rq_tries){ 10, 0, 9, -1 });
	wait_held(1);
	task_finish(K.held[0], SHM_OUT_SKIPPED);
	wait_ends(1, 5000);
	ck_assert_str_eq(H.ack_id[0], "tk1");
	ck_pg_eq("SELECT count(*) FROM dead_jobs WHERE job_id = $1", "tk1", "0");
	/* The 20th takeover (retry_max_takeovers' default): a job that kills
	 * every worker that runs it still ends. */
	start_tries("tk2", JOB_SPEAK, (struct rq_tries){ 21, 0, 20, -1 });
	wait_ends(2, 5000);
	ck_assert_int_eq(K.starts, 1);
	ck_pg_eq("SELECT left(reason, 26) FROM dead_jobs WHERE job_id = $1", "tk2",
		 "gave up after 20 takeovers");
	close_all();
}
END_TEST

/* The time bound: a job whose first fault is older than retry_max_age_s gives
 * up with tries left; a younger one goes on. */
START_TEST(retries_are_bounded_by_time)
{
	struct settings set;

	settings_defaults(&set);
	set.retry_max_age_s = 60;
	tasks_set_settings(ts, &set);
	start_tries("age1", JOB_SPEAK, (struct rq_tries){ 3, 2, 0, 61000 });
	wait_ends(1, 5000);
	ck_assert_int_eq(K.starts, 0);
	ck_pg_eq("SELECT reason FROM dead_jobs WHERE job_id = $1", "age1",
		 "gave up after 2 attempts over 61 s (retry_max_age_s 60)");
	K.mode = K_HOLD;
	start_tries("age2", JOB_SPEAK, (struct rq_tries){ 3, 2, 0, 59000 });
	wait_held(1);
	task_finish(K.held[0], SHM_OUT_SKIPPED);
	wait_ends(2, 5000);
	ck_pg_eq("SELECT count(*) FROM dead_jobs WHERE job_id = $1", "age2", "0");
	tasks_set_settings(ts, NULL);
	close_all();
}
END_TEST

/* A job that meets PostgreSQL down waits it out: handed back at once, due in
 * a second or two, without spending a try (before: left to its lease, and
 * the lease taken back counted as an attempt). */
START_TEST(a_database_outage_hands_the_job_back_without_a_fault)
{
	pg_allow(0);
	ck_assert_msg(run_until(pg_is_down, 5000), "the pool did not see the database go");
	start_job("out1", JOB_SPEAK, 2); /* reads the outbox first: it cannot */
	wait_ends(1, 5000);
	pg_allow(1);
	ck_assert_int_eq(H.nacks, 1);
	ck_assert_int_eq(H.acks, 0);
	ck_assert_int_eq(H.nack_fault[0], 0);
	ck_assert_int_ge(H.nack_delay[0], 1000);
	ck_assert_int_le(H.nack_delay[0], 2000);
	ck_assert_int_eq(K.starts, 0);
	ck_assert_msg(run_until(pg_is_up, 15000), "the pool did not come back");
	close_all();
}
END_TEST

static Suite *task_suite(void)
{
	Suite *s = suite_create("task");
	TCase *tc = tcase_create("runner");

	tcase_add_unchecked_fixture(tc, case_runner_up, db_drop);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, a_malformed_job_is_dead_lettered_and_acked);
	tcase_add_test(tc, a_kind_nobody_runs_is_dead_lettered);
	tcase_add_test(tc, out_of_attempts_is_dead_lettered);
	tcase_add_test(tc, a_sending_row_of_an_earlier_attempt_becomes_unknown);
	tcase_add_test(tc, a_terminal_row_ends_a_later_attempt);
	tcase_add_test(tc, task_retry_nacks_within_the_backoff);
	tcase_add_test(tc, tasks_each_and_off_slot);
	tcase_add_test(tc, an_outcome_landing_after_the_read_is_read_again);
	tcase_add_test(tc, takeovers_spend_no_attempt_up_to_their_bound);
	tcase_add_test(tc, retries_are_bounded_by_time);
	tcase_add_test(tc, a_database_outage_hands_the_job_back_without_a_fault);
	suite_add_tcase(s, tc);
	tc = tcase_create("send");
	tcase_add_unchecked_fixture(tc, case_send_up, case_send_down);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, a_send_ends_in_a_sent_row_and_an_ack);
	tcase_add_test(tc, an_llm_text_is_sent);
	tcase_add_test(tc, a_telegram_5xx_marks_retry_and_nacks);
	tcase_add_test(tc, a_retry_row_then_skipped_ends_failed);
	tcase_add_test(tc, a_timeout_after_the_request_left_is_unknown_and_never_sent_again);
	tcase_add_test(tc, a_missing_chat_is_failed_and_dead_lettered);
	tcase_add_test(tc, a_sent_outcome_is_written_once_the_database_is_back);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(task_suite)
