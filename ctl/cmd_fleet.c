/* cmd_fleet: `piyasactl fleet status|reload|resize N`: the running supervisor,
 * through what it already offers: its /status (libcurl, on http_bind:http_port)
 * and its signals (HUP reload, TTIN/TTOU one worker more or fewer). The
 * supervisor has no control endpoint on purpose: its HTTP port may face a
 * Prometheus on another host, and signals need the right to kill it. */
#include "ctl/ctl.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A resize step (a drain and a reshard run) and a reload take seconds. */
#define STEP_TIMEOUT_MS 120000
#define RELOAD_TIMEOUT_MS 15000

struct buf {
	char *p;
	size_t n;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t len = size * nmemb;
	char *p = realloc(b->p, b->n + len + 1);

	if (!p)
		return 0;
	memcpy(p + b->n, data, len);
	b->p = p;
	b->n += len;
	p[b->n] = '\0';
	return len;
}

/* The supervisor's address as a URL host: a wildcard bind is asked on loopback. */
static void status_url(const struct cfg *c, char *out, size_t n)
{
	const char *h = c->http_bind;

	if (!*h || strcmp(h, "0.0.0.0") == 0)
		h = "127.0.0.1";
	else if (strcmp(h, "::") == 0)
		h = "::1";
	snprintf(out, n, strchr(h, ':') ? "http://[%s]:%d/status" : "http://%s:%d/status", h,
		 c->http_port);
}

/* GET /status: the document, or NULL with err. */
static json_t *get_status(const struct cfg *c, char *err, size_t el)
{
	CURL *h = curl_easy_init();
	struct buf b = { NULL, 0 };
	char url[300], cerr[CURL_ERROR_SIZE] = "";
	long code = 0;
	json_t *doc = NULL;
	CURLcode rc;

	if (c->http_port == 0) {
		snprintf(err, el, "http_port is 0: the supervisor serves no /status to ask");
		return NULL;
	}
	status_url(c, url, sizeof url);
	if (!h) {
		snprintf(err, el, "out of memory");
		return NULL;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK)
		snprintf(err, el, "no supervisor at %s: %s", url,
			 *cerr ? cerr : curl_easy_strerror(rc));
	else if (code != 200)
		snprintf(err, el, "%s: HTTP %ld", url, code);
	else if (!(doc = json_loads(b.p ? b.p : "", 0, NULL)) || !json_is_object(doc))
		snprintf(err, el, "%s: not a status document", url);
	free(b.p);
	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

static long long num(const json_t *doc, const char *key)
{
	return json_integer_value(json_object_get(doc, key));
}

static const char *str(const json_t *doc, const char *key)
{
	const char *s = json_string_value(json_object_get(doc, key));

	return s ? s : "";
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int signal_sup(const json_t *doc, int sig, char *err, size_t el)
{
	pid_t pid = (pid_t)num(doc, "pid");

	if (pid <= 1) {
		snprintf(err, el, "the status names no supervisor pid");
		return -1;
	}
	if (kill(pid, sig) < 0) {
		snprintf(err, el, "signal %s to supervisor %d: %s%s", sigabbrev_np(sig), (int)pid,
			 strerror(errno), errno == EPERM ? " (run as root or the piyasa user)" : "");
		return -1;
	}
	return 0;
}

static int fleet_status(struct ctl *c, int argc, char **argv)
{
	char err[1024], *pos[1];
	json_t *doc, *w;
	size_t i;
	int np, rc;

	if ((rc = ctl_opts("fleet", argc, argv, NULL, pos, 0, &np)) != 0)
		return rc;
	if (!(doc = get_status(&c->cfg, err, sizeof err)))
		return ctl_fail("%s", err);
	if (ctl_json()) {
		ctl_print_json(stdout, doc);
		json_decref(doc);
		return CTL_OK;
	}
	printf("supervisor %lld (version %s): %s, %lld workers, up %.0f s, %lld reloads, "
	       "%lld resizes\n",
	       num(doc, "pid"), str(doc, "version"), str(doc, "phase"), num(doc, "count"),
	       json_number_value(json_object_get(doc, "uptime_s")), num(doc, "reloads"),
	       num(doc, "resizes"));
	printf("%-6s %-8s %-11s %-9s %s\n", "WORKER", "PID", "STATE", "RESTARTS", "UP_S");
	json_array_foreach(json_object_get(doc, "workers"), i, w) {
		json_t *up = json_object_get(w, "up_s");

		printf("%-6lld %-8lld %-11s %-9lld %s%.0f%s\n", num(w, "index"), num(w, "pid"),
		       str(w, "state"), num(w, "restarts"), up && !json_is_null(up) ? "" : "-",
		       json_number_value(up),
		       json_is_true(json_object_get(w, "crash_loop")) ? " crash loop" : "");
	}
	json_decref(doc);
	return CTL_OK;
}

static int fleet_reload(struct ctl *c, int argc, char **argv)
{
	char err[1024], *pos[1];
	json_t *doc;
	long long before, refused;
	int64_t deadline;
	int np, rc;

	if ((rc = ctl_opts("fleet", argc, argv, NULL, pos, 0, &np)) != 0)
		return rc;
	if (!(doc = get_status(&c->cfg, err, sizeof err)))
		return ctl_fail("%s", err);
	before = num(doc, "reloads");
	refused = num(doc, "reloads_refused");
	rc = signal_sup(doc, SIGHUP, err, sizeof err);
	json_decref(doc);
	if (rc < 0)
		return ctl_fail("%s", err);
	/* The supervisor counts a reload it took and one it refused apart. Its
	 * reason stays in its log: /status may face another host, and the reason
	 * can quote a URL with its password. */
	for (deadline = now_ms() + RELOAD_TIMEOUT_MS; now_ms() < deadline; nap(100)) {
		if (!(doc = get_status(&c->cfg, err, sizeof err)))
			continue;
		long long took = num(doc, "reloads"), no = num(doc, "reloads_refused");
		json_decref(doc);
		if (took > before) {
			printf("configuration reloaded\n");
			return CTL_OK;
		}
		if (no > refused)
			return ctl_fail("the supervisor refused the configuration and keeps the "
					"running one: see why in its log (journalctl -u piyasa), "
					"or run supervisor -t");
	}
	return ctl_fail("the supervisor did not take the configuration in %d s: it is not "
			"answering (see its log: journalctl -u piyasa)",
			RELOAD_TIMEOUT_MS / 1000);
}

static int fleet_resize(struct ctl *c, int argc, char **argv)
{
	char err[1024], *pos[1];
	int64_t n, deadline = now_ms() + STEP_TIMEOUT_MS;
	long long count = -1;
	int np, rc;

	if ((rc = ctl_opts("fleet", argc, argv, NULL, pos, 1, &np)) != 0)
		return rc;
	if (np != 1 || ctl_parse_i64(pos[0], &n) < 0 || n < 1 || n > 256)
		return ctl_usage("fleet", "fleet resize needs a number of workers, 1..256");
	/* One signal a step: two of a kind sent at once may arrive as one. A step
	 * is over when the fleet runs again; a coalesced or lost signal shows as a
	 * count short of n and is sent again. */
	while (now_ms() < deadline) {
		json_t *doc = get_status(&c->cfg, err, sizeof err);
		int running;

		if (!doc)
			return ctl_fail("%s", err);
		running = strcmp(str(doc, "phase"), "running") == 0;
		count = num(doc, "count");
		if (running && count == n) {
			json_decref(doc);
			printf("fleet has %lld workers\n", count);
			return CTL_OK;
		}
		if (running) {
			rc = signal_sup(doc, count < n ? SIGTTIN : SIGTTOU, err, sizeof err);
			deadline = now_ms() + STEP_TIMEOUT_MS;
		}
		json_decref(doc);
		if (rc < 0)
			return ctl_fail("%s", err);
		/* Long enough for the supervisor to leave "running" on the signal. */
		nap(running ? 500 : 100);
	}
	return ctl_fail("the fleet did not reach %lld workers (it has %lld)", (long long)n, count);
}

int cmd_fleet(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {
		{ "status", fleet_status },
		{ "reload", fleet_reload },
		{ "resize", fleet_resize },
		{ NULL, NULL },
	};

	return ctl_dispatch(c, "fleet", subs, argc, argv);
}
