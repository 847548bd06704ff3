/* log: one logging path for every binary.
 *
 * Lines go to journald with structured fields (PRIORITY, CODE_FILE, CODE_LINE
 * and CODE_FUNC of the call site, WORKER, BOT_ID, CHAT_ID, JOB_ID, PROVIDER,
 * ERRNO, MESSAGE_ID; a field without a value is left out) when JOURNAL_STREAM
 * says stderr is the journal or the format is "journal"; otherwise to stderr as
 * text or JSON lines (timestamps to the millisecond). A message repeated within
 * a second is counted instead of printed again. Never pass a URL that holds a
 * bot token.
 *
 * The events an operator searches for carry a MESSAGE_ID (LOG_ID_*), explained
 * in the journal's catalog (systemd/piyasa.catalog): `journalctl
 * MESSAGE_ID=...`, `journalctl -x`. */
#ifndef PIYASA_LOG_H
#define PIYASA_LOG_H

#include <stdint.h>
#include <syslog.h>

/* Optional per-line context; zero fields are left out. */
struct log_ctx {
	int64_t bot_id;
	int64_t chat_id;
	const char *job_id;
	const char *provider;
};

/* MESSAGE_IDs (128-bit, as `journalctl --new-id128` makes them) of the events
 * in the catalog; keep them in step with systemd/piyasa.catalog. */
#define LOG_ID_CRASH_LOOP "c4c534d4eb8e4b57be3ba795a1264f24"
#define LOG_ID_RELOAD_REFUSED "f91ee27268f44f71923ed9f26901285d"
#define LOG_ID_WORKER_KILLED "acdd2a02831d43e68662bdf61f12e23b"
#define LOG_ID_BREAKER_OPENED "1729d1776d4b42eb885b45efc5c211e5"
#define LOG_ID_RELOADED "b3fab088a51a4839ba480b5951eafa40"

/* Where a line was logged from (the macros below fill it). */
struct log_site {
	const char *file;
	int line;
	const char *func;
	const char *msgid; /* NULL or a LOG_ID_* */
	int errnum;        /* ERRNO= (an errno value), 0 when none */
};

/* Set the identity and sinks. format: "auto", "text", "json" or "journal";
 * level: "debug", "info", "notice", "warning" or "error". Returns 0, or -1 on an
 * unknown name (the old settings stay). Safe to call again on reload. */
int log_init(const char *ident, const char *format, const char *level);

/* The worker index added to every line (-1: none). */
void log_set_worker(int index);

/* 1 when a line of this priority would be written: check before costly formatting. */
int log_enabled(int prio);

void log_msg_at(const struct log_site *site, int prio, const struct log_ctx *ctx, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

/* The journal fields of one line, "NAME=value" each, into fields (max of them,
 * each at most LOG_FIELD_MAX bytes): their count. What the journal sink sends,
 * for tests. */
#define LOG_FIELD_MAX 1100
int log_journal_fields(const struct log_site *site, int prio, const struct log_ctx *ctx,
		       const char *msg, char (*fields)[LOG_FIELD_MAX], int max);

#define LOG_SITE(id) (&(const struct log_site){ __FILE__, __LINE__, __func__, (id), 0 })
#define LOG_SITE_ERRNO(err) (&(const struct log_site){ __FILE__, __LINE__, __func__, NULL, (err) })
#define log_msg(prio, ctx, ...) log_msg_at(LOG_SITE(NULL), (prio), (ctx), __VA_ARGS__)
/* An event of the catalog: LOG_ID_* (or NULL when this line is not one), its
 * context (or NULL) and its line. */
#define log_event(id, prio, ctx, ...) log_msg_at(LOG_SITE(id), (prio), (ctx), __VA_ARGS__)
/* A failed call: the line and ERRNO=err. */
#define log_errno(prio, err, ...) log_msg_at(LOG_SITE_ERRNO(err), (prio), NULL, __VA_ARGS__)

/* Parse a level name into a syslog priority; -1 when unknown. */
int log_level_parse(const char *name);

#define log_error(...) log_msg(LOG_ERR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, NULL, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...)                                         \
	do {                                                   \
		if (log_enabled(LOG_DEBUG))                    \
			log_msg(LOG_DEBUG, NULL, __VA_ARGS__); \
	} while (0)

#endif
