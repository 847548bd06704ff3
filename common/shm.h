/* shm: the shared-memory segment between the supervisor and its workers.
 *
 * The supervisor creates one memfd segment with a slot per worker index and hands
 * the fd to every worker it spawns (as fd 3, `--shm-fd 3`). A worker writes only
 * its own slot: heartbeat, state, health, counters, gauges and histograms, with
 * relaxed atomics (no locks: a reader may see a counter one increment late, never
 * torn). The supervisor reads every slot for /metrics, /status and its watchdog.
 * A header carries a magic and a layout version; a worker refuses a segment whose
 * version differs from its own, loudly. */
#ifndef PIYASA_SHM_H
#define PIYASA_SHM_H

#include <stddef.h>
#include <stdint.h>

#define SHM_MAGIC 0x70697961u /* "piya" */
#define SHM_VERSION 8
#define SHM_MAX_WORKERS 256
#define SHM_MAX_PROVIDERS 8
/* One slot past the workers' belongs to the admin API (piyasa-api): its
 * heartbeat and state, read by the supervisor like a worker's. */
#define SHM_API_SLOT SHM_MAX_WORKERS
#define SHM_NSLOTS (SHM_MAX_WORKERS + 1)

enum shm_state { SHM_EMPTY, SHM_STARTING, SHM_READY, SHM_DRAINING, SHM_EXITED };

/* Job outcomes, per job kind (speak, reply, memorize). */
enum shm_outcome {
	SHM_OUT_SENT,    /* row became sent */
	SHM_OUT_FAILED,  /* dead-lettered (row failed) */
	SHM_OUT_UNKNOWN, /* a crash or timeout left the send in doubt: not resent */
	SHM_OUT_RETRY,   /* nacked with backoff */
	SHM_OUT_SKIPPED, /* found already terminal (a second run of a finished job) */
	SHM_OUT_COUNT
};

enum shm_counter {
	SHM_C_LEASED,      /* jobs taken from the queues */
	SHM_C_LEASES_LOST, /* ack/nack refused: another attempt owns the job */
	SHM_C_DEAD_LETTERS,
	SHM_C_TG_OK,
	SHM_C_TG_429,
	SHM_C_TG_4XX,
	SHM_C_TG_5XX,
	SHM_C_TG_TIMEOUT,
	SHM_C_TG_NETERR,
	SHM_C_CACHE_HIT,
	SHM_C_CACHE_MISS,
	SHM_C_REDIS_ERRORS,
	SHM_C_PG_ERRORS,
	/* the market chat */
	SHM_C_SCHEDULED,      /* speak jobs the scheduler queued */
	SHM_C_CAP_BOT,        /* a message held back by its bot's hourly cap */
	SHM_C_CAP_CHAT,       /* ... by its chat's per-minute cap */
	SHM_C_DEDUP_EXACT,    /* drafts equal to one of the bot's recent messages */
	SHM_C_DEDUP_SEMANTIC, /* drafts too similar (embeddings) */
	SHM_C_DEDUP_SKIPPED,  /* messages skipped after dedup_max_attempts paraphrases */
	SHM_C_FILTERED,       /* drafts dropped by the content filter */
	SHM_C_GUARD_REJECTED, /* drafts the consistency guard refused */
	SHM_C_REACTIONS,      /* emoji-only replies */
	SHM_C_HUMAN_STORED,   /* human messages stored (once each) */
	SHM_C_HUMAN_REPLIES,  /* reply jobs queued for humans */
	SHM_C_UPDATES,        /* Telegram updates received */
	SHM_C_NEWS_USED,      /* messages that carried a headline */
	SHM_C_MEMORIES,       /* memories written by memorize jobs */
	SHM_C_TYPING,         /* sendChatAction calls */
	SHM_C_OWN_HITS,       /* a bot's own recent messages found in the worker's cache */
	SHM_C_OWN_MISSES,     /* ... read from PostgreSQL */
	SHM_C_POLL_FAILURES,  /* getUpdates polls that failed (network, HTTP, too large) */
	/* LLM requests by what they are for, in task_llm_reason's order, then
	 * the embeddings' requests */
	SHM_C_LLM_DRAFT,
	SHM_C_LLM_PARAPHRASE,
	SHM_C_LLM_GUARD,
	SHM_C_LLM_MEMORIZE,
	SHM_C_LLM_EMBEDDINGS,
	/* ... and the completions answered (what a provider bills), same order */
	SHM_C_LLM_DONE_DRAFT,
	SHM_C_LLM_DONE_PARAPHRASE,
	SHM_C_LLM_DONE_GUARD,
	SHM_C_LLM_DONE_MEMORIZE,
	SHM_C_DRAFTS_KEPT,     /* checked drafts stored with their job */
	SHM_C_DRAFTS_REUSED,   /* later attempts that sent a kept draft (no LLM call) */
	SHM_C_DRAFTS_STALE,    /* kept drafts dropped: the chat moved on */
	SHM_C_BUDGET_WAITS,    /* LLM calls held: a daily token budget was spent */
	SHM_C_BUDGET_SKIPS,    /* jobs skipped: a daily token budget was spent */
	SHM_C_LLM_PACED_WAITS, /* LLM calls held by the fleet's rpm, tpm or a provider's pause */
	SHM_C_LLM_PACED,       /* pauses a provider's x-ratelimit-* headers asked for */
	SHM_C_FAIL_LLM,        /* tries handed back as failed: every LLM provider failed */
	SHM_C_FAIL_TELEGRAM,   /* ... Telegram refused the send before taking it */
	SHM_C_FAIL_STEP,       /* ... another step failed while our services were up */
	SHM_C_TAKEOVERS,       /* leases taken back from a worker that never ended them */
	/* the admin API's (its slot only): answers by status class, in order */
	SHM_C_API_1XX,
	SHM_C_API_2XX,
	SHM_C_API_3XX,
	SHM_C_API_4XX,
	SHM_C_API_5XX,
	SHM_C_API_429,           /* ... of which refused by a rate limit (logins too) */
	SHM_C_API_LOGINS,        /* sessions opened */
	SHM_C_API_LOGINS_FAILED, /* wrong name, password or TOTP code */
	SHM_C_COUNT
};

/* Per LLM provider (index in the config's provider list). */
enum shm_pcounter {
	SHM_P_CALLS_OK,
	SHM_P_CALLS_429,
	SHM_P_CALLS_5XX,
	SHM_P_CALLS_TIMEOUT,
	SHM_P_CALLS_ERROR,
	SHM_P_PROMPT_TOKENS,
	SHM_P_COMPLETION_TOKENS,
	SHM_P_COUNT
};

enum shm_gauge {
	SHM_G_QUEUE_HIGH,
	SHM_G_QUEUE_NORMAL,
	SHM_G_QUEUE_LOW,
	SHM_G_LEASED,
	SHM_G_DELAYED,
	SHM_G_INFLIGHT,
	SHM_G_LOOP_LAG_US,
	SHM_G_BOTS,
	SHM_G_REDIS_OK,
	SHM_G_PG_OK,
	SHM_G_TG_BREAKER,  /* 0 closed, 1 open, 2 half-open (Telegram as a whole) */
	SHM_G_API_STREAMS, /* the admin API's live streams open (its slot only) */
	SHM_G_COUNT
};

enum shm_hist {
	SHM_H_JOB_SECONDS, /* lease to ack */
	SHM_H_E2E_SECONDS, /* enqueued_at to sent */
	SHM_H_LLM_SECONDS,
	SHM_H_TG_SECONDS,
	SHM_H_QUEUE_SECONDS,  /* due (enqueued_at or not_before) to lease */
	SHM_H_CLAIM_SECONDS,  /* the outbox claim written: asked to committed */
	SHM_H_FINISH_SECONDS, /* Telegram's answer to the outcome written and acked */
	SHM_H_API_SECONDS,    /* the admin API: a request's arrival to its answer queued */
	SHM_H_COUNT
};

#define SHM_NBUCKETS 16 /* upper bounds in shm_bucket_bounds, the last is +Inf */
extern const double shm_bucket_bounds[SHM_NBUCKETS];

struct shm_hist_data {
	uint64_t buckets[SHM_NBUCKETS]; /* not cumulative; the exporter sums */
	uint64_t count;
	uint64_t sum_us;
};

struct shm_slot {
	int32_t pid;
	int32_t state;        /* enum shm_state */
	int64_t heartbeat_ms; /* CLOCK_MONOTONIC, written by the worker */
	int64_t started_ms;   /* CLOCK_MONOTONIC */
	uint64_t jobs[3][SHM_OUT_COUNT];
	uint64_t counters[SHM_C_COUNT];
	uint64_t pcounters[SHM_MAX_PROVIDERS][SHM_P_COUNT];
	int64_t pbreaker[SHM_MAX_PROVIDERS]; /* 0 closed, 1 open, 2 half-open */
	int64_t gauges[SHM_G_COUNT];
	struct shm_hist_data hist[SHM_H_COUNT];
	/* The same durations with a label: LLM calls by provider, jobs by kind
	 * (speak, reply, memorize), so a dashboard can split them. */
	struct shm_hist_data llm_hist[SHM_MAX_PROVIDERS];
	struct shm_hist_data job_hist[3];
	/* The API's slot only: a fleet size asked for through the API. ask_seq
	 * grows by one per request, so the supervisor acts on each one once. */
	int64_t ask_workers;
	uint64_t ask_seq;
};

struct shm;

/* Supervisor: a new zeroed segment (memfd) with nslots slots. NULL with err. */
struct shm *shm_create(int nslots, char *err, size_t errlen);
/* Worker: map the segment behind fd; checks magic and version. NULL with err. */
struct shm *shm_attach(int fd, char *err, size_t errlen);
void shm_free(struct shm *s); /* unmaps; closes the fd it owns */
int shm_fd(const struct shm *s);
int shm_nslots(const struct shm *s);
struct shm_slot *shm_slot(struct shm *s, int index); /* NULL when out of range */

int64_t shm_now_ms(void); /* CLOCK_MONOTONIC in ms */

/* Writers (worker side); all relaxed atomics, safe with a concurrent reader. */
void shm_heartbeat(struct shm_slot *sl);
void shm_set_state(struct shm_slot *sl, enum shm_state st);
void shm_count(struct shm_slot *sl, enum shm_counter c, uint64_t n);
void shm_job(struct shm_slot *sl, int kind, enum shm_outcome o);
void shm_pcount(struct shm_slot *sl, int provider, enum shm_pcounter c, uint64_t n);
void shm_gauge(struct shm_slot *sl, enum shm_gauge g, int64_t v);
/* The breaker state of LLM provider p (0 closed, 1 open, 2 half-open). */
void shm_set_breaker(struct shm_slot *sl, int provider, int state);
void shm_observe(struct shm_slot *sl, enum shm_hist h, double seconds);
/* An LLM call of provider p, a job of kind k: SHM_H_LLM_SECONDS (or
 * SHM_H_JOB_SECONDS) and the labelled histogram, in one call. */
void shm_observe_llm(struct shm_slot *sl, int provider, double seconds);
void shm_observe_job(struct shm_slot *sl, int kind, double seconds);

/* The API asks the supervisor for n workers (its slot only): n is stored,
 * then ask_seq bumped, both atomically, so a reader that sees the new seq
 * sees n. */
void shm_ask_workers(struct shm_slot *sl, int n);
/* The supervisor's side: the last request's sequence number (0: none) and n. */
uint64_t shm_asked_workers(const struct shm_slot *sl, int *n);

/* Reader: an atomic 64-bit load of any field above. */
uint64_t shm_load(const uint64_t *p);

/* Added for the supervisor (and tests); the declarations above are unchanged.
 *
 * shm_attach takes ownership of fd on success (shm_free closes it); on failure fd
 * stays open and the caller's. shm_set_state(sl, SHM_STARTING) on a slot whose
 * pid is 0 also stamps pid, and started_ms and heartbeat_ms where they are 0, so
 * a worker's first call fills in its identity; later calls change the state only. */

/* Relaxed atomic loads of the signed fields (pid, state, heartbeat, gauges). */
int64_t shm_load_i64(const int64_t *p);
int32_t shm_load_i32(const int32_t *p);

/* "empty", "starting", "ready", "draining", "exited", or "unknown". */
const char *shm_state_name(int state);

/* Supervisor: zero every field of a slot whose worker has exited, with atomic
 * stores (a reader may be looking at it). */
void shm_reset(struct shm_slot *sl);

/* acc += the counters and histograms of sl (jobs, counters, pcounters, hist);
 * pid, state, times, gauges and breaker states are left alone. sl is read with
 * atomic loads; acc is plain memory owned by the caller. */
void shm_fold(struct shm_slot *acc, const struct shm_slot *sl);

#endif
