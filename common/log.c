/* log: see log.h. Formatting happens once into a stack buffer; the sinks only
 * decide how to frame it. The message is made valid UTF-8 there (a text from
 * outside, or the buffer's end, may cut a character), so the JSON sink, which
 * jansson would refuse it to, never loses a line. The rate limit keeps one slot per call-site
 * format string, so a storm of identical errors costs a counter, not a log line each. */
#include "common/log.h"

#include "common/utf8.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
/* Our call sites' CODE_FILE/LINE/FUNC, not log.c's: sd_journal_sendv_with_location. */
#define _SD_JOURNAL_SUPPRESS_LOCATION 1
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

enum log_sink { SINK_TEXT, SINK_JSON, SINK_JOURNAL };

static struct {
	char ident[32];
	enum log_sink sink;
	int level;
	int worker;
} L = { "piyasa", SINK_TEXT, LOG_INFO, -1 };

/* Rate limit: per format string, at most LIMIT_BURST warnings or errors a second. */
#define LIMIT_SLOTS 64
#define LIMIT_BURST 10
static struct limit_slot {
	const char *fmt;
	time_t second;
	unsigned printed;
	unsigned dropped;
} limits[LIMIT_SLOTS];

static const char *const level_names[] = { "emerg",   "alert",  "crit", "error",
					   "warning", "notice", "info", "debug" };

int log_level_parse(const char *name)
{
	for (int i = 0; i < 8; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	if (strcmp(name, "warn") == 0)
		return LOG_WARNING;
	if (strcmp(name, "err") == 0)
		return LOG_ERR;
	return -1;
}

/* journald sets JOURNAL_STREAM to "dev:inode" of our stderr when it owns it. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%lu:%lu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

int log_init(const char *ident, const char *format, const char *level)
{
	enum log_sink sink;
	int lv = log_level_parse(level ? level : "info");

	if (lv < 0)
		return -1;
	if (!format || strcmp(format, "auto") == 0)
		sink = stderr_is_journal() ? SINK_JOURNAL : SINK_TEXT;
	else if (strcmp(format, "text") == 0)
		sink = SINK_TEXT;
	else if (strcmp(format, "json") == 0)
		sink = SINK_JSON;
	else if (strcmp(format, "journal") == 0)
		sink = SINK_JOURNAL;
	else
		return -1;
	if (ident)
		utf8_cut(L.ident, sizeof L.ident, ident);
	L.sink = sink;
	L.level = lv;
	return 0;
}

void log_set_worker(int index)
{
	L.worker = index;
}

int log_enabled(int prio)
{
	return prio <= L.level;
}

/* Returns how many earlier lines were dropped (to report), or -1 to drop this one. */
static long limit_check(const char *fmt)
{
	struct limit_slot *s = &limits[((uintptr_t)fmt >> 4) % LIMIT_SLOTS];
	time_t now = time(NULL);
	long dropped;

	if (s->fmt != fmt || s->second != now) {
		dropped = s->fmt == fmt ? (long)s->dropped : 0;
		s->fmt = fmt;
		s->second = now;
		s->printed = 1;
		s->dropped = 0;
		return dropped;
	}
	if (s->printed >= LIMIT_BURST) {
		s->dropped++;
		return -1;
	}
	s->printed++;
	return 0;
}

/* "2026-12-07T17:53:03.085Z": UTC to the millisecond. */
static void timestamp(char *out, size_t n)
{
	struct timespec now;
	struct tm tm;
	char ts[24];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%03dZ", ts, (int)(now.tv_nsec / 1000000) % 1000);
}

static void emit_text(const struct log_site *site, int prio, const struct log_ctx *c, const char *msg)
{
	char ts[40], fields[192] = "";
	size_t n = 0;

	timestamp(ts, sizeof ts);
	if (L.worker >= 0)
		n += snprintf(fields + n, sizeof fields - n, " worker=%d", L.worker);
	if (c && c->bot_id && n < sizeof fields)
		n += snprintf(fields + n, sizeof fields - n, " bot=%lld", (long long)c->bot_id);
	if (c && c->chat_id && n < sizeof fields)
		n += snprintf(fields + n, sizeof fields - n, " chat=%lld", (long long)c->chat_id);
	if (c && c->job_id && n < sizeof fields)
		n += snprintf(fields + n, sizeof fields - n, " job=%s", c->job_id);
	if (c && c->provider && n < sizeof fields)
		n += snprintf(fields + n, sizeof fields - n, " provider=%s", c->provider);
	if (site && site->errnum && n < sizeof fields)
		snprintf(fields + n, sizeof fields - n, " errno=%d", site->errnum);
	fprintf(stderr, "%s %s[%d] %s:%s %s\n", ts, L.ident, (int)getpid(), level_names[prio],
		fields, msg);
}

/* A string field as valid UTF-8 (a job id comes from Redis as it was pushed). */
static void set_str(json_t *o, const char *key, const char *s)
{
	char v[256];

	utf8_cut(v, sizeof v, s);
	json_object_set_new(o, key, json_string(v));
}

static void emit_json(const struct log_site *site, int prio, const struct log_ctx *c, const char *msg)
{
	char ts[40];
	json_t *o;
	char *s;

	timestamp(ts, sizeof ts);
	o = json_pack("{s:s, s:s, s:s, s:i, s:s}", "ts", ts, "level", level_names[prio], "ident",
		      L.ident, "pid", (int)getpid(), "msg", msg);
	if (!o)
		return;
	if (L.worker >= 0)
		json_object_set_new(o, "worker", json_integer(L.worker));
	if (c && c->bot_id)
		json_object_set_new(o, "bot_id", json_integer(c->bot_id));
	if (c && c->chat_id)
		json_object_set_new(o, "chat_id", json_integer(c->chat_id));
	if (c && c->job_id)
		set_str(o, "job_id", c->job_id);
	if (c && c->provider)
		set_str(o, "provider", c->provider);
	if (site && site->errnum)
		json_object_set_new(o, "errno", json_integer(site->errnum));
	if (site && site->msgid)
		json_object_set_new(o, "message_id", json_string(site->msgid));
	s = json_dumps(o, JSON_COMPACT);
	if (s)
		fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(o);
}

/* One "NAME=value" into fields[n] when there is room: the new count. */
static int field(char (*fields)[LOG_FIELD_MAX], int n, int max, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int field(char (*fields)[LOG_FIELD_MAX], int n, int max, const char *fmt, ...)
{
	va_list ap;

	if (n >= max)
		return n;
	va_start(ap, fmt);
	vsnprintf(fields[n], LOG_FIELD_MAX, fmt, ap);
	va_end(ap);
	return n + 1;
}

int log_journal_fields(const struct log_site *site, int prio, const struct log_ctx *c,
		       const char *msg, char (*fields)[LOG_FIELD_MAX], int max)
{
	int n = 0;

	n = field(fields, n, max, "MESSAGE=%s", msg);
	n = field(fields, n, max, "PRIORITY=%d", prio);
	n = field(fields, n, max, "SYSLOG_IDENTIFIER=%s", L.ident);
	if (site && site->file) {
		n = field(fields, n, max, "CODE_FILE=%s", site->file);
		n = field(fields, n, max, "CODE_LINE=%d", site->line);
		n = field(fields, n, max, "CODE_FUNC=%s", site->func);
	}
	if (site && site->msgid)
		n = field(fields, n, max, "MESSAGE_ID=%s", site->msgid);
	if (L.worker >= 0)
		n = field(fields, n, max, "WORKER=%d", L.worker);
	if (c && c->bot_id)
		n = field(fields, n, max, "BOT_ID=%lld", (long long)c->bot_id);
	if (c && c->chat_id)
		n = field(fields, n, max, "CHAT_ID=%lld", (long long)c->chat_id);
	if (c && c->job_id && *c->job_id)
		n = field(fields, n, max, "JOB_ID=%s", c->job_id);
	if (c && c->provider && *c->provider)
		n = field(fields, n, max, "PROVIDER=%s", c->provider);
	if (site && site->errnum)
		n = field(fields, n, max, "ERRNO=%d", site->errnum);
	return n;
}

static void emit_journal(const struct log_site *site, int prio, const struct log_ctx *c, const char *msg)
{
	char fields[16][LOG_FIELD_MAX], file[300], line[32];
	struct iovec iov[16];
	/* The location goes apart, as sd-journal wants it ("CODE_FILE=...", "CODE_LINE=..."). */
	struct log_site rest = site ? *site : (struct log_site){ 0 };
	int n;

	rest.file = NULL;
	n = log_journal_fields(&rest, prio, c, msg, fields, 16);
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = fields[i];
		iov[i].iov_len = strlen(fields[i]);
	}
	snprintf(file, sizeof file, "CODE_FILE=%s", site && site->file ? site->file : "?");
	snprintf(line, sizeof line, "CODE_LINE=%d", site ? site->line : 0);
	sd_journal_sendv_with_location(file, line, site && site->func ? site->func : "?", iov, n);
}

void log_msg_at(const struct log_site *site, int prio, const struct log_ctx *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	long dropped;
	size_t n;

	if (prio > L.level)
		return;
	/* Only warnings and errors come in storms worth limiting. */
	dropped = prio <= LOG_WARNING ? limit_check(fmt) : 0;
	if (dropped < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	n = utf8_cut(msg, sizeof msg, msg);
	if (dropped > 0 && n + 48 < sizeof msg)
		snprintf(msg + n, sizeof msg - n, " (%ld similar lines suppressed)", dropped);
	if (L.sink == SINK_JOURNAL)
		emit_journal(site, prio, ctx, msg);
	else if (L.sink == SINK_JSON)
		emit_json(site, prio, ctx, msg);
	else
		emit_text(site, prio, ctx, msg);
}
