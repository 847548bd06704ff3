/* pgpool: a worker's few PostgreSQL connections (pgc), and the least busy live
 * one for the next query. Modules that query take a pool, not the worker. */
#ifndef PIYASA_PGPOOL_H
#define PIYASA_PGPOOL_H

#include "common/net/pgc.h"

#include <stddef.h>
#include <uv.h>

#define PGPOOL_MAX 64

struct pgpool;

/* n connections (1..PGPOOL_MAX) to conninfo; each reconnects by itself (pgc).
 * NULL: err says why. */
struct pgpool *pgpool_new(uv_loop_t *loop, const char *conninfo, int n, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Closes every connection (their queries are answered "closing"). NULL is fine. */
void pgpool_free(struct pgpool *p);
/* cb(up, arg) on each connection's state change (pgc_on_state). */
void pgpool_on_state(struct pgpool *p, pgc_state_cb cb, void *arg);
/* The live connection with the fewest queries out; the first when none is up
 * (its pgc_query then fails at once). */
struct pgc *pgpool_pick(struct pgpool *p);
/* 1 when at least one connection is up. */
int pgpool_up(const struct pgpool *p);

#endif
