/* log: one logging path for every binary.
 *
 * Lines go to journald with structured fields (PRIORITY, WORKER, PID, BOT_ID,
 * CHAT_ID, JOB_ID, PROVIDER) when JOURNAL_STREAM says stderr is the journal or
 * the format is "journal"; otherwise to stderr as text or JSON lines. A message
 * repeated within a second is counted instead of printed again. Never pass a URL
 * that holds a bot token. */
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

/* Set the identity and sinks. format: "auto", "text", "json" or "journal";
 * level: "debug", "info", "notice", "warning" or "error". Returns 0, or -1 on an
 * unknown name (the old settings stay). Safe to call again on reload. */
int log_init(const char *ident, const char *format, const char *level);

/* The worker index added to every line (-1: none). */
void log_set_worker(int index);

/* 1 when a line of this priority would be written: check before costly formatting. */
int log_enabled(int prio);

void log_msg(int prio, const struct log_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

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
