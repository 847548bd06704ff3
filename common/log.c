/* log: see log.h. Formatting happens once into a stack buffer; the sinks only
 * decide how to frame it. The message is made valid UTF-8 there (a text from
 * outside, or the buffer's end, may cut a character), so the JSON sink, which
 * jansson would refuse it to, never loses a line. The rate limit keeps one slot per call-site
 * format string, so a storm of identical errors costs a counter, not a log line each. */
#include "common/log.h"

#include "common/utf8.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

static void emit_text(int prio, const struct log_ctx *c, const char *msg)
{
	char ts[32], fields[192] = "";
	struct timespec now;
	struct tm tm;
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	if (L.worker >= 0)
		n += snprintf(fields + n, sizeof fields - n, " worker=%d", L.worker);
	if (c && c->bot_id && n < sizeof fields)
		n += snprintf(fields + n, sizeof fields - n, " bot=%lld", (long long)c->bot_id);
	if (c && c->chat_id && n < sizeof fields)
		n += snprintf(fields + n, sizeof fields - n, " chat=%lld", (long long)c->chat_id);
	if (c && c->job_id && n < sizeof fields)
		n += snprintf(fields + n, sizeof fields - n, " job=%s", c->job_id);
	if (c && c->provider && n < sizeof fields)
		snprintf(fields + n, sizeof fields - n, " provider=%s", c->provider);
	fprintf(stderr, "%s.%03ldZ %s[%d] %s:%s %s\n", ts, now.tv_nsec / 1000000, L.ident,
		(int)getpid(), level_names[prio], fields, msg);
}

/* A string field as valid UTF-8 (a job id comes from Redis as it was pushed). */
static void set_str(json_t *o, const char *key, const char *s)
{
	char v[256];

	utf8_cut(v, sizeof v, s);
	json_object_set_new(o, key, json_string(v));
}

static void emit_json(int prio, const struct log_ctx *c, const char *msg)
{
	json_t *o = json_pack("{s:f, s:s, s:s, s:i, s:s}", "ts", (double)time(NULL), "level",
			      level_names[prio], "ident", L.ident, "pid", (int)getpid(), "msg", msg);
	char *s;

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
	s = json_dumps(o, JSON_COMPACT);
	if (s)
		fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(o);
}

static void emit_journal(int prio, const struct log_ctx *c, const char *msg)
{
	sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=%s", L.ident,
			"WORKER=%d", L.worker, "BOT_ID=%lld", c ? (long long)c->bot_id : 0LL,
			"CHAT_ID=%lld", c ? (long long)c->chat_id : 0LL, "JOB_ID=%s",
			c && c->job_id ? c->job_id : "", "PROVIDER=%s",
			c && c->provider ? c->provider : "", NULL);
}

void log_msg(int prio, const struct log_ctx *ctx, const char *fmt, ...)
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
		emit_journal(prio, ctx, msg);
	else if (L.sink == SINK_JSON)
		emit_json(prio, ctx, msg);
	else
		emit_text(prio, ctx, msg);
}
