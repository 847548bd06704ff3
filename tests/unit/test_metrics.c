/* test_metrics: the /metrics text (Prometheus 0.0.4) from hand-made snapshots.
 *
 * Most cases fill a struct snap by hand (metrics.c formats nothing else) and
 * look for exact lines: the name, the labels in their order, the value. One
 * case goes the long way, through shm slots and the view, to check that a
 * counter of a worker that exited stays in the total. A checker walks the
 * whole text the way a strict scraper would: HELP then TYPE once per family,
 * every sample under its own family, every value a number, histograms
 * cumulative with _count equal to the +Inf bucket. */
#include "common/job.h"
#include "common/shm.h"
#include "common/version.h"
#include "supervisor/metrics.h"
#include "supervisor/view.h"
#include "tests/check_main.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static struct snap *new_snap(void)
{
	struct snap *s = calloc(1, sizeof *s);

	ck_assert_ptr_nonnull(s);
	s->now_ms = 500000;
	s->start_ms = 400000;
	s->live_ms = s->now_ms;
	s->pid = 1234;
	snprintf(s->phase, sizeof s->phase, "running");
	s->cfg.worker_timeout_ms = 3000;
	return s;
}

static char *render(const struct snap *s)
{
	size_t len = 0;
	char *text = metrics_prometheus(s, &len);

	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert(len > 0 && text[len - 1] == '\n');
	return text;
}

/* 1 when text holds the whole line (printf-style, without its newline). */
static int has_line(const char *text, const char *fmt, ...)
{
	char line[512], *p;
	va_list ap;
	size_t n;

	line[0] = '\n';
	va_start(ap, fmt);
	vsnprintf(line + 1, sizeof line - 2, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n] = '\n';
	line[n + 1] = '\0';
	p = strstr(text, line);
	return p != NULL;
}

#define LINE(text, ...) ck_assert_msg(has_line(text, __VA_ARGS__), "no line: " __VA_ARGS__)
#define NO_LINE(text, ...) \
	ck_assert_msg(!has_line(text, __VA_ARGS__), "unexpected line: " __VA_ARGS__)

/* Lines of text that start with prefix. */
static int count_prefix(const char *text, const char *prefix)
{
	int n = 0;
	size_t len = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += strncmp(p, prefix, len) == 0;
	return n;
}

/* The family a sample name belongs to, given the TYPE in force. */
static int sample_fits(const char *name, const char *family, const char *type)
{
	size_t fl = strlen(family);
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };

	if (strcmp(name, family) == 0)
		return strcmp(type, "histogram") != 0;
	if (strcmp(type, "histogram") != 0 || strncmp(name, family, fl) != 0)
		return 0;
	for (int i = 0; i < 3; i++)
		if (strcmp(name + fl, suffixes[i]) == 0)
			return 1;
	return 0;
}

/* A strict scraper's state while it reads the text. */
struct scrape {
	char families[128][80];
	int nf;
	char help[80], family[80], type[16];
	double last_bucket, inf; /* of the histogram being read; -1 before any */
};

/* A "# HELP" or "# TYPE" line; 0 when line is neither. */
static int scrape_comment(struct scrape *c, const char *line)
{
	if (sscanf(line, "# HELP %79s", c->help) == 1) {
		for (int i = 0; i < c->nf; i++)
			ck_assert_msg(strcmp(c->families[i], c->help) != 0, "%s twice", c->help);
		return 1;
	}
	if (sscanf(line, "# TYPE %79s %15s", c->family, c->type) != 2)
		return 0;
	ck_assert_str_eq(c->family, c->help);
	ck_assert(!strcmp(c->type, "counter") || !strcmp(c->type, "gauge") ||
		  !strcmp(c->type, "histogram"));
	ck_assert_int_lt(c->nf, 128);
	snprintf(c->families[c->nf++], sizeof c->families[0], "%s", c->family);
	c->last_bucket = c->inf = -1;
	return 1;
}

/* Buckets never go down; _count is the +Inf bucket. */
static void scrape_histogram(struct scrape *c, const char *name, const char *line, double v)
{
	size_t fl = strlen(c->family);

	if (strcmp(name + fl, "_bucket") == 0) {
		ck_assert_msg(v >= c->last_bucket, "bucket goes down: %s", line);
		c->last_bucket = v;
		if (strstr(line, "le=\"+Inf\"}"))
			c->inf = v;
	} else if (strcmp(name + fl, "_count") == 0) {
		ck_assert_msg(v == c->inf, "_count is not the +Inf bucket: %s", line);
		c->last_bucket = -1; /* the next label's series starts again */
	}
}

static void scrape_sample(struct scrape *c, const char *line)
{
	char name[160], *end;
	size_t n = strcspn(line, "{ ");
	double v;

	ck_assert_msg(line[0] != '#', "stray comment: %s", line);
	ck_assert_msg(n < sizeof name, "long name: %s", line);
	memcpy(name, line, n);
	name[n] = '\0';
	ck_assert_msg(sample_fits(name, c->family, c->type), "%s outside its family (%s)", line,
		      c->family);
	end = strrchr(line, ' ');
	ck_assert_ptr_nonnull(end);
	v = strtod(end + 1, &end);
	ck_assert_msg(*end == '\0', "not a number: %s", line);
	if (!strcmp(c->type, "histogram"))
		scrape_histogram(c, name, line, v);
}

/* Check the exposition as a strict scraper would; returns the family count. */
static int check_exposition(const char *text)
{
	struct scrape c;
	char line[1024];
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	memset(&c, 0, sizeof c);
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f)) {
		size_t n = strlen(line);

		ck_assert_msg(n > 1 && line[n - 1] == '\n', "empty or cut line: %s", line);
		line[n - 1] = '\0';
		if (!scrape_comment(&c, line))
			scrape_sample(&c, line);
	}
	fclose(f);
	return c.nf;
}

/* ---- counters ---- */

START_TEST(plain_counters_carry_their_totals)
{
	struct snap *s = new_snap();
	char *t;

	s->total.counters[SHM_C_LEASED] = 42;
	s->total.counters[SHM_C_DEDUP_SEMANTIC] = 7;
	s->total.counters[SHM_C_OWN_MISSES] = 12345678901ULL;
	t = render(s);
	LINE(t, "# HELP piyasa_leased_total Jobs leased from the queues.");
	LINE(t, "# TYPE piyasa_leased_total counter");
	LINE(t, "piyasa_leased_total 42");
	LINE(t, "piyasa_dedup_semantic_total 7");
	LINE(t, "piyasa_own_cache_misses_total 12345678901");
	LINE(t, "piyasa_dead_letters_total 0");
	LINE(t, "piyasa_cache_hits_total 0");
	free(t);
	free(s);
}
END_TEST

START_TEST(jobs_by_kind_and_outcome)
{
	struct snap *s = new_snap();
	char *t;

	s->total.jobs[JOB_SPEAK][SHM_OUT_SENT] = 900;
	s->total.jobs[JOB_REPLY][SHM_OUT_RETRY] = 5;
	s->total.jobs[JOB_MEMORIZE][SHM_OUT_UNKNOWN] = 2;
	t = render(s);
	LINE(t, "# TYPE piyasa_jobs_total counter");
	LINE(t, "piyasa_jobs_total{kind=\"speak\",outcome=\"sent\"} 900");
	LINE(t, "piyasa_jobs_total{kind=\"reply\",outcome=\"retry\"} 5");
	LINE(t, "piyasa_jobs_total{kind=\"memorize\",outcome=\"unknown\"} 2");
	LINE(t, "piyasa_jobs_total{kind=\"speak\",outcome=\"skipped\"} 0");
	/* Every kind with every outcome, always: 3 x 5 series. */
	ck_assert_int_eq(count_prefix(t, "piyasa_jobs_total{"), 3 * SHM_OUT_COUNT);
	free(t);
	free(s);
}
END_TEST

/* Failed tries by what failed, apart from takeovers (issue 18). */
START_TEST(failures_and_takeovers_apart)
{
	struct snap *s = new_snap();
	char *t;

	s->total.counters[SHM_C_FAIL_LLM] = 7;
	s->total.counters[SHM_C_FAIL_TELEGRAM] = 2;
	s->total.counters[SHM_C_TAKEOVERS] = 40;
	t = render(s);
	LINE(t, "# TYPE piyasa_job_failures_total counter");
	LINE(t, "piyasa_job_failures_total{kind=\"llm\"} 7");
	LINE(t, "piyasa_job_failures_total{kind=\"telegram\"} 2");
	LINE(t, "piyasa_job_failures_total{kind=\"step\"} 0");
	ck_assert_int_eq(count_prefix(t, "piyasa_job_failures_total{"), 3);
	LINE(t, "# TYPE piyasa_job_takeovers_total counter");
	LINE(t, "piyasa_job_takeovers_total 40");
	free(t);
	free(s);
}
END_TEST

/* The admin API's slot: its answers, refusals and logins, up and streams only
 * while it runs ready. */
START_TEST(the_api_process_has_its_own_families)
{
	struct snap *s = new_snap();
	char *t;

	s->cfg.api_enabled = 1;
	s->total.counters[SHM_C_API_2XX] = 120;
	s->total.counters[SHM_C_API_4XX] = 9;
	s->total.counters[SHM_C_API_429] = 4;
	s->total.counters[SHM_C_API_LOGINS] = 3;
	s->total.counters[SHM_C_API_LOGINS_FAILED] = 5;
	s->w[SHM_API_SLOT].gauges[SHM_G_API_STREAMS] = 2;
	t = render(s);
	LINE(t, "# TYPE piyasa_api_requests_total counter");
	LINE(t, "piyasa_api_requests_total{code=\"2xx\"} 120");
	LINE(t, "piyasa_api_requests_total{code=\"4xx\"} 9");
	LINE(t, "piyasa_api_requests_total{code=\"5xx\"} 0");
	ck_assert_int_eq(count_prefix(t, "piyasa_api_requests_total{"), 5);
	LINE(t, "piyasa_api_rate_limited_total 4");
	LINE(t, "piyasa_api_logins_total{result=\"ok\"} 3");
	LINE(t, "piyasa_api_logins_total{result=\"failed\"} 5");
	LINE(t, "piyasa_api_up 0"); /* not running */
	LINE(t, "piyasa_api_streams 0");
	free(t);
	s->w[SHM_API_SLOT].v.pid = 300;
	s->w[SHM_API_SLOT].state = SHM_READY;
	t = render(s);
	LINE(t, "piyasa_api_up 1");
	LINE(t, "piyasa_api_streams 2");
	free(t);
	s->cfg.api_enabled = 0;
	t = render(s);
	ck_assert_ptr_null(strstr(t, "piyasa_api_up"));
	LINE(t, "piyasa_api_logins_total{result=\"ok\"} 3");
	free(t);
	free(s);
}
END_TEST

START_TEST(telegram_calls_by_outcome)
{
	struct snap *s = new_snap();
	char *t;

	s->total.counters[SHM_C_TG_OK] = 1000;
	s->total.counters[SHM_C_TG_429] = 3;
	s->total.counters[SHM_C_TG_NETERR] = 1;
	t = render(s);
	LINE(t, "piyasa_telegram_calls_total{outcome=\"ok\"} 1000");
	LINE(t, "piyasa_telegram_calls_total{outcome=\"429\"} 3");
	LINE(t, "piyasa_telegram_calls_total{outcome=\"4xx\"} 0");
	LINE(t, "piyasa_telegram_calls_total{outcome=\"neterr\"} 1");
	ck_assert_int_eq(count_prefix(t, "piyasa_telegram_calls_total{"), 6);
	free(t);
	free(s);
}
END_TEST

START_TEST(llm_series_per_provider_with_escaped_names)
{
	struct snap *s = new_snap();
	char *t;

	s->cfg.nproviders = 2;
	snprintf(s->cfg.providers[0], sizeof s->cfg.providers[0], "openai");
	snprintf(s->cfg.providers[1], sizeof s->cfg.providers[1], "we\"ird\\");
	s->total.pcounters[0][SHM_P_CALLS_OK] = 50;
	s->total.pcounters[1][SHM_P_CALLS_TIMEOUT] = 4;
	s->total.pcounters[0][SHM_P_PROMPT_TOKENS] = 123456;
	s->total.pcounters[0][SHM_P_COMPLETION_TOKENS] = 7890;
	t = render(s);
	LINE(t, "piyasa_llm_calls_total{provider=\"openai\",outcome=\"ok\"} 50");
	LINE(t, "piyasa_llm_calls_total{provider=\"we\\\"ird\\\\\",outcome=\"timeout\"} 4");
	LINE(t, "piyasa_llm_calls_total{provider=\"openai\",outcome=\"error\"} 0");
	LINE(t, "piyasa_llm_tokens_total{provider=\"openai\",type=\"prompt\"} 123456");
	LINE(t, "piyasa_llm_tokens_total{provider=\"openai\",type=\"completion\"} 7890");
	ck_assert_int_eq(count_prefix(t, "piyasa_llm_calls_total{"), 2 * 5);
	ck_assert_int_eq(count_prefix(t, "piyasa_llm_tokens_total{"), 2 * 2);
	check_exposition(t);
	free(t);
	free(s);
}
END_TEST

/* ---- gauges ---- */

START_TEST(gauges_are_sums_over_running_workers)
{
	struct snap *s = new_snap();
	char *t;

	s->gauge_sum[SHM_G_QUEUE_HIGH] = 1;
	s->gauge_sum[SHM_G_QUEUE_NORMAL] = 12;
	s->gauge_sum[SHM_G_QUEUE_LOW] = 300;
	s->gauge_sum[SHM_G_INFLIGHT] = 4;
	s->gauge_sum[SHM_G_BOTS] = 64;
	t = render(s);
	LINE(t, "# TYPE piyasa_queue_depth gauge");
	LINE(t, "piyasa_queue_depth{priority=\"high\"} 1");
	LINE(t, "piyasa_queue_depth{priority=\"normal\"} 12");
	LINE(t, "piyasa_queue_depth{priority=\"low\"} 300");
	LINE(t, "piyasa_inflight_jobs 4");
	LINE(t, "piyasa_bots 64");
	LINE(t, "piyasa_leased_jobs 0");
	free(t);
	free(s);
}
END_TEST

/* Three indexes: 0 READY, 1 dead and crash-looping, 2 starting without a beat. */
static void three_workers(struct snap *s)
{
	s->count = 3;
	s->seen = 3;
	s->cfg.nproviders = 1;
	snprintf(s->cfg.providers[0], sizeof s->cfg.providers[0], "groq");
	s->w[0].v.pid = 200;
	s->w[0].v.spawned_ms = 100000;
	s->w[0].v.restarts = 2;
	s->w[0].state = SHM_READY;
	s->w[0].heartbeat_ms = s->now_ms - 1500;
	s->w[0].gauges[SHM_G_LOOP_LAG_US] = 2500;
	s->w[0].gauges[SHM_G_REDIS_OK] = 1;
	s->w[0].gauges[SHM_G_PG_OK] = 1;
	s->w[0].gauges[SHM_G_TG_BREAKER] = 1;
	s->w[0].pbreaker[0] = 2;
	s->w[1].v.restarts = 1234567;
	s->w[1].v.crash_loop = 1;
	s->w[1].v.respawning = 1;
	s->w[2].v.pid = 202;
	s->w[2].v.spawned_ms = s->now_ms - 250;
	s->w[2].state = SHM_STARTING;
}

START_TEST(worker_series_carry_the_worker_label)
{
	struct snap *s = new_snap();
	char *t;

	three_workers(s);
	t = render(s);
	LINE(t, "piyasa_worker_up{worker=\"0\"} 1");
	LINE(t, "piyasa_worker_up{worker=\"1\"} 0");
	LINE(t, "piyasa_worker_up{worker=\"2\"} 0");
	LINE(t, "# TYPE piyasa_worker_restarts_total counter");
	LINE(t, "piyasa_worker_restarts_total{worker=\"0\"} 2");
	LINE(t, "piyasa_worker_restarts_total{worker=\"1\"} 1234567");
	LINE(t, "piyasa_worker_crash_loop{worker=\"1\"} 1");
	LINE(t, "piyasa_worker_crash_loop{worker=\"0\"} 0");
	/* Age from the last beat, or from the spawn for one that has not beaten. */
	LINE(t, "piyasa_worker_heartbeat_age_seconds{worker=\"0\"} 1.5");
	LINE(t, "piyasa_worker_heartbeat_age_seconds{worker=\"2\"} 0.25");
	NO_LINE(t, "piyasa_worker_heartbeat_age_seconds{worker=\"1\"} 0");
	ck_assert_ptr_null(strstr(t, "heartbeat_age_seconds{worker=\"1\"}"));
	LINE(t, "piyasa_loop_lag_seconds{worker=\"0\"} 0.0025");
	ck_assert_ptr_null(strstr(t, "piyasa_loop_lag_seconds{worker=\"1\"}"));
	LINE(t, "piyasa_worker_redis_up{worker=\"0\"} 1");
	LINE(t, "piyasa_worker_pg_up{worker=\"2\"} 0");
	ck_assert_ptr_null(strstr(t, "piyasa_worker_pg_up{worker=\"1\"}"));
	/* Nothing for an index that never ran. */
	ck_assert_ptr_null(strstr(t, "{worker=\"3\"}"));
	free(t);
	free(s);
}
END_TEST

START_TEST(breakers_per_running_worker)
{
	struct snap *s = new_snap();
	char *t;

	three_workers(s);
	t = render(s);
	/* One series per state, 1 for the state the breaker is in. */
	LINE(t, "piyasa_telegram_breaker_state{state=\"open\",worker=\"0\"} 1");
	LINE(t, "piyasa_telegram_breaker_state{state=\"closed\",worker=\"0\"} 0");
	LINE(t, "piyasa_telegram_breaker_state{state=\"closed\",worker=\"2\"} 1");
	LINE(t, "piyasa_telegram_breaker_state{state=\"half_open\",worker=\"2\"} 0");
	ck_assert_ptr_null(strstr(t, "breaker_state{state=\"closed\",worker=\"1\"}"));
	LINE(t, "piyasa_llm_breaker_state{provider=\"groq\",state=\"half_open\",worker=\"0\"} 1");
	LINE(t, "piyasa_llm_breaker_state{provider=\"groq\",state=\"open\",worker=\"0\"} 0");
	LINE(t, "piyasa_llm_breaker_state{provider=\"groq\",state=\"closed\",worker=\"2\"} 1");
	ck_assert_int_eq(count_prefix(t, "piyasa_llm_breaker_state{"), 6);
	free(t);
	free(s);
}
END_TEST

/* ---- histograms ---- */

START_TEST(histograms_are_cumulative_with_sum_and_count)
{
	struct snap *s = new_snap();
	struct shm_hist_data *h = &s->total.hist[SHM_H_TG_SECONDS];
	char *t;

	h->buckets[0] = 2;                /* <= 1 ms */
	h->buckets[3] = 1;                /* <= 10 ms */
	h->buckets[9] = 4;                /* <= 1 s */
	h->buckets[SHM_NBUCKETS - 1] = 1; /* over 60 s */
	h->sum_us = 65432100;
	h->count = 99; /* a worker bumps it apart from the buckets: not what _count says */
	t = render(s);
	LINE(t, "# HELP piyasa_telegram_request_duration_seconds Telegram Bot API call duration.");
	LINE(t, "# TYPE piyasa_telegram_request_duration_seconds histogram");
	LINE(t, "piyasa_telegram_request_duration_seconds_bucket{le=\"0.001\"} 2");
	LINE(t, "piyasa_telegram_request_duration_seconds_bucket{le=\"0.0025\"} 2");
	LINE(t, "piyasa_telegram_request_duration_seconds_bucket{le=\"0.005\"} 2");
	LINE(t, "piyasa_telegram_request_duration_seconds_bucket{le=\"0.01\"} 3");
	LINE(t, "piyasa_telegram_request_duration_seconds_bucket{le=\"0.5\"} 3");
	LINE(t, "piyasa_telegram_request_duration_seconds_bucket{le=\"1\"} 7");
	LINE(t, "piyasa_telegram_request_duration_seconds_bucket{le=\"60\"} 7");
	LINE(t, "piyasa_telegram_request_duration_seconds_bucket{le=\"+Inf\"} 8");
	LINE(t, "piyasa_telegram_request_duration_seconds_sum 65.432100");
	LINE(t, "piyasa_telegram_request_duration_seconds_count 8");
	ck_assert_int_eq(count_prefix(t, "piyasa_telegram_request_duration_seconds_bucket{"),
			 SHM_NBUCKETS);
	/* An empty one still shows every bucket. */
	LINE(t, "piyasa_job_duration_seconds_bucket{kind=\"speak\",le=\"+Inf\"} 0");
	LINE(t, "piyasa_job_duration_seconds_sum{kind=\"speak\"} 0.000000");
	LINE(t, "piyasa_job_duration_seconds_count{kind=\"memorize\"} 0");
	free(t);
	free(s);
}
END_TEST

START_TEST(every_histogram_is_there)
{
	/* By enum shm_hist; the labelled two (job by kind, LLM by provider) below. */
	static const char *const names[] = {
		NULL,
		"piyasa_enqueue_to_sent_seconds",
		NULL,
		"piyasa_telegram_request_duration_seconds",
		"piyasa_queue_wait_seconds",
		"piyasa_outbox_claim_seconds",
		"piyasa_job_finish_seconds",
		"piyasa_api_request_duration_seconds",
	};
	_Static_assert(sizeof names / sizeof *names == SHM_H_COUNT, "a name per histogram");
	struct snap *s = new_snap();
	char *t;

	for (int h = 0; h < SHM_H_COUNT; h++)
		s->total.hist[h].buckets[h] = (uint64_t)h + 1;
	s->total.job_hist[JOB_REPLY].buckets[2] = 5;
	s->cfg.nproviders = 1;
	snprintf(s->cfg.providers[0], sizeof s->cfg.providers[0], "p1");
	s->total.llm_hist[0].buckets[4] = 6;
	t = render(s);
	for (int h = 0; h < SHM_H_COUNT; h++) {
		if (!names[h])
			continue;
		LINE(t, "# TYPE %s histogram", names[h]);
		LINE(t, "%s_bucket{le=\"%g\"} %d", names[h], shm_bucket_bounds[h], h + 1);
		LINE(t, "%s_count %d", names[h], h + 1);
	}
	LINE(t, "# TYPE piyasa_job_duration_seconds histogram");
	LINE(t, "piyasa_job_duration_seconds_bucket{kind=\"reply\",le=\"%g\"} 5", shm_bucket_bounds[2]);
	LINE(t, "piyasa_job_duration_seconds_count{kind=\"reply\"} 5");
	LINE(t, "# TYPE piyasa_llm_request_duration_seconds histogram");
	LINE(t, "piyasa_llm_request_duration_seconds_count{provider=\"p1\"} 6");
	free(t);
	free(s);
}
END_TEST

/* ---- the supervisor's own ---- */

START_TEST(supervisor_families)
{
	struct snap *s = new_snap();
	char *t;

	s->count = 4;
	s->reloads = 2;
	s->resizes = 3;
	s->now_ms = s->start_ms + 61234;
	t = render(s);
	LINE(t, "piyasa_build_info{version=\"%s\"} 1", PIYASA_VERSION);
	LINE(t, "piyasa_workers 4");
	LINE(t, "piyasa_supervisor_uptime_seconds 61.234");
	LINE(t, "# TYPE piyasa_supervisor_reloads_total counter");
	LINE(t, "piyasa_supervisor_reloads_total 2");
	LINE(t, "piyasa_supervisor_resizes_total 3");
	free(t);
	free(s);
}
END_TEST

/* ---- the whole text ---- */

START_TEST(the_exposition_is_strict)
{
	struct snap *s = new_snap();
	char *t;
	int nf;

	three_workers(s);
	for (int c = 0; c < SHM_C_COUNT; c++)
		s->total.counters[c] = (uint64_t)c * 3 + 1;
	for (int h = 0; h < SHM_H_COUNT; h++)
		for (int b = 0; b < SHM_NBUCKETS; b++)
			s->total.hist[h].buckets[b] = (uint64_t)(b % 3);
	t = render(s);
	nf = check_exposition(t);
	ck_assert_int_eq(nf, count_prefix(t, "# TYPE "));
	ck_assert_int_eq(nf, count_prefix(t, "# HELP "));
	ck_assert_int_ge(nf, 50);
	free(t);
	free(s);
}
END_TEST

/* Through shm and the view: an exited worker's counts stay in the totals. */
START_TEST(totals_keep_what_exited_workers_counted)
{
	char err[256];
	struct shm *shm = shm_create(4, err, sizeof err);
	struct view v;
	struct snap *s = calloc(1, sizeof *s);
	struct view_worker w = { .pid = 300 };
	char *t;

	ck_assert_ptr_nonnull(shm);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(view_init(&v, shm), 0);
	view_set_fleet(&v, 2, "running");
	shm_count(shm_slot(shm, 0), SHM_C_LEASED, 10);
	shm_job(shm_slot(shm, 0), JOB_SPEAK, SHM_OUT_SENT);
	shm_observe_job(shm_slot(shm, 0), JOB_SPEAK, 0.2);
	view_retire_slot(&v, 0);                      /* worker 0 exited */
	shm_count(shm_slot(shm, 0), SHM_C_LEASED, 5); /* its successor */
	shm_count(shm_slot(shm, 1), SHM_C_LEASED, 1);
	shm_observe_job(shm_slot(shm, 1), JOB_SPEAK, 2);
	shm_gauge(shm_slot(shm, 1), SHM_G_INFLIGHT, 3);
	shm_gauge(shm_slot(shm, 0), SHM_G_INFLIGHT, 100); /* index 0 runs no process */
	view_set_worker(&v, 1, &w);
	view_snapshot(&v, s);
	t = render(s);
	LINE(t, "piyasa_leased_total 16");
	LINE(t, "piyasa_jobs_total{kind=\"speak\",outcome=\"sent\"} 1");
	LINE(t, "piyasa_job_duration_seconds_bucket{kind=\"speak\",le=\"0.25\"} 1");
	LINE(t, "piyasa_job_duration_seconds_bucket{kind=\"speak\",le=\"2.5\"} 2");
	LINE(t, "piyasa_job_duration_seconds_sum{kind=\"speak\"} 2.200000");
	LINE(t, "piyasa_job_duration_seconds_count{kind=\"speak\"} 2");
	LINE(t, "piyasa_inflight_jobs 3");
	LINE(t, "piyasa_workers 2");
	check_exposition(t);
	free(t);
	free(s);
	view_destroy(&v);
	shm_free(shm);
}
END_TEST

/* ---- health ---- */

START_TEST(ready_and_live_say_why)
{
	struct snap *s = new_snap();
	char why[128];

	three_workers(s);
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 0);
	ck_assert_str_eq(why, "worker 1 is not running (respawning)");
	s->count = 1;
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 1);
	ck_assert_str_eq(why, "ok");
	s->w[0].gauges[SHM_G_PG_OK] = 0;
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 0);
	ck_assert_str_eq(why, "postgresql is down (worker 0)");
	snprintf(s->phase, sizeof s->phase, "draining");
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 0);
	ck_assert_str_eq(why, "fleet is draining");

	ck_assert_int_eq(metrics_live(s, why, sizeof why), 1);
	s->live_ms = s->now_ms - METRICS_LIVE_MAX_MS - 1;
	ck_assert_int_eq(metrics_live(s, why, sizeof why), 0);
	ck_assert_str_eq(why, "supervisor loop has not ticked for 5001 ms");
	free(s);
}
END_TEST

/* Four workers up for a minute, then Redis goes away: each falls back to
 * STARTING with its Redis gauge at 0. The service is named, with the workers that
 * see it down, ahead of "worker 0 is starting"; a worker that has just started
 * and not connected yet, one whose heartbeat is stale and one not running are
 * left out of the list. */
static void four_workers_up(struct snap *s)
{
	s->count = 4;
	s->seen = 4;
	for (int i = 0; i < 4; i++) {
		s->w[i].v.pid = 300 + i;
		s->w[i].v.spawned_ms = s->now_ms - 60000;
		s->w[i].state = SHM_READY;
		s->w[i].heartbeat_ms = s->now_ms - 100;
		s->w[i].gauges[SHM_G_REDIS_OK] = 1;
		s->w[i].gauges[SHM_G_PG_OK] = 1;
	}
}

START_TEST(ready_names_the_service_that_is_down)
{
	struct snap *s = new_snap();
	char why[512];

	four_workers_up(s);
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 1);
	for (int i = 0; i < 4; i++) {
		s->w[i].state = SHM_STARTING;
		s->w[i].gauges[SHM_G_REDIS_OK] = 0;
	}
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 0);
	ck_assert_str_eq(why, "redis is down (workers 0,1,2,3)");

	/* PostgreSQL too, seen by two of them: both named. */
	s->w[1].gauges[SHM_G_PG_OK] = 0;
	s->w[3].gauges[SHM_G_PG_OK] = 0;
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 0);
	ck_assert_str_eq(why, "redis is down (workers 0,1,2,3); postgresql is down (workers 1,3)");

	/* Redis back; PostgreSQL still down for worker 3 alone. */
	for (int i = 0; i < 4; i++)
		s->w[i].gauges[SHM_G_REDIS_OK] = 1;
	s->w[1].gauges[SHM_G_PG_OK] = 1;
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 0);
	ck_assert_str_eq(why, "postgresql is down (worker 3)");

	/* Only workers whose gauges mean something are counted. */
	s->w[3].gauges[SHM_G_PG_OK] = 1;
	s->w[0].gauges[SHM_G_REDIS_OK] = 0;
	s->w[0].v.spawned_ms = s->now_ms - 300; /* just respawned: still connecting */
	s->w[1].gauges[SHM_G_REDIS_OK] = 0;
	s->w[1].heartbeat_ms = s->now_ms - 10000; /* hung: its gauges are old */
	s->w[2].gauges[SHM_G_REDIS_OK] = 0;
	s->w[2].v.pid = 0; /* exited */
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 0);
	ck_assert_str_eq(why, "worker 0 is starting");
	s->w[3].gauges[SHM_G_REDIS_OK] = 0;
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 0);
	ck_assert_str_eq(why, "redis is down (worker 3)");

	/* A drain is the supervisor's own doing: it is said first. */
	snprintf(s->phase, sizeof s->phase, "draining");
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 0);
	ck_assert_str_eq(why, "fleet is draining");
	free(s);
}
END_TEST

/* A big fleet: sixteen indexes are named, the rest counted, and the text fits. */
START_TEST(ready_names_at_most_sixteen_workers)
{
	struct snap *s = new_snap();
	char why[512];

	s->count = s->seen = 40;
	for (int i = 0; i < 40; i++) {
		s->w[i].v.pid = 400 + i;
		s->w[i].v.spawned_ms = s->now_ms - 60000;
		s->w[i].state = SHM_STARTING;
		s->w[i].heartbeat_ms = s->now_ms - 100;
		s->w[i].gauges[SHM_G_PG_OK] = 1;
	}
	ck_assert_int_eq(metrics_ready(s, why, sizeof why), 0);
	ck_assert_str_eq(why,
			 "redis is down (workers 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 and 24 more)");
	free(s);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, plain_counters_carry_their_totals);
	tcase_add_test(tc, jobs_by_kind_and_outcome);
	tcase_add_test(tc, telegram_calls_by_outcome);
	tcase_add_test(tc, failures_and_takeovers_apart);
	tcase_add_test(tc, the_api_process_has_its_own_families);
	tcase_add_test(tc, llm_series_per_provider_with_escaped_names);
	tcase_add_test(tc, gauges_are_sums_over_running_workers);
	tcase_add_test(tc, worker_series_carry_the_worker_label);
	tcase_add_test(tc, breakers_per_running_worker);
	tcase_add_test(tc, histograms_are_cumulative_with_sum_and_count);
	tcase_add_test(tc, every_histogram_is_there);
	tcase_add_test(tc, supervisor_families);
	tcase_add_test(tc, the_exposition_is_strict);
	tcase_add_test(tc, totals_keep_what_exited_workers_counted);
	tcase_add_test(tc, ready_and_live_say_why);
	tcase_add_test(tc, ready_names_the_service_that_is_down);
	tcase_add_test(tc, ready_names_at_most_sixteen_workers);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(metrics_suite)
