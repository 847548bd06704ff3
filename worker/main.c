/* worker: one libuv loop that owns the bots with bot_id % count == index.
 *
 *   worker --index I --count N [--config FILE] [--shm-fd FD] [--token-key-fd FD]
 *   worker --reshard N [--config FILE]      (prepare the queues for N workers)
 *
 * Started by the supervisor, which hands it the shared-memory segment as fd 3
 * and, when it was given PIYASA_TOKEN_KEY, the token key as fd 4.
 * SIGTERM: stop leasing, finish what it holds, exit 0. SIGHUP: reload the
 * config in place (limits, providers) and forget cached bots. */
#include "common/backoff.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/net/httpc.h"
#include "common/net/pgpool.h"
#include "common/net/ra.h"
#include "common/shm.h"
#include "common/tok.h"
#include "common/version.h" /* --version */
#include "worker/calls/budget.h"
#include "worker/calls/llm.h"
#include "worker/calls/tgc.h"
#include "worker/chat/bots.h"
#include "worker/chat/chats.h"
#include "worker/chat/market.h"
#include "worker/chat/memo.h"
#include "worker/chat/news.h"
#include "worker/chat/talk.h"
#include "worker/chat/updates.h"
#include "worker/jobs/queue.h"
#include "worker/jobs/reshard.h"
#include "worker/jobs/task.h"

#include <curl/curl.h>
#include <getopt.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: worker --index I --count N [--config FILE] [--shm-fd FD] "
		   "[--token-key-fd FD]\n"
		   "       worker --reshard N [--config FILE]\n"
		   "       worker --version\n");
}

/* GnuTLS comes in with libcurl's librtmp and libldap, which never run here
 * (httpc allows http and https only) and call gnutls_global_init themselves
 * before use; curl and libpq use OpenSSL. Its initialisation at load time
 * costs each worker about 0.9 MB of RSS for nothing. This is gnutls.h's
 * GNUTLS_SKIP_GLOBAL_INIT: a weak symbol GnuTLS looks up in the program. */
int _gnutls_global_init_skip(void);
int _gnutls_global_init_skip(void)
{
	return 1;
}

/* Loading and initialising the shared libraries (the dynamic linker's symbol
 * and relocation tables, OpenSSL's and p11-kit's set-up...) maps pages that a
 * running worker never reads again, and they count in its RSS: 9.7 MB of
 * library pages at the end of a 10,000-bot bench, 3.6 MB once shed. So once
 * started, the worker drops the read-only file pages of its mappings; what
 * it uses comes back from the page cache at a minor fault (no I/O). A mapping
 * holding private copies (relocated data, resident or swapped) is left
 * alone: MADV_DONTNEED would drop them. */
struct mapping {
	unsigned long start, end, inode;
	char perms[8];
	unsigned long private_kb; /* Anonymous + Swap */
};

static void shed_mapping(const struct mapping *m)
{
	if (m->private_kb == 0 && m->inode != 0 && m->perms[1] == '-' && m->perms[3] == 'p')
		madvise((void *)m->start, m->end - m->start, MADV_DONTNEED);
}

/* /proc/self/smaps: a mapping's line, its counters, and VmFlags last. */
static void shed_start_pages(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	struct mapping m = { 0 }, next = { 0 };
	unsigned long kb;
	char line[512];
	int have = 0;

	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &next.start, &next.end, next.perms,
			   &next.inode) == 4) {
			m = next;
			have = 1;
		} else if (have && (sscanf(line, "Anonymous: %lu", &kb) == 1 ||
				    sscanf(line, "Swap: %lu", &kb) == 1)) {
			m.private_kb += kb;
		} else if (have && strncmp(line, "VmFlags:", 8) == 0) {
			shed_mapping(&m);
			have = 0;
		}
	}
	fclose(f);
}

/* The worker: its clients and modules, wired here and nowhere else. Each
 * module gets what it uses at construction; they report back through the
 * hooks below. */
struct wk {
	uv_loop_t *loop;
	struct cfg cfg; /* reloaded in place: modules keep a pointer */
	const char *config_path;
	int index, count;
	struct shm *shm;
	struct shm_slot *slot; /* ours in shm, or local_slot when run alone */
	struct shm_slot local_slot;
	unsigned char token_key[TOK_KEY_BYTES];
	struct ra *redis;      /* scripts and commands */
	struct ra *redis_wait; /* only BLPOP on the wake key */
	struct pgpool *pg;
	struct httpc *http;
	struct bots *bots;
	struct chats *chats;
	struct llm *llm;
	struct budget *budget; /* the fleet's LLM budgets, in Redis */
	struct tgc *tgc;
	struct news *news;       /* headlines of the settings' feeds */
	struct market *market;   /* settings, the bots' scheduler, the caps */
	struct updates *updates; /* getUpdates pollers of our bots */
	struct queue *queue;
	struct tasks *tasks;
	struct talk *talk;
	uv_timer_t tick;
	uv_signal_t sig_term, sig_int, sig_hup;
	int fleet_ok; /* the queue is ready: fleet checked, leases taken back */
	int draining;
	uint64_t drain_since; /* uv_now when the drain began */
	int closing;
	uint64_t tick_expected;
	uint64_t rng;
	uint64_t cache_hits, cache_misses; /* totals last published to shm */
	int exit_code;
};

static void update_ready(struct wk *w)
{
	int pg_ok = w->pg && pgpool_up(w->pg);
	int ok = w->fleet_ok && ra_up(w->redis) && pg_ok;

	shm_gauge(w->slot, SHM_G_REDIS_OK, ra_up(w->redis));
	shm_gauge(w->slot, SHM_G_PG_OK, pg_ok);
	if (!w->draining)
		shm_set_state(w->slot, ok ? SHM_READY : SHM_STARTING);
}

static void on_handle_closed(uv_handle_t *h)
{
	(void)h;
}

static void close_all(struct wk *w)
{
	if (w->closing)
		return;
	w->closing = 1;
	uv_close((uv_handle_t *)&w->tick, on_handle_closed);
	queue_free(w->queue); /* its acks are answered "closing" when Redis closes below */
	uv_close((uv_handle_t *)&w->sig_term, on_handle_closed);
	uv_close((uv_handle_t *)&w->sig_int, on_handle_closed);
	uv_close((uv_handle_t *)&w->sig_hup, on_handle_closed);
	/* Pollers and the market first: their pending queries end with the pool. */
	updates_free(w->updates);
	w->updates = NULL;
	news_free(w->news);
	w->news = NULL;
	bots_free(w->bots);
	chats_free(w->chats);
	llm_free(w->llm);
	budget_free(w->budget);
	tgc_free(w->tgc);
	w->bots = NULL;
	w->chats = NULL;
	w->llm = NULL;
	w->tgc = NULL;
	httpc_free(w->http);
	tasks_free(w->tasks);
	talk_free(w->talk);
	pgpool_free(w->pg);
	w->pg = NULL;
	ra_free(w->redis);
	ra_free(w->redis_wait);
	/* Last: the queries and commands above were answered ("closing") by now. */
	market_free(w->market);
	w->market = NULL;
}

static void maybe_exit(struct wk *w)
{
	if (w->closing || !w->draining || tasks_inflight(w->tasks) > 0 || !tasks_idle(w->tasks) ||
	    queue_leasing(w->queue))
		return;
	log_info("drained: exiting");
	shm_set_state(w->slot, SHM_EXITED);
	close_all(w);
}

static void drain(struct wk *w)
{
	if (!w->draining)
		w->drain_since = uv_now(w->loop);
	w->draining = 1;
	queue_drain(w->queue);
	market_drain(w->market);
	chats_drain(w->chats);
	/* Last: its last nack may end the drain (close_all) at once. */
	tasks_drain(w->tasks);
}

/* ---- the queue's hooks ---- */

static void on_job(const char *id, const char *body, size_t len, const struct rq_tries *tries, void *arg)
{
	struct wk *w = arg;

	tasks_start(w->tasks, id, body, len, tries);
}

static void on_queue_ready(void *arg)
{
	struct wk *w = arg;

	/* The queues are ours: the market chat and the pollers may start queuing. */
	market_start(w->market);
	updates_start(w->updates);
	w->fleet_ok = 1;
	update_ready(w);
}

static void on_queue_stopped(int exit_code, void *arg)
{
	struct wk *w = arg;

	w->exit_code = exit_code;
	drain(w);
	maybe_exit(w);
}

static int on_room(void *arg)
{
	struct wk *w = arg;

	/* PostgreSQL down: a job leased now could only wait for it, so the
	 * queue keeps it until the database is back (on_pg_state leases then). */
	if (!pgpool_up(w->pg))
		return 0;
	/* The settings bound a job's retries and say which jobs are leased
	 * alone (retry_max_takeovers): lease under the fleet's, not the
	 * defaults (on_settings leases then). */
	if (!w->market || !market_settings_loaded(w->market))
		return 0;
	return w->cfg.max_inflight - tasks_inflight(w->tasks);
}

static void on_each_lease(queue_lease_fn fn, void *fn_arg, void *arg)
{
	struct wk *w = arg;

	tasks_each(w->tasks, fn, fn_arg);
}

/* ---- the task runner's hooks ---- */

static void on_lease_done(int acked, void *arg)
{
	task_done(arg, acked);
}

static void on_task_ack(struct task *t, void *arg)
{
	struct wk *w = arg;

	queue_ack(w->queue, task_id(t), task_token(t), on_lease_done, t);
}

static void on_task_nack(struct task *t, int64_t delay_ms, int fault, void *arg)
{
	struct wk *w = arg;

	queue_nack(w->queue, task_id(t), task_token(t), delay_ms, fault, on_lease_done, t);
}

static void on_kept(int kept, void *arg)
{
	task_kept(arg, kept);
}

static void on_task_keep(struct task *t, const char *json, void *arg)
{
	struct wk *w = arg;

	queue_keep(w->queue, task_id(t), task_token(t), json, on_kept, t);
}

static void on_task_freed(void *arg)
{
	struct wk *w = arg;

	queue_maybe_lease(w->queue);
	maybe_exit(w);
}

/* ---- the links ---- */

static void on_redis_state(int up, const char *why, void *arg)
{
	struct wk *w = arg;

	if (up) {
		log_info("redis connected");
		queue_start(w->queue);
	} else {
		log_warn("redis link down: %s", why ? why : "?");
		shm_count(w->slot, SHM_C_REDIS_ERRORS, 1);
	}
	update_ready(w);
}

static void on_wait_state(int up, const char *why, void *arg)
{
	struct wk *w = arg;

	(void)why;
	if (up && w->queue)
		queue_maybe_lease(w->queue);
}

static void on_pg_state(int up, void *arg)
{
	struct wk *w = arg;

	if (up) {
		log_info("postgresql connected");
		if (w->queue)
			queue_maybe_lease(w->queue);
	} else
		log_warn("postgresql link down");
	if (!up)
		shm_count(w->slot, SHM_C_PG_ERRORS, 1);
	update_ready(w);
}

static void publish_cache_stats(struct wk *w)
{
	uint64_t h1, m1, h2, m2;
	size_t n1, n2;

	bots_stats(w->bots, &h1, &m1, &n1);
	chats_stats(w->chats, &h2, &m2, &n2);
	shm_count(w->slot, SHM_C_CACHE_HIT, h1 + h2 - w->cache_hits);
	shm_count(w->slot, SHM_C_CACHE_MISS, m1 + m2 - w->cache_misses);
	w->cache_hits = h1 + h2;
	w->cache_misses = m1 + m2;
	shm_gauge(w->slot, SHM_G_BOTS, (int64_t)n1);
}

/* A drain that cannot end (Redis and PostgreSQL both down, jobs held with a
 * known outcome) is cut by the supervisor after drain_timeout_ms. An orphan
 * (its supervisor gone: PR_SET_PDEATHSIG sent the SIGTERM) has nobody to do it
 * and was seen alive an hour later: leave a while after the supervisor would
 * have. Leaving with jobs held is a crash as far as they are concerned: their
 * leases expire and another worker takes them (docs/GUARANTEES.md). */
static void drain_overdue(struct wk *w, uint64_t now)
{
	uint64_t limit = (uint64_t)w->cfg.drain_timeout_ms + 10000;

	if (!w->draining || w->closing || now - w->drain_since < limit)
		return;
	log_warn("draining for %llu ms with %d jobs in flight: leaving them to their leases",
		 (unsigned long long)(now - w->drain_since), tasks_inflight(w->tasks));
	exit(1);
}

/* The tick is also the loop-lag probe: how late it fires is how long some
 * callback held the loop. */
static void on_tick(uv_timer_t *t)
{
	struct wk *w = t->data;
	uint64_t now = uv_now(w->loop);

	if (w->tick_expected && now > w->tick_expected)
		shm_gauge(w->slot, SHM_G_LOOP_LAG_US, (int64_t)(now - w->tick_expected) * 1000);
	w->tick_expected = now + (uint64_t)w->cfg.heartbeat_ms;
	shm_heartbeat(w->slot);
	update_ready(w);
	publish_cache_stats(w);
	if (w->market && w->pg && pgpool_up(w->pg))
		market_settings_ensure(w->market); /* no lease before they load */
	queue_tick(w->queue, now);
	maybe_exit(w);
	drain_overdue(w, now);
}

static void on_sigterm(uv_signal_t *s, int signum)
{
	struct wk *w = s->data;

	if (w->draining) {
		log_notice("second signal %d: exiting now", signum);
		exit(0);
	}
	log_info("signal %d: draining %d jobs in flight", signum, tasks_inflight(w->tasks));
	shm_set_state(w->slot, SHM_DRAINING);
	drain(w);
	maybe_exit(w);
}

static void on_sighup(uv_signal_t *s, int signum)
{
	struct wk *w = s->data;
	struct cfg next;
	char err[512];

	(void)signum;
	if (cfg_load(&next, w->config_path, err, sizeof err) < 0) {
		log_error("reload refused, keeping the old configuration: %s", err);
		return;
	}
	/* Connections stay; limits, providers and timeouts take effect at once. */
	next.workers = w->cfg.workers;
	next.pg_connections = w->cfg.pg_connections; /* the pool stays as it is */
	w->cfg = next;
	log_init("worker", w->cfg.log_format, w->cfg.log_level);
	if (llm_reload(w->llm) < 0)
		log_error("reload: could not rebuild the provider state");
	bots_clear(w->bots);
	market_reload(w->market);
	updates_reload(w->updates);
	log_info("configuration reloaded");
}

static int start_queue(struct wk *w)
{
	struct queue_hooks qh = { on_job,  on_queue_ready, on_queue_stopped,
				  on_room, on_each_lease,  w };
	struct tasks_deps td = { w->loop,      &w->cfg,      w->slot,       w->http,
				 w->llm,       w->tgc,       w->pg,         backoff_rand(&w->rng),
				 on_task_ack,  on_task_nack, on_task_freed, w,
				 on_task_keep, NULL };

	if (!(w->budget = budget_new(w->redis, w->cfg.redis_prefix)))
		return -1;
	td.budget = w->budget;

	if (!(w->queue = queue_new(w->loop, &w->cfg, w->index, w->count, w->redis, w->redis_wait,
				   w->slot, &qh)) ||
	    !(w->tasks = tasks_new(&td)))
		return -1;
	return 0;
}

/* The job kinds the worker runs: adding one is a line here (and its module). */
static void set_kinds(struct wk *w)
{
	struct task_kind talk, memo;

	talk_kind(w->talk, &talk);
	memo_kind(w->bots, &memo);
	tasks_set_kind(w->tasks, JOB_SPEAK, &talk);
	tasks_set_kind(w->tasks, JOB_REPLY, &talk);
	tasks_set_kind(w->tasks, JOB_MEMORIZE, &memo);
}

static void on_settings(void *arg)
{
	struct wk *w = arg;

	queue_maybe_lease(w->queue);
}

/* A bot change notice: the cache dropped them; the schedule reads them again. */
static void on_bots_changed(const int64_t *ids, size_t n, void *arg)
{
	struct wk *w = arg;

	if (w->market)
		market_bots_changed(w->market, ids, n);
}

static int start_chat(struct wk *w)
{
	struct market_deps md = { w->loop,     &w->cfg, w->slot,  w->pg,    w->redis,
				  w->queue,    w->news, w->index, w->count, backoff_rand(&w->rng),
				  on_settings, w };
	struct updates_deps ud = { w->loop,      &w->cfg,  w->slot,  w->pg,
				   w->redis,     w->queue, NULL,     NULL,
				   w->token_key, w->index, w->count, backoff_rand(&w->rng) };
	struct talk_deps kd = { w->loop, &w->cfg, w->http, NULL, NULL, NULL, w->news };

	if (!(w->bots = bots_new(w->loop, &w->cfg, w->pg, w->token_key)) ||
	    !(w->chats = chats_new(w->loop, &w->cfg, w->pg, w->redis, w->index)) ||
	    !(w->news = news_new(w->loop, w->http)))
		return -1;
	md.news = kd.news = w->news;
	if (!(w->market = market_new(&md)))
		return -1;
	bots_on_change(w->bots, on_bots_changed, w);
	tasks_set_settings(w->tasks, market_settings(w->market));
	queue_set_settings(w->queue, market_settings(w->market));
	ud.market = kd.market = w->market;
	ud.chats = kd.chats = w->chats;
	kd.bots = w->bots;
	if (!(w->updates = updates_new(&ud)) || !(w->talk = talk_new(&kd)))
		return -1;
	set_kinds(w);
	return 0;
}

static int start_clients(struct wk *w, char *err, size_t el)
{
	if (!(w->redis = ra_new(w->loop, w->cfg.redis_url, 5000, on_redis_state, w, err, el)) ||
	    !(w->redis_wait = ra_new(w->loop, w->cfg.redis_url, 5000, on_wait_state, w, err, el)) ||
	    !(w->http = httpc_new(w->loop, err, el)) ||
	    !(w->pg = pgpool_new(w->loop, w->cfg.database_url, w->cfg.pg_connections, err, el)))
		return -1;
	pgpool_on_state(w->pg, on_pg_state, w);
	/* Every job in flight may hold a call: queued behind a few connections,
	 * calls would spend their timeout waiting for one. */
	httpc_set_max_host_connections(w->http,
				       w->cfg.max_inflight < 1024 ? w->cfg.max_inflight : 1024);
	/* A receive buffer per call in flight; the answers (LLM, sendMessage) are
	 * a KB or two, so 1 KB costs a read or two more per call instead of 3 KB
	 * per call held (0.3 MB at 100 in flight). */
	httpc_set_buffer_size(w->http, 1024);
	if (!(w->llm = llm_new(w->loop, &w->cfg, w->slot, backoff_rand(&w->rng))) ||
	    !(w->tgc = tgc_new(&w->cfg, w->slot, backoff_rand(&w->rng))) || start_queue(w) < 0) {
		if (!*err)
			snprintf(err, el, "out of memory");
		return -1;
	}
	return 0;
}

static void start_handles(struct wk *w)
{
	uv_timer_init(w->loop, &w->tick);
	w->tick.data = w;
	uv_timer_start(&w->tick, on_tick, 0, (uint64_t)w->cfg.heartbeat_ms);
	uv_signal_init(w->loop, &w->sig_term);
	uv_signal_init(w->loop, &w->sig_int);
	uv_signal_init(w->loop, &w->sig_hup);
	w->sig_term.data = w->sig_int.data = w->sig_hup.data = w;
	uv_signal_start(&w->sig_term, on_sigterm, SIGTERM);
	uv_signal_start(&w->sig_int, on_sigterm, SIGINT);
	uv_signal_start(&w->sig_hup, on_sighup, SIGHUP);
}

static int attach_shm(struct wk *w, int fd, char *err, size_t el)
{
	if (fd < 0) {
		w->slot = &w->local_slot; /* alone (tests): metrics go nowhere */
		return 0;
	}
	if (!(w->shm = shm_attach(fd, err, el)))
		return -1;
	if (!(w->slot = shm_slot(w->shm, w->index))) {
		snprintf(err, el, "shared memory has no slot %d", w->index);
		return -1;
	}
	w->slot->pid = getpid();
	w->slot->started_ms = shm_now_ms();
	shm_set_state(w->slot, SHM_STARTING);
	shm_heartbeat(w->slot);
	return 0;
}

struct args {
	int index, count, shm_fd, key_fd, reshard;
	const char *config;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = { { "index", required_argument, NULL, 'i' },
					      { "count", required_argument, NULL, 'n' },
					      { "config", required_argument, NULL, 'c' },
					      { "shm-fd", required_argument, NULL, 's' },
					      { "token-key-fd", required_argument, NULL, 'k' },
					      { "reshard", required_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { NULL, 0, NULL, 0 } };
	int c;

	*a = (struct args){ -1, 0, -1, -1, 0, NULL };
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': a->index = atoi(optarg); break;
		case 'n': a->count = atoi(optarg); break;
		case 'c': a->config = optarg; break;
		case 's': a->shm_fd = atoi(optarg); break;
		case 'k': a->key_fd = atoi(optarg); break;
		case 'r': a->reshard = atoi(optarg); break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("piyasa worker " PIYASA_VERSION "\n"); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (a->reshard > 0)
		return 0;
	if (a->count < 1 || a->index < 0 || a->index >= a->count) {
		fprintf(stderr, "worker: need --index I --count N with 0 <= I < N\n");
		return -1;
	}
	return 0;
}

/* The supervisor's descriptor (tok_env_to_fd) when it gave one, else the
 * environment, token_key_file or the systemd credential (tok_key_load). */
static int load_key(struct wk *w, int key_fd, char *err, size_t el)
{
	int rc;

	if (key_fd < 0)
		return tok_key_load(w->token_key, w->cfg.token_key_file, err, el);
	rc = tok_key_from_fd(w->token_key, key_fd, err, el);
	close(key_fd);
	return rc;
}

static int run(struct wk *w, const struct args *a)
{
	char err[512] = "";

	if (attach_shm(w, a->shm_fd, err, sizeof err) < 0 ||
	    load_key(w, a->key_fd, err, sizeof err) < 0 || start_clients(w, err, sizeof err) < 0 ||
	    start_chat(w) < 0) {
		if (!*err)
			snprintf(err, sizeof err, "out of memory");
		log_error("cannot start: %s", err);
		return 1;
	}
	start_handles(w);
	shed_start_pages();
	log_info("worker %d/%d started (max_inflight %d)", w->index, w->count, w->cfg.max_inflight);
	uv_run(w->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(w->loop) != 0)
		log_warn("loop closed with handles still open");
	shm_free(w->shm);
	return w->exit_code;
}

int main(int argc, char **argv)
{
	static struct wk w;
	struct args a;
	char err[512];

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	/* libpq's default gssencmode "prefer" looks for Kerberos credentials on
	 * every connect, which loads and runs krb5: about 0.6 MB of RSS per worker
	 * where there is no Kerberos. gssencmode in database_url or PGGSSENCMODE
	 * still choose. */
	setenv("PGGSSENCMODE", "disable", 0);
	if (cfg_load(&w.cfg, a.config, err, sizeof err) < 0) {
		fprintf(stderr, "worker: %s\n", err);
		return 1;
	}
	log_init("worker", w.cfg.log_format, w.cfg.log_level);
	if (a.reshard > 0)
		return reshard_run(&w.cfg, a.reshard) < 0 ? 1 : 0;
	/* Orphaned by a dead supervisor: drain and go, so no two workers share an index. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	/* curl_global_init has OpenSSL load its error texts: about 0.6 MB of RSS
	 * per worker. curl words its own messages (certificate problems too);
	 * only a raw OpenSSL code quoted in one loses its names, e.g. "error:
	 * 0480006C:lib(9)::reason(108)" for "...:PEM routines::no start line"
	 * (`openssl errstr 0480006C` decodes it). */
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_set_worker(a.index);
	w.index = a.index;
	w.count = a.count;
	w.config_path = a.config;
	w.loop = uv_default_loop();
	w.rng = backoff_seed();
	w.exit_code = 0;
	int rc = run(&w, &a);
	curl_global_cleanup();
	return rc;
}
