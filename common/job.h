/* job: the job codec. A job is JSON
 *   {id, kind, bot_id, chat_id, priority, attempts, not_before, enqueued_at, payload}
 * with times in milliseconds since the epoch. Decoding checks every field, so a
 * malformed job is refused with a reason (and dead-lettered by the worker) instead
 * of crashing anything later. */
#ifndef PIYASA_JOB_H
#define PIYASA_JOB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define JOB_ID_MAX 64

enum job_kind { JOB_SPEAK, JOB_REPLY, JOB_MEMORIZE, JOB_KIND_COUNT };
enum job_prio { PRIO_HIGH, PRIO_NORMAL, PRIO_LOW, PRIO_COUNT };

struct job {
	char id[JOB_ID_MAX];
	enum job_kind kind;
	enum job_prio prio;
	int64_t bot_id;
	int64_t chat_id;
	int attempts;
	int64_t not_before;  /* ms; 0 = now */
	int64_t enqueued_at; /* ms */
	json_t *payload;     /* owned; an object, never NULL after decode */
};

/* Parse text into j (which it owns afterwards: release with job_clear).
 * Returns 0, or -1 with the reason in err; j holds nothing to free then. */
int job_decode(struct job *j, const char *text, size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Compact JSON for j, malloc'd (free it), NULL on allocation failure. */
char *job_encode(const struct job *j);

/* The n bytes of a job as leased, as a text PostgreSQL stores (dead_jobs.job):
 * the bytes themselves when they are UTF-8 without a NUL, else JOB_RAW_MARK
 * followed by their standard base64 (no JSON starts so, and no byte is lost; a
 * job that is not UTF-8 never decodes anyway). malloc'd, NULL when out of memory. */
#define JOB_RAW_MARK "base64:"
char *job_raw_text(const char *raw, size_t n);

/* Release what j owns; safe on a zeroed or cleared job. */
void job_clear(struct job *j);

/* A fresh random id (32 hex characters). */
void job_new_id(char out[JOB_ID_MAX]);

/* Milliseconds since the epoch (wall clock). */
int64_t job_now_ms(void);

const char *job_kind_name(enum job_kind k);
const char *job_prio_name(enum job_prio p);
/* -1 when the name is unknown. */
int job_kind_parse(const char *name);
int job_prio_parse(const char *name);

#endif
