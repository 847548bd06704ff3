/* metrics: see metrics.h. Families are written from small tables so the names,
 * the HELP text and the shm field they read sit on one line each. A histogram's
 * _count is its +Inf bucket, not the slot's count field: a worker bumps the two
 * separately, and Prometheus requires them equal. */
#include "supervisor/metrics.h"

#include "common/job.h"
#include "common/shm.h"
#include "common/version.h"
#include "supervisor/procstat.h"
#include "supervisor/view.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values are operator-chosen (provider names): escape as 0.0.4 says. */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* --- counters summed over workers (base + live) --- */

static const struct {
	const char *name, *help;
	enum shm_counter c;
} plain_counters[] = {
	{ "piyasa_leased_total", "Jobs leased from the queues.", SHM_C_LEASED },
	{ "piyasa_leases_lost_total", "Acks or nacks refused because another attempt owns the job.",
	  SHM_C_LEASES_LOST },
	{ "piyasa_dead_letters_total", "Jobs moved to the dead letters.", SHM_C_DEAD_LETTERS },
	{ "piyasa_cache_hits_total", "Cache hits (L1 and L2).", SHM_C_CACHE_HIT },
	{ "piyasa_cache_misses_total", "Cache misses.", SHM_C_CACHE_MISS },
	{ "piyasa_redis_errors_total", "Redis command or connection errors.", SHM_C_REDIS_ERRORS },
	{ "piyasa_pg_errors_total", "PostgreSQL query or connection errors.", SHM_C_PG_ERRORS },
	{ "piyasa_scheduled_total", "Speak jobs queued by the bots' scheduler.", SHM_C_SCHEDULED },
	{ "piyasa_capped_bot_total", "Messages held back by a bot's hourly cap.", SHM_C_CAP_BOT },
	{ "piyasa_capped_chat_total", "Messages held back by a chat's per-minute cap.", SHM_C_CAP_CHAT },
	{ "piyasa_dedup_exact_total", "Drafts equal to one of the bot's recent messages.",
	  SHM_C_DEDUP_EXACT },
	{ "piyasa_dedup_semantic_total", "Drafts too similar to a recent message (embeddings).",
	  SHM_C_DEDUP_SEMANTIC },
	{ "piyasa_dedup_skipped_total", "Messages skipped after the paraphrase attempts.",
	  SHM_C_DEDUP_SKIPPED },
	{ "piyasa_filtered_total", "Drafts dropped by the content filter.", SHM_C_FILTERED },
	{ "piyasa_guard_rejected_total", "Drafts the consistency guard refused.", SHM_C_GUARD_REJECTED },
	{ "piyasa_reactions_total", "Emoji-only replies.", SHM_C_REACTIONS },
	{ "piyasa_human_messages_total", "Human messages stored.", SHM_C_HUMAN_STORED },
	{ "piyasa_human_replies_total", "Reply jobs queued for human messages.", SHM_C_HUMAN_REPLIES },
	{ "piyasa_updates_total", "Telegram updates received by the pollers.", SHM_C_UPDATES },
	{ "piyasa_news_used_total", "Messages that carried a news headline.", SHM_C_NEWS_USED },
	{ "piyasa_memories_written_total", "Memories written by memorize jobs.", SHM_C_MEMORIES },
	{ "piyasa_typing_total", "Typing indicators sent.", SHM_C_TYPING },
	{ "piyasa_own_cache_hits_total", "Own-message lists served from the worker's cache.",
	  SHM_C_OWN_HITS },
	{ "piyasa_own_cache_misses_total", "Own-message lists read from PostgreSQL.", SHM_C_OWN_MISSES },
	{ "piyasa_poll_failures_total",
	  "getUpdates polls that failed (network, HTTP status, unreadable or too large).",
	  SHM_C_POLL_FAILURES },
	{ "piyasa_drafts_kept_total", "Checked drafts stored with their job for later attempts.",
	  SHM_C_DRAFTS_KEPT },
	{ "piyasa_drafts_reused_total", "Later attempts that reused a kept draft (no LLM call).",
	  SHM_C_DRAFTS_REUSED },
	{ "piyasa_drafts_stale_total",
	  "Kept drafts dropped because the chat moved on (draft_max_age_s, draft_max_messages) "
	  "or their bot was edited since.",
	  SHM_C_DRAFTS_STALE },
	{ "piyasa_llm_budget_waits_total",
	  "LLM calls held because a daily token budget (provider, bot, chat) was spent.",
	  SHM_C_BUDGET_WAITS },
	{ "piyasa_llm_budget_skips_total",
	  "Jobs skipped because a daily token budget was spent (budget_exhausted_action skip).",
	  SHM_C_BUDGET_SKIPS },
	{ "piyasa_llm_paced_waits_total",
	  "LLM calls held by the fleet's rpm or tpm, or a provider's x-ratelimit pause.",
	  SHM_C_LLM_PACED_WAITS },
	{ "piyasa_llm_ratelimit_pauses_total",
	  "Fleet-wide pauses a provider's x-ratelimit-* headers asked for.", SHM_C_LLM_PACED },
};

static void write_jobs(FILE *f, const struct snap *s)
{
	static const char *const outcomes[SHM_OUT_COUNT] = { "sent", "failed", "unknown", "retry",
							     "skipped" };

	family(f, "piyasa_jobs_total", "counter", "Jobs finished, by kind and outcome.");
	for (int k = 0; k < JOB_KIND_COUNT && k < 3; k++)
		for (int o = 0; o < SHM_OUT_COUNT; o++)
			fprintf(f, "piyasa_jobs_total{kind=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
				job_kind_name((enum job_kind)k), outcomes[o], s->total.jobs[k][o]);
}

static void write_plain_counters(FILE *f, const struct snap *s)
{
	for (size_t i = 0; i < sizeof plain_counters / sizeof plain_counters[0]; i++) {
		family(f, plain_counters[i].name, "counter", plain_counters[i].help);
		fprintf(f, "%s %" PRIu64 "\n", plain_counters[i].name,
			s->total.counters[plain_counters[i].c]);
	}
}

static void write_telegram(FILE *f, const struct snap *s)
{
	static const char *const outcomes[] = { "ok", "429", "4xx", "5xx", "timeout", "neterr" };

	family(f, "piyasa_telegram_calls_total", "counter", "Telegram Bot API calls by outcome.");
	for (int i = 0; i < 6; i++)
		fprintf(f, "piyasa_telegram_calls_total{outcome=\"%s\"} %" PRIu64 "\n", outcomes[i],
			s->total.counters[SHM_C_TG_OK + i]);
}

/* What spends a job's attempts (docs/GUARANTEES.md): a failed try, by what
 * failed, apart from a takeover (its worker never ended the lease). */
static void write_tries(FILE *f, const struct snap *s)
{
	static const char *const kinds[] = { "llm", "telegram", "step" };

	family(f, "piyasa_job_failures_total", "counter",
	       "Tries handed back as failed (they count towards max_attempts), by what failed.");
	for (int i = 0; i < 3; i++)
		fprintf(f, "piyasa_job_failures_total{kind=\"%s\"} %" PRIu64 "\n", kinds[i],
			s->total.counters[SHM_C_FAIL_LLM + i]);
	family(f, "piyasa_job_takeovers_total", "counter",
	       "Leases taken back from a worker that never ended them (killed, hung, cut off "
	       "from Redis); bounded by retry_max_takeovers.");
	fprintf(f, "piyasa_job_takeovers_total %" PRIu64 "\n", s->total.counters[SHM_C_TAKEOVERS]);
}

static int nproviders(const struct snap *s)
{
	int n = s->cfg.nproviders;

	return n < SHM_MAX_PROVIDERS ? n : SHM_MAX_PROVIDERS;
}

static void write_llm_calls(FILE *f, const struct snap *s)
{
	static const char *const outcomes[] = { "ok", "429", "5xx", "timeout", "error" };

	family(f, "piyasa_llm_calls_total", "counter", "LLM API calls by provider and outcome.");
	for (int p = 0; p < nproviders(s); p++)
		for (int o = 0; o < 5; o++) {
			fputs("piyasa_llm_calls_total{provider=\"", f);
			label_value(f, s->cfg.providers[p]);
			fprintf(f, "\",outcome=\"%s\"} %" PRIu64 "\n", outcomes[o],
				s->total.pcounters[p][SHM_P_CALLS_OK + o]);
		}
	/* For the budget alert: daily_tokens is the fleet's (worker/calls/budget.c). */
	family(f, "piyasa_llm_daily_tokens_limit", "gauge",
	       "Tokens the fleet may use a UTC day per provider (daily_tokens; 0 = unlimited).");
	for (int p = 0; p < nproviders(s); p++) {
		fputs("piyasa_llm_daily_tokens_limit{provider=\"", f);
		label_value(f, s->cfg.providers[p]);
		fprintf(f, "\"} %lld\n", s->cfg.daily_tokens[p]);
	}
	{
		static const char *const reasons[] = { "draft", "paraphrase", "guard", "memorize",
						       "embeddings" };
		family(f, "piyasa_llm_requests_total", "counter",
		       "LLM API requests sent, by what they are for.");
		for (int r = 0; r < 5; r++)
			fprintf(f, "piyasa_llm_requests_total{reason=\"%s\"} %" PRIu64 "\n",
				reasons[r], s->total.counters[SHM_C_LLM_DRAFT + r]);
		family(f, "piyasa_llm_completions_total", "counter",
		       "LLM completions answered (what a provider bills), by what they are for.");
		for (int r = 0; r < 4; r++)
			fprintf(f, "piyasa_llm_completions_total{reason=\"%s\"} %" PRIu64 "\n",
				reasons[r], s->total.counters[SHM_C_LLM_DONE_DRAFT + r]);
	}
	family(f, "piyasa_llm_tokens_total", "counter", "LLM tokens used, by provider and type.");
	for (int p = 0; p < nproviders(s); p++)
		for (int t = 0; t < 2; t++) {
			fputs("piyasa_llm_tokens_total{provider=\"", f);
			label_value(f, s->cfg.providers[p]);
			fprintf(f, "\",type=\"%s\"} %" PRIu64 "\n", t ? "completion" : "prompt",
				s->total.pcounters[p][SHM_P_PROMPT_TOKENS + t]);
		}
}

/* --- gauges --- */

static void write_gauge_sums(FILE *f, const struct snap *s)
{
	static const struct {
		const char *name, *help;
		enum shm_gauge g;
	} sums[] = {
		{ "piyasa_leased_jobs", "Jobs under lease now.", SHM_G_LEASED },
		{ "piyasa_delayed_jobs", "Jobs waiting in the delayed sets.", SHM_G_DELAYED },
		{ "piyasa_inflight_jobs", "Jobs running in the workers now.", SHM_G_INFLIGHT },
		{ "piyasa_bots", "Bots owned by the running workers.", SHM_G_BOTS },
	};
	static const char *const prio[] = { "high", "normal", "low" };

	family(f, "piyasa_queue_depth", "gauge", "Jobs waiting in the queues, by priority.");
	for (int i = 0; i < 3; i++)
		fprintf(f, "piyasa_queue_depth{priority=\"%s\"} %" PRId64 "\n", prio[i],
			s->gauge_sum[SHM_G_QUEUE_HIGH + i]);
	for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++) {
		family(f, sums[i].name, "gauge", sums[i].help);
		fprintf(f, "%s %" PRId64 "\n", sums[i].name, s->gauge_sum[sums[i].g]);
	}
}

static int running(const struct snap *s, int i)
{
	return s->w[i].v.pid != 0;
}

static int up(const struct snap *s, int i)
{
	return running(s, i) && s->w[i].state == SHM_READY;
}

/* One series per state, 1 for the state the breaker is in (Prometheus's way
 * for an enum): `== 1` selects, sum by state counts, no magic numbers. */
static const char *const breaker_states[] = { "closed", "open", "half_open" };

static void breaker_series(FILE *f, const char *name, const char *provider, int worker, int64_t v)
{
	for (int st = 0; st < 3; st++) {
		fprintf(f, "%s{", name);
		if (provider) {
			fputs("provider=\"", f);
			label_value(f, provider);
			fputs("\",", f);
		}
		fprintf(f, "state=\"%s\",worker=\"%d\"} %d\n", breaker_states[st], worker, v == st);
	}
}

static void write_breakers(FILE *f, const struct snap *s)
{
	family(f, "piyasa_telegram_breaker_state", "gauge",
	       "Telegram API circuit breaker per worker: 1 for its state (closed, open, "
	       "half_open).");
	for (int i = 0; i < s->seen; i++)
		if (running(s, i))
			breaker_series(f, "piyasa_telegram_breaker_state", NULL, i,
				       s->w[i].gauges[SHM_G_TG_BREAKER]);
	family(f, "piyasa_llm_breaker_state", "gauge",
	       "LLM provider circuit breaker per worker: 1 for its state (closed, open, "
	       "half_open).");
	for (int i = 0; i < s->seen; i++) {
		if (!running(s, i))
			continue;
		for (int p = 0; p < nproviders(s); p++)
			breaker_series(f, "piyasa_llm_breaker_state", s->cfg.providers[p], i,
				       s->w[i].pbreaker[p]);
	}
}

static int not_running(const struct snap *s, int i)
{
	return !running(s, i);
}

static int not_reporting(const struct snap *s, int i)
{
	return snap_heartbeat_age(s, i) < 0;
}

static double v_up(const struct snap *s, int i)
{
	return up(s, i);
}
static double v_restarts(const struct snap *s, int i)
{
	return s->w[i].v.restarts;
}
static double v_crash(const struct snap *s, int i)
{
	return s->w[i].v.crash_loop;
}
static double v_age(const struct snap *s, int i)
{
	return snap_heartbeat_age(s, i) / 1e3;
}
static double v_lag(const struct snap *s, int i)
{
	return s->w[i].gauges[SHM_G_LOOP_LAG_US] / 1e6;
}
static double v_redis(const struct snap *s, int i)
{
	return s->w[i].gauges[SHM_G_REDIS_OK];
}
static double v_pg(const struct snap *s, int i)
{
	return s->w[i].gauges[SHM_G_PG_OK];
}

static const struct {
	const char *name, *type, *help;
	double (*value)(const struct snap *, int);
	int (*skip)(const struct snap *, int);
} worker_series[] = {
	{ "piyasa_worker_up", "gauge", "1 while the worker's process runs and its slot says READY.",
	  v_up, NULL },
	{ "piyasa_worker_restarts_total", "counter",
	  "Respawns of this worker index since the supervisor started.", v_restarts, NULL },
	{ "piyasa_worker_crash_loop", "gauge",
	  "1 while the worker keeps exiting soon after each start.", v_crash, NULL },
	{ "piyasa_worker_heartbeat_age_seconds", "gauge", "Age of the worker's last heartbeat.",
	  v_age, not_reporting },
	{ "piyasa_loop_lag_seconds", "gauge", "Event loop lag the worker measured.", v_lag, not_running },
	{ "piyasa_worker_redis_up", "gauge", "1 when the worker's Redis link is up.", v_redis,
	  not_running },
	{ "piyasa_worker_pg_up", "gauge", "1 when the worker's PostgreSQL link is up.", v_pg,
	  not_running },
};

/* %.10g: exact for every uint32 (restarts_total is a counter; %.6g would turn
 * 1234567 restarts into 1.23457e+06), and ms resolution for ages below 100 days. */
static void write_workers(FILE *f, const struct snap *s)
{
	for (size_t k = 0; k < sizeof worker_series / sizeof worker_series[0]; k++) {
		family(f, worker_series[k].name, worker_series[k].type, worker_series[k].help);
		for (int i = 0; i < s->seen; i++)
			if (!worker_series[k].skip || !worker_series[k].skip(s, i))
				fprintf(f, "%s{worker=\"%d\"} %.10g\n", worker_series[k].name, i,
					worker_series[k].value(s, i));
	}
}

/* --- histograms --- */

/* One histogram's series; label is "" or `name="value",` (escaped by the caller). */
static void hist_series(FILE *f, const char *name, const char *label, const struct shm_hist_data *h)
{
	uint64_t cum = 0;

	for (int b = 0; b < SHM_NBUCKETS; b++) {
		cum += h->buckets[b];
		if (isinf(shm_bucket_bounds[b]))
			fprintf(f, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, label, cum);
		else
			fprintf(f, "%s_bucket{%sle=\"%g\"} %" PRIu64 "\n", name, label,
				shm_bucket_bounds[b], cum);
	}
	if (*label) {
		char l[256];
		size_t n = strlen(label);

		/* "{x=\"y\"}" for _sum and _count: the label without its trailing comma. */
		snprintf(l, sizeof l, "{%.*s}", (int)(n - 1), label);
		fprintf(f, "%s_sum%s %.6f\n%s_count%s %" PRIu64 "\n", name, l,
			(double)h->sum_us / 1e6, name, l, cum);
	} else {
		fprintf(f, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, (double)h->sum_us / 1e6,
			name, cum);
	}
}

static void write_hist(FILE *f, const char *name, const char *help, const struct shm_hist_data *h)
{
	family(f, name, "histogram", help);
	hist_series(f, name, "", h);
}

static void write_histograms(FILE *f, const struct snap *s)
{
	char label[160], *lp;
	size_t ln;
	FILE *lf;

	family(f, "piyasa_job_duration_seconds", "histogram", "From lease to ack, by job kind.");
	for (int k = 0; k < JOB_KIND_COUNT && k < 3; k++) {
		snprintf(label, sizeof label, "kind=\"%s\",", job_kind_name((enum job_kind)k));
		hist_series(f, "piyasa_job_duration_seconds", label, &s->total.job_hist[k]);
	}
	write_hist(f, "piyasa_enqueue_to_sent_seconds", "From enqueue to the message sent.",
		   &s->total.hist[SHM_H_E2E_SECONDS]);
	family(f, "piyasa_llm_request_duration_seconds", "histogram",
	       "LLM API call duration, by provider.");
	for (int p = 0; p < nproviders(s); p++) {
		/* Provider names are the operator's: escaped like every label value. */
		lp = NULL;
		if (!(lf = open_memstream(&lp, &ln)))
			continue;
		fputs("provider=\"", lf);
		label_value(lf, s->cfg.providers[p]);
		fputs("\",", lf);
		fclose(lf);
		hist_series(f, "piyasa_llm_request_duration_seconds", lp, &s->total.llm_hist[p]);
		free(lp);
	}
	write_hist(f, "piyasa_telegram_request_duration_seconds", "Telegram Bot API call duration.",
		   &s->total.hist[SHM_H_TG_SECONDS]);
	write_hist(f, "piyasa_queue_wait_seconds", "From a first attempt being due to its lease.",
		   &s->total.hist[SHM_H_QUEUE_SECONDS]);
	write_hist(f, "piyasa_outbox_claim_seconds",
		   "From asking for the outbox claim (sending) to its commit.",
		   &s->total.hist[SHM_H_CLAIM_SECONDS]);
	write_hist(f, "piyasa_job_finish_seconds",
		   "From Telegram's answer to the outcome written and the job acked.",
		   &s->total.hist[SHM_H_FINISH_SECONDS]);
	write_hist(f, "piyasa_api_request_duration_seconds",
		   "Admin API: from a request's arrival to its answer queued.",
		   &s->total.hist[SHM_H_API_SECONDS]);
}

/* --- process_* (what /proc says of the supervisor and each running worker) --- */

static const struct {
	const char *name, *type, *help;
	size_t off;
} process_series[] = {
	{ "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
	  offsetof(struct procstat, cpu_seconds) },
	{ "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
	  offsetof(struct procstat, resident_bytes) },
	{ "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
	  offsetof(struct procstat, virtual_bytes) },
	{ "process_open_fds", "gauge", "Number of open file descriptors.",
	  offsetof(struct procstat, open_fds) },
	{ "process_max_fds", "gauge", "Maximum number of open file descriptors.",
	  offsetof(struct procstat, max_fds) },
	{ "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
	  offsetof(struct procstat, start_time) },
};

static void write_processes(FILE *f, const struct snap *s)
{
	struct procstat *ps = calloc((size_t)s->seen + 1, sizeof *ps);
	int *ok = calloc((size_t)s->seen + 1, sizeof *ok);

	if (!ps || !ok) {
		free(ps);
		free(ok);
		return;
	}
	/* Index 0 the supervisor, i + 1 worker i: each read once for all series. */
	ok[0] = procstat_read(s->pid, &ps[0]) == 0;
	for (int i = 0; i < s->seen; i++)
		ok[i + 1] = running(s, i) && procstat_read(s->w[i].v.pid, &ps[i + 1]) == 0;
	for (size_t k = 0; k < sizeof process_series / sizeof process_series[0]; k++) {
		family(f, process_series[k].name, process_series[k].type, process_series[k].help);
		for (int i = 0; i <= s->seen; i++) {
			double v = *(const double *)((const char *)&ps[i] + process_series[k].off);

			if (!ok[i])
				continue;
			if (i == 0)
				fprintf(f, "%s{process=\"supervisor\"} %.10g\n",
					process_series[k].name, v);
			else
				fprintf(f, "%s{process=\"worker\",worker=\"%d\"} %.10g\n",
					process_series[k].name, i - 1, v);
		}
	}
	free(ps);
	free(ok);
}

static void write_supervisor(FILE *f, const struct snap *s)
{
	family(f, "piyasa_build_info", "gauge", "The supervisor's version.");
	fprintf(f, "piyasa_build_info{version=\"%s\"} 1\n", PIYASA_VERSION);
	family(f, "piyasa_workers", "gauge", "Size of the fleet the supervisor runs.");
	fprintf(f, "piyasa_workers %d\n", s->count);
	family(f, "piyasa_supervisor_uptime_seconds", "gauge", "Seconds since the supervisor started.");
	fprintf(f, "piyasa_supervisor_uptime_seconds %.3f\n", (s->now_ms - s->start_ms) / 1e3);
	family(f, "piyasa_supervisor_reloads_total", "counter", "Configuration reloads (SIGHUP).");
	fprintf(f, "piyasa_supervisor_reloads_total %" PRIu64 "\n", s->reloads);
	family(f, "piyasa_supervisor_reloads_refused_total", "counter",
	       "Reloads (SIGHUP) refused: the file was bad, the running configuration stayed.");
	fprintf(f, "piyasa_supervisor_reloads_refused_total %" PRIu64 "\n", s->reloads_refused);
	family(f, "piyasa_supervisor_resizes_total", "counter", "Fleet resizes started.");
	fprintf(f, "piyasa_supervisor_resizes_total %" PRIu64 "\n", s->resizes);
}

/* The admin API's process (its slot): answers by status class, refusals and
 * logins (zeros when [api] is off, so a dashboard's queries hold); up and
 * streams only when it is configured. */
static void write_api(FILE *f, const struct snap *s)
{
	static const char *const classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };
	const struct snap_worker *w = &s->w[SHM_API_SLOT];

	family(f, "piyasa_api_requests_total", "counter",
	       "Admin API answers by status class (the console's files and streams included).");
	for (int i = 0; i < 5; i++)
		fprintf(f, "piyasa_api_requests_total{code=\"%s\"} %" PRIu64 "\n", classes[i],
			s->total.counters[SHM_C_API_1XX + i]);
	family(f, "piyasa_api_rate_limited_total", "counter",
	       "Admin API requests refused with 429 by a rate limit (logins included).");
	fprintf(f, "piyasa_api_rate_limited_total %" PRIu64 "\n", s->total.counters[SHM_C_API_429]);
	family(f, "piyasa_api_logins_total", "counter",
	       "Admin API logins: sessions opened, and refused (name, password or TOTP code).");
	fprintf(f, "piyasa_api_logins_total{result=\"ok\"} %" PRIu64 "\n",
		s->total.counters[SHM_C_API_LOGINS]);
	fprintf(f, "piyasa_api_logins_total{result=\"failed\"} %" PRIu64 "\n",
		s->total.counters[SHM_C_API_LOGINS_FAILED]);
	if (!s->cfg.api_enabled) /* no series: an alert on it stays quiet */
		return;
	family(f, "piyasa_api_up", "gauge", "1 when the admin API process runs and is ready.");
	fprintf(f, "piyasa_api_up %d\n", up(s, SHM_API_SLOT));
	family(f, "piyasa_api_streams", "gauge", "Live streams (SSE) the admin API holds open.");
	fprintf(f, "piyasa_api_streams %" PRId64 "\n",
		running(s, SHM_API_SLOT) ? w->gauges[SHM_G_API_STREAMS] : 0);
}

char *metrics_prometheus(const struct snap *s, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	write_jobs(f, s);
	write_plain_counters(f, s);
	write_telegram(f, s);
	write_tries(f, s);
	write_api(f, s);
	write_llm_calls(f, s);
	write_gauge_sums(f, s);
	write_breakers(f, s);
	write_workers(f, s);
	write_histograms(f, s);
	write_supervisor(f, s);
	write_processes(f, s);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* --- /status --- */

static const char *worker_state(const struct snap *s, int i)
{
	if (running(s, i))
		return shm_state_name(s->w[i].state);
	return s->w[i].v.respawning ? "respawning" : "stopped";
}

static json_t *status_worker(const struct snap *s, int i)
{
	const struct snap_worker *w = &s->w[i];
	int64_t age = snap_heartbeat_age(s, i);

	return json_pack("{s:i, s:i, s:s, s:I, s:o, s:o, s:b}", "index", i, "pid", (int)w->v.pid,
			 "state", worker_state(s, i), "restarts", (json_int_t)w->v.restarts,
			 "heartbeat_age_ms", age >= 0 ? json_integer(age) : json_null(), "up_s",
			 running(s, i) ? json_real((s->now_ms - w->v.spawned_ms) / 1e3) : json_null(),
			 "crash_loop", w->v.crash_loop);
}

static json_t *status_config(const struct snap *s)
{
	json_t *prov = json_array();

	for (int p = 0; p < nproviders(s); p++)
		json_array_append_new(prov, json_pack("{s:s, s:s}", "name", s->cfg.providers[p],
						      "model", s->cfg.models[p]));
	return json_pack("{s:s?, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:i, s:s, s:s, s:s, s:o}",
			 "path", *s->cfg.path ? s->cfg.path : NULL, "workers", s->cfg.workers,
			 "heartbeat_ms", s->cfg.heartbeat_ms, "worker_timeout_ms",
			 s->cfg.worker_timeout_ms, "drain_timeout_ms", s->cfg.drain_timeout_ms,
			 "respawn_max_ms", s->cfg.respawn_max_ms, "max_inflight",
			 s->cfg.max_inflight, "http_bind", s->cfg.http_bind, "http_port",
			 s->cfg.http_port, "redis_prefix", s->cfg.redis_prefix, "log_level",
			 s->cfg.log_level, "log_format", s->cfg.log_format, "providers", prov);
}

/* The admin API's process (SHM_API_SLOT), or null when [api] is off. */
static json_t *status_api(const struct snap *s)
{
	const struct snap_worker *w = &s->w[SHM_API_SLOT];
	int64_t age = snap_heartbeat_age(s, SHM_API_SLOT);

	if (!s->cfg.api_enabled)
		return json_null();
	return json_pack("{s:s, s:i, s:s, s:I, s:o}", "listen", s->cfg.api_listen, "pid",
			 (int)w->v.pid, "state",
			 running(s, SHM_API_SLOT) ? shm_state_name(w->state)
			 : w->v.respawning        ? "respawning"
						  : "stopped",
			 "restarts", (json_int_t)w->v.restarts, "heartbeat_age_ms",
			 age >= 0 ? json_integer(age) : json_null());
}

char *metrics_status_json(const struct snap *s)
{
	json_t *workers = json_array(), *doc;
	char *text;
	int n = s->seen > s->count ? s->seen : s->count;

	for (int i = 0; i < n; i++)
		json_array_append_new(workers, status_worker(s, i));
	doc = json_pack("{s:s, s:i, s:f, s:s, s:i, s:o, s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:o}",
			"version", PIYASA_VERSION, "pid", s->pid, "uptime_s",
			(s->now_ms - s->start_ms) / 1e3, "phase", s->phase, "count", s->count,
			"workers", workers, "queue_depth", "high",
			(json_int_t)s->gauge_sum[SHM_G_QUEUE_HIGH], "normal",
			(json_int_t)s->gauge_sum[SHM_G_QUEUE_NORMAL], "low",
			(json_int_t)s->gauge_sum[SHM_G_QUEUE_LOW], "reloads",
			(json_int_t)s->reloads, "reloads_refused", (json_int_t)s->reloads_refused,
			"resizes", (json_int_t)s->resizes, "config", status_config(s));
	if (!doc)
		return NULL;
	json_object_set_new(doc, "api", status_api(s));
	text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	json_decref(doc);
	return text;
}

/* --- health --- */

/* A worker younger than this whose link is not up yet is starting, not seeing
 * its service down: a worker's first connects take milliseconds, and its
 * gauges read 0 until it has published them. */
#define READY_LINK_GRACE_MS 2000
/* Worker indexes named in one "is down" reason; more are counted. */
#define READY_NAMED_MAX 16

static void append(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t n, const char *fmt, ...)
{
	size_t at = strlen(buf);
	va_list ap;

	if (at + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + at, n - at, fmt, ap);
	va_end(ap);
}

/* Whether worker i reports the link of gauge g down: it runs, is STARTING or
 * READY with a fresh heartbeat (so its gauges are current), and has had time
 * to connect. A worker whose link is down says STARTING; this says why. */
static int link_down(const struct snap *s, int i, enum shm_gauge g)
{
	const struct snap_worker *w = &s->w[i];
	int64_t age = snap_heartbeat_age(s, i);

	if (!running(s, i) || (w->state != SHM_STARTING && w->state != SHM_READY))
		return 0;
	if (age < 0 || age > s->cfg.worker_timeout_ms)
		return 0;
	if (s->now_ms - w->v.spawned_ms < READY_LINK_GRACE_MS)
		return 0;
	return w->gauges[g] != 1;
}

/* Appends "redis is down (workers 0,1,2,3)" (after a "; " when why holds a
 * reason already) when any worker reports that link down; returns how many do. */
static int service_down(const struct snap *s, enum shm_gauge g, const char *service, char *why, size_t n)
{
	int down = 0, named = 0;

	for (int i = 0; i < s->count; i++)
		down += link_down(s, i, g);
	if (!down)
		return 0;
	append(why, n, "%s%s is down (worker%s ", *why ? "; " : "", service, down > 1 ? "s" : "");
	for (int i = 0; i < s->count && named < READY_NAMED_MAX; i++)
		if (link_down(s, i, g))
			append(why, n, "%s%d", named++ ? "," : "", i);
	if (down > named)
		append(why, n, " and %d more", down - named);
	append(why, n, ")");
	return down;
}

static int worker_ready(const struct snap *s, int i, char *why, size_t n)
{
	const struct snap_worker *w = &s->w[i];
	int64_t age = snap_heartbeat_age(s, i);

	if (!running(s, i))
		snprintf(why, n, "worker %d is not running (%s)", i, worker_state(s, i));
	else if (w->state != SHM_READY)
		snprintf(why, n, "worker %d is %s", i, shm_state_name(w->state));
	else if (age > s->cfg.worker_timeout_ms)
		snprintf(why, n, "worker %d heartbeat is %" PRId64 " ms old", i, age);
	else if (w->gauges[SHM_G_REDIS_OK] != 1)
		snprintf(why, n, "worker %d: Redis is down", i);
	else if (w->gauges[SHM_G_PG_OK] != 1)
		snprintf(why, n, "worker %d: PostgreSQL is down", i);
	else
		return 1;
	return 0;
}

/* The fleet's phase first (a drain or reshard is the supervisor's own doing),
 * then a service that workers see down (the cause, ahead of the "worker N is
 * starting" it puts them in), then each worker. */
int metrics_ready(const struct snap *s, char *why, size_t n)
{
	int down;

	if (strcmp(s->phase, "running") != 0) {
		snprintf(why, n, "fleet is %s", s->phase);
		return 0;
	}
	why[0] = '\0';
	down = service_down(s, SHM_G_REDIS_OK, "redis", why, n);
	down += service_down(s, SHM_G_PG_OK, "postgresql", why, n);
	if (down)
		return 0;
	for (int i = 0; i < s->count; i++)
		if (!worker_ready(s, i, why, n))
			return 0;
	snprintf(why, n, "ok");
	return 1;
}

int metrics_live(const struct snap *s, char *why, size_t n)
{
	int64_t late = s->now_ms - s->live_ms;

	if (late > METRICS_LIVE_MAX_MS) {
		snprintf(why, n, "supervisor loop has not ticked for %" PRId64 " ms", late);
		return 0;
	}
	snprintf(why, n, "ok");
	return 1;
}
