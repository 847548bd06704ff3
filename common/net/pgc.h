/* pgc: asynchronous PostgreSQL on a libuv loop.
 *
 * One struct pgc owns one libpq connection in non-blocking pipeline mode, driven
 * by a uv_poll_t on its socket and a uv_timer_t (connect deadline, per-query
 * timeout, reconnect backoff). Many queries are in flight at once and answered in
 * the order they were sent. Each query is followed by its own Sync, so it is its
 * own implicit transaction: a failing query fails alone.
 *
 * When the connection breaks (socket error, a FATAL from the server, a query
 * older than the timeout) every query still waiting is failed with an error that
 * starts "connection lost: ", then pgc reconnects with a backoff of 100 ms
 * doubling to 5 s. The library never logs; everything is reported through the
 * callbacks.
 *
 * Each SQL text is prepared on its first use and the statement reused (up to
 * 256 texts per connection, then further texts go unprepared): the server skips
 * parsing and planning, about twice the INSERT rate. A cached statement whose
 * result columns change under it (ALTER TABLE ... ADD COLUMN with SELECT *)
 * fails once with 0A000 and is prepared afresh on its next use.
 *
 * Not for multi-statement SQL, COPY or LISTEN: one statement per query, text
 * parameters and text results. Not for BEGIN ... COMMIT across calls either:
 * the connection is shared, so a transaction must fit in one statement. The host in the conninfo is resolved with a
 * blocking getaddrinfo (libpq); give an address (as the config does) to keep the
 * loop from waiting on DNS. */
#ifndef PIYASA_PGC_H
#define PIYASA_PGC_H

#include <libpq-fe.h>
#include <stddef.h>
#include <uv.h>

struct pgc;

/* A query's answer. On success res is the result (tuples or command status) and
 * err is NULL; res belongs to pgc and is cleared when the callback returns. On
 * failure res is NULL and err says why:
 *   "SQLSTATE: message"      the server rejected the query (e.g. "23505: duplicate
 *                            key value violates unique constraint ...");
 *   "connection lost: ..."   the connection broke before the answer came;
 *   "closing"                pgc_free was called.
 * Called exactly once per accepted query. The callback may call pgc_query and
 * pgc_free. */
typedef void (*pgc_cb)(PGresult *res, const char *err, void *arg);

/* Told when the connection comes up (up=1) and when an established one is lost
 * (up=0). May call pgc_query and pgc_free. */
typedef void (*pgc_state_cb)(int up, void *arg);

/* Start connecting to conninfo (a libpq URI or key=value string) on loop; the
 * connection is made in the background and retried for ever with backoff.
 * Returns NULL with the reason in err only when conninfo does not parse or memory
 * runs out; a server that is down is not an error here. The caller releases the
 * result with pgc_free. */
struct pgc *pgc_new(uv_loop_t *loop, const char *conninfo, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Send one SQL statement with nparams text parameters ($1..; a NULL element is
 * SQL NULL). sql and params are copied: the caller may free them on return. cb
 * is called once, later, never from inside pgc_query. Queries made while the
 * first (or a re-) connection is being set up wait and go out when it is up.
 * Returns 0, or -1 without calling cb when the connection is down and waiting to
 * retry, pgc is closing, or the arguments are invalid. */
int pgc_query(struct pgc *c, const char *sql, int nparams, const char *const *params, pgc_cb cb,
	      void *arg) __attribute__((warn_unused_result));

/* The longest the oldest query waiting may take, counted from when it reached
 * the head of the line (sent, and every earlier query answered), so a long
 * pipeline is not mistaken for a hung server; past it the connection is treated
 * as broken. Also the deadline of a connection attempt. Default 10000; 0 turns
 * the query timeout off (connects then keep a 10 s deadline). Applies from the
 * next query or event on. */
void pgc_set_timeout_ms(struct pgc *c, unsigned ms);

/* Register (or with cb NULL remove) the up/down notification. */
void pgc_on_state(struct pgc *c, pgc_state_cb cb, void *arg);

/* 1 when connected and ready now, 0 otherwise. */
int pgc_ok(const struct pgc *c);

/* Queries accepted whose callback has not run yet (sent or waiting to be). */
size_t pgc_inflight(const struct pgc *c);

/* Close the connection and fail every waiting query with "closing" (each
 * callback once, before pgc_free returns). The memory goes when the last libuv
 * handle has closed, so the loop must run once more; after that nothing of pgc
 * is left on the loop. Safe on NULL and from inside a pgc callback. */
void pgc_free(struct pgc *c);

#endif
