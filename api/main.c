/* piyasa-api: the admin API (docs/API.md).
 *
 *   piyasa-api [--config FILE] [--shm-fd FD]
 *
 * Run by the supervisor when the configuration has an [api] section: it gets the
 * sealed config and the shared segment as fd 3, beats in slot SHM_API_SLOT and
 * is respawned when it dies. One libuv loop: the HTTP server (api/srv), the
 * PostgreSQL pool, the Redis link, the heartbeat. SIGTERM: stop accepting,
 * finish what is in flight (up to drain_timeout_ms), exit 0. SIGHUP: reload the
 * configuration in place (limits, cookie, session life; a new listen address
 * needs a restart, which the supervisor does). */
#include "api/app.h"
#include "api/call.h"
#include "api/srv.h"
#include "api/stream.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/net/httpc.h"
#include "common/net/pgpool.h"
#include "common/net/ra.h"
#include "common/shm.h"
#include "common/tok.h"
#include "common/version.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

struct api {
	uv_loop_t loop;
	struct cfg cfg;
	const char *config;
	struct apictx ctx;
	struct app *app;
	struct srv *srv;
	struct shm *shm;
	struct shm_slot *slot, local_slot;
	uv_timer_t tick;
	uv_signal_t sig_term, sig_int, sig_hup;
	int draining;
	int64_t drain_deadline;
	int key_fd; /* --token-key-fd: the supervisor's memfd of the key, or -1 */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: piyasa-api [--config FILE] [--shm-fd FD] [--token-key-fd FD]\n"
		   "\n"
		   "The admin API, normally started by the supervisor when the configuration\n"
		   "has an [api] section (docs/API.md). SIGTERM drains, SIGHUP reloads.\n");
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void close_all(struct api *a)
{
	/* The clients first: their queries answer "closing" to requests that are
	 * still suspended in the server, which is freed after them. */
	ra_free(a->ctx.redis);
	a->ctx.redis = NULL;
	pgpool_free(a->ctx.pool);
	a->ctx.pool = NULL;
	httpc_free(a->ctx.http);
	a->ctx.http = NULL;
	srv_free(a->srv); /* ends the streams: the hub goes after it */
	a->srv = NULL;
	hub_free(a->ctx.hub);
	a->ctx.hub = NULL;
	uv_close((uv_handle_t *)&a->tick, on_closed);
	uv_close((uv_handle_t *)&a->sig_term, on_closed);
	uv_close((uv_handle_t *)&a->sig_int, on_closed);
	uv_close((uv_handle_t *)&a->sig_hup, on_closed);
}

static void on_tick(uv_timer_t *t)
{
	struct api *a = t->data;

	shm_heartbeat(a->slot);
	shm_gauge(a->slot, SHM_G_PG_OK, pgpool_up(a->ctx.pool));
	shm_gauge(a->slot, SHM_G_REDIS_OK, ra_up(a->ctx.redis));
	shm_gauge(a->slot, SHM_G_INFLIGHT, (int64_t)app_inflight(a->app));
	shm_gauge(a->slot, SHM_G_API_STREAMS, (int64_t)hub_streams(a->ctx.hub));
	if (!a->draining) {
		shm_set_state(a->slot, pgpool_up(a->ctx.pool) ? SHM_READY : SHM_STARTING);
		return;
	}
	/* Streams never end by themselves: past the deadline they are cut. */
	if (app_inflight(a->app) == 0 || shm_now_ms() >= a->drain_deadline) {
		log_info("drained (%u requests were still in flight)", app_inflight(a->app));
		shm_set_state(a->slot, SHM_EXITED);
		close_all(a);
	}
}

static void on_sigterm(uv_signal_t *s, int signum)
{
	struct api *a = s->data;

	if (a->draining) {
		log_notice("second signal %d: exiting now", signum);
		exit(1);
	}
	log_info("signal %d: draining %u requests", signum, app_inflight(a->app));
	a->draining = 1;
	a->drain_deadline = shm_now_ms() + a->cfg.drain_timeout_ms;
	shm_set_state(a->slot, SHM_DRAINING);
	srv_quiesce(a->srv);
	hub_end_all(a->ctx.hub); /* streams never end by themselves; clients reconnect */
	uv_timer_start(&a->tick, on_tick, 0, 50);
}

static void on_sighup(uv_signal_t *s, int signum)
{
	struct api *a = s->data;
	struct cfg nc;
	char err[512];

	(void)signum;
	if (cfg_load(&nc, a->config, err, sizeof err) < 0) {
		log_error("reload failed, keeping the running configuration: %s", err);
		return;
	}
	/* The listen address and the connections stay as started. */
	snprintf(nc.api_listen, sizeof nc.api_listen, "%s", a->cfg.api_listen);
	snprintf(nc.database_url, sizeof nc.database_url, "%s", a->cfg.database_url);
	snprintf(nc.redis_url, sizeof nc.redis_url, "%s", a->cfg.redis_url);
	a->cfg = nc;
	log_init("api", a->cfg.log_format, a->cfg.log_level);
	log_notice("configuration reloaded");
}

/* Every answer in the slot's counters, by status class, and its duration. */
static void on_answered(unsigned status, long long age_us, void *arg)
{
	struct shm_slot *sl = arg;

	if (status >= 100 && status < 600)
		shm_count(sl, (enum shm_counter)(SHM_C_API_1XX + (int)status / 100 - 1), 1);
	if (status == 429)
		shm_count(sl, SHM_C_API_429, 1);
	shm_observe(sl, SHM_H_API_SECONDS, (double)age_us / 1e6);
}

static int start(struct api *a, char *err, size_t el)
{
	struct srv_opts o = { 0 };
	char host[80];
	int port;

	a->ctx.loop = &a->loop;
	a->ctx.cfg = &a->cfg;
	a->ctx.shm = a->shm;
	a->ctx.slot = a->slot;
	/* Without the token key the API still serves; TOTP logins then fail. The
	 * supervisor's descriptor when it gave one (it took PIYASA_TOKEN_KEY out of
	 * every child's environment), else token_key_file or the credential. */
	if ((a->key_fd >= 0 ? tok_key_from_fd(a->ctx.token_key, a->key_fd, err, el)
			    : tok_key_load(a->ctx.token_key, a->cfg.token_key_file, err, el)) == 0)
		a->ctx.have_token_key = 1;
	else
		log_warn("no token key (%s): TOTP logins will be refused", err);
	if (a->key_fd >= 0)
		close(a->key_fd);
	if (!(a->ctx.pool =
		      pgpool_new(&a->loop, a->cfg.database_url, a->cfg.api_pg_connections, err, el)))
		return -1;
	if (!(a->ctx.redis = ra_new(&a->loop, a->cfg.redis_url, 2000, NULL, NULL, err, el)))
		return -1;
	if (!(a->ctx.http = httpc_new(&a->loop, err, el)))
		return -1;
	if (!(a->ctx.hub = hub_new(&a->ctx)) || !(a->app = app_new(&a->ctx))) {
		snprintf(err, el, "out of memory");
		return -1;
	}
	if (cfg_split_listen(a->cfg.api_listen, host, sizeof host, &port) < 0) {
		snprintf(err, el, "api.listen: '%s' is not HOST:PORT", a->cfg.api_listen);
		return -1;
	}
	o.host = host;
	o.port = port;
	o.max_body = (size_t)a->cfg.api_max_body_kb * 1024;
	o.max_conns = (unsigned)a->cfg.api_max_connections;
	o.per_ip = (unsigned)a->cfg.api_per_ip_connections;
	o.timeout_s = (unsigned)a->cfg.api_timeout_s;
	if (!(a->srv = srv_new(&a->loop, &o, app_handle, a->app, err, el)))
		return -1;
	srv_set_observer(a->srv, on_answered, a->slot);
	uv_timer_init(&a->loop, &a->tick);
	a->tick.data = a;
	uv_timer_start(&a->tick, on_tick, 0, (uint64_t)a->cfg.heartbeat_ms);
	uv_signal_init(&a->loop, &a->sig_term);
	uv_signal_init(&a->loop, &a->sig_int);
	uv_signal_init(&a->loop, &a->sig_hup);
	a->sig_term.data = a->sig_int.data = a->sig_hup.data = a;
	uv_signal_start(&a->sig_term, on_sigterm, SIGTERM);
	uv_signal_start(&a->sig_int, on_sigterm, SIGINT);
	uv_signal_start(&a->sig_hup, on_sighup, SIGHUP);
	log_notice("piyasa-api %s listening on %s", PIYASA_VERSION, a->cfg.api_listen);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "shm-fd", required_argument, NULL, 's' },
		{ "token-key-fd", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct api a = { .key_fd = -1 };
	char err[512];
	int ch, shm_fd = -1, rc;

	while ((ch = getopt_long(argc, argv, "c:s:k:hV", longs, NULL)) != -1) {
		switch (ch) {
		case 'c': a.config = optarg; break;
		case 's': shm_fd = atoi(optarg); break;
		case 'k': a.key_fd = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("piyasa-api %s\n", PIYASA_VERSION); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (cfg_load(&a.cfg, a.config, err, sizeof err) < 0) {
		fprintf(stderr, "piyasa-api: %s\n", err);
		return 1;
	}
	log_init("api", a.cfg.log_format, a.cfg.log_level);
	/* The supervisor's death ends us too, as it does its workers. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	a.slot = &a.local_slot;
	if (shm_fd >= 0) {
		if (!(a.shm = shm_attach(shm_fd, err, sizeof err)) ||
		    !(a.slot = shm_slot(a.shm, SHM_API_SLOT))) {
			log_error("%s", a.shm ? "no API slot in the shared segment" : err);
			return 1;
		}
		a.slot->started_ms = shm_now_ms();
		shm_set_state(a.slot, SHM_STARTING);
		shm_heartbeat(a.slot);
	}
	uv_loop_init(&a.loop);
	if (start(&a, err, sizeof err) < 0) {
		log_error("%s", err);
		return 1;
	}
	rc = uv_run(&a.loop, UV_RUN_DEFAULT);
	(void)rc;
	app_free(a.app);
	uv_loop_close(&a.loop);
	shm_free(a.shm);
	return 0;
}
