/* res_messages: see res_messages.h. */
#include "api/res_messages.h"

#include <stdio.h>
#include <string.h>

#define ISO_MIN(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI\"Z\"')"
#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static void on_list(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;

	if (err) {
		call_db_error(c, err);
		return;
	}
	call_json(c, 200, json_pack("{s:o}", "messages", call_rows(res)));
}

void res_messages_list(struct call *c)
{
	static const char sql[] =
		"SELECT m.id, m.chat_id, m.bot_id, b.name AS bot, m.status, m.text,"
		" m.telegram_message_id, m.reply_to_message_id, m.metadata, m.error,"
		" " ISO("m.created_at") " AS created_at, " ISO(
			"m.sent_at") " AS sent_at,"
				     " (SELECT jsonb_build_object('id', r.id, 'bot_id', r.bot_id, 'text', r.text)"
				     "  FROM messages r WHERE r.chat_id = m.chat_id"
				     "  AND r.telegram_message_id = m.reply_to_message_id LIMIT 1) AS reply_to"
				     " FROM messages m LEFT JOIN bots b ON b.id = m.bot_id"
				     " WHERE ($1::bigint IS NULL OR m.chat_id = $1::bigint)"
				     " AND ($2::bigint IS NULL OR m.bot_id = $2::bigint)"
				     " AND ($3::text IS NULL OR m.status = $3)"
				     " AND (NOT $4::boolean OR m.bot_id IS NULL)"
				     " AND ($5::timestamptz IS NULL OR m.created_at >= $5::timestamptz)"
				     " AND ($7::bigint IS NULL OR m.id < $7::bigint)"
				     " ORDER BY m.id DESC LIMIT $6::int";
	static const char *const statuses[] = { "sending", "sent",     "retry", "unknown",
						"failed",  "received", NULL };
	long long limit, chat, bot, before;
	const char *st = req_arg(c->rq, "status"), *hum = req_arg(c->rq, "humans"), *since;
	char lim[24], ch[24], bt[24], bf[24];
	const char *p[7];
	int ok = !st;

	if (call_arg_int(c, "limit", 100, 1, 1000, &limit) < 0 ||
	    call_arg_int(c, "chat", 0, -(1LL << 62), 1LL << 62, &chat) < 0 ||
	    call_arg_int(c, "bot", 0, 0, 1LL << 62, &bot) < 0 ||
	    call_arg_int(c, "before", 0, 1, 1LL << 62, &before) < 0)
		return;
	for (const char *const *s = statuses; st && *s; s++)
		ok |= !strcmp(*s, st);
	if (!ok) {
		call_problem(c, 400, "Bad query argument", "status",
			     "status: sending, sent, retry, unknown, failed or received");
		return;
	}
	if (hum && strcmp(hum, "true") && strcmp(hum, "false")) {
		call_problem(c, 400, "Bad query argument", "humans", "humans: true or false");
		return;
	}
	if (call_arg_time(c, "since", &since) < 0)
		return;
	snprintf(lim, sizeof lim, "%lld", limit);
	snprintf(ch, sizeof ch, "%lld", chat);
	snprintf(bt, sizeof bt, "%lld", bot);
	snprintf(bf, sizeof bf, "%lld", before);
	p[0] = call_arg_given(c, "chat") ? ch : NULL;
	p[1] = call_arg_given(c, "bot") ? bt : NULL;
	p[2] = st;
	p[3] = hum && !strcmp(hum, "true") ? "true" : "false";
	p[4] = since;
	p[5] = lim;
	p[6] = call_arg_given(c, "before") ? bf : NULL;
	call_query(c, sql, 7, p, on_list);
}

static void on_stats(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	long long *minutes = c->data;

	if (err) {
		call_db_error(c, err);
		return;
	}
	call_json(c, 200,
		  json_pack("{s:I, s:o}", "minutes", (json_int_t)*minutes, "per_minute",
			    call_rows(res)));
}

void res_messages_stats(struct call *c)
{
	/* One statement: the bots' messages that ended (sent, failed, unknown) in
	 * the window, by the minute they ended in (sent_at; a failure's claim time),
	 * every minute present (generate_series) so a quiet one shows as 0. The
	 * range is on the indexed expression of migration 006. */
	static const char sql[] =
		"WITH w AS (SELECT date_trunc('minute', now()) - make_interval(mins => $1::int - 1)"
		"  AS since),"
		" m AS (SELECT date_trunc('minute', coalesce(sent_at, created_at)) AS minute, status,"
		"  extract(epoch FROM sent_at - enqueued_at) * 1000 AS lat"
		"  FROM messages, w WHERE bot_id IS NOT NULL AND status IN ('sent', 'failed', 'unknown')"
		"  AND coalesce(sent_at, created_at) >= w.since)"
		" SELECT " ISO_MIN(
			"g.minute") " AS minute,"
				    " count(m.status) FILTER (WHERE m.status = 'sent') AS sent,"
				    " count(m.status) FILTER (WHERE m.status = 'failed') AS failed,"
				    " count(m.status) FILTER (WHERE m.status = 'unknown') AS unknown,"
				    " round(percentile_cont(0.5) WITHIN GROUP (ORDER BY m.lat)"
				    "  FILTER (WHERE m.status = 'sent'))::bigint AS p50_ms,"
				    " round(percentile_cont(0.95) WITHIN GROUP (ORDER BY m.lat)"
				    "  FILTER (WHERE m.status = 'sent'))::bigint AS p95_ms"
				    " FROM w, generate_series(w.since, date_trunc('minute', now()), interval '1 minute')"
				    "  g(minute)"
				    " LEFT JOIN m ON m.minute = g.minute GROUP BY g.minute ORDER BY g.minute";
	long long *minutes = malloc(sizeof *minutes);
	char n[24];
	const char *p[1] = { n };

	if (!minutes) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	c->data = minutes;
	if (call_arg_int(c, "minutes", 60, 1, 1440, minutes) < 0)
		return;
	snprintf(n, sizeof n, "%lld", *minutes);
	call_query(c, sql, 1, p, on_stats);
}
