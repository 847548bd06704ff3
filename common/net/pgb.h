/* pgb: many rows, one statement.
 *
 * A worker writes one outbox row per job, twice (claim, then the send's
 * outcome). As single statements each is a transaction and a commit of its
 * own, which costs PostgreSQL more CPU than the work itself. pgb gathers the
 * rows added during one turn of the loop (or until max_rows wait) and sends
 * them as one statement on one connection: one parse of a prepared plan, one
 * transaction, one commit.
 *
 * The statement takes one parameter, $1: a JSON array of the rows (each a JSON
 * object), typically read with json_to_recordset($1::json). If it returns rows,
 * its first column must be the key each row was added with; each row's callback
 * gets the index of its result row, or -1 when the statement returned none for
 * it. Two rows with the same key never share a statement (the second waits for
 * the next one), so ON CONFLICT DO UPDATE never meets its own row twice.
 *
 * A statement the server rejects is re-sent one row per statement, so a bad
 * row fails alone and the others go through; a lost connection fails every row
 * of the statement with pgc's "connection lost: " error. */
#ifndef PIYASA_PGB_H
#define PIYASA_PGB_H

#include "common/net/pgc.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <uv.h>

struct pgb;

/* res is the statement's result (NULL with err on failure), valid during the
 * call only; row as above. Called exactly once per accepted row. */
typedef void (*pgb_cb)(PGresult *res, int row, const char *err, void *arg);

/* Which connection a statement goes on (e.g. the least busy); NULL: none up. */
typedef struct pgc *(*pgb_conn_fn)(void *arg);

/* sql is copied. NULL on out of memory. */
struct pgb *pgb_new(uv_loop_t *loop, const char *sql, size_t max_rows, pgb_conn_fn conn,
		    void *conn_arg);

/* Add a row under key (copied); row is taken over (decref'd by pgb). Returns 0,
 * or -1 without calling cb when no connection is up or memory runs out. cb is
 * never called from inside pgb_add. */
int pgb_add(struct pgb *b, const char *key, json_t *row, pgb_cb cb, void *arg)
	__attribute__((warn_unused_result));

/* At most this many statements out at once (0, the default: no limit). The
 * rows that come meanwhile wait and go together when one returns, so batches
 * grow with the load; with 1, the statements also commit in the order their
 * rows were added. */
void pgb_set_window(struct pgb *b, size_t statements);

/* A row that starts a batch waits up to ms (0, the default: the loop's next
 * turn) for others to share its statement; a full batch goes at once. For
 * writes off the latency path, which then cost one commit per few rows
 * instead of one per row when rows come one by one. Applies from the next
 * batch on. */
void pgb_set_delay(struct pgb *b, unsigned ms);

/* Rows sent in one statement so far, and statements (for the metrics). */
void pgb_stats(const struct pgb *b, unsigned long long *rows, unsigned long long *statements);

/* Fail the rows not sent yet with "closing" (callbacks run before it returns)
 * and close its timer; the memory goes when the timer has closed, so the loop
 * must run once more. Rows already sent are answered by pgc. */
void pgb_free(struct pgb *b);

#endif
