/* pgpool: see pgpool.h. */
#include "common/net/pgpool.h"

#include <stdio.h>
#include <stdlib.h>

struct pgpool {
	int n;
	struct pgc *c[PGPOOL_MAX];
};

struct pgpool *pgpool_new(uv_loop_t *loop, const char *conninfo, int n, char *err, size_t errlen)
{
	struct pgpool *p;

	if (n < 1 || n > PGPOOL_MAX) {
		snprintf(err, errlen, "pool of %d connections: 1 to %d", n, PGPOOL_MAX);
		return NULL;
	}
	if (!(p = calloc(1, sizeof *p))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (p->n = 0; p->n < n; p->n++) {
		if (!(p->c[p->n] = pgc_new(loop, conninfo, err, errlen))) {
			pgpool_free(p);
			return NULL;
		}
	}
	return p;
}

void pgpool_free(struct pgpool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++)
		pgc_free(p->c[i]);
	free(p);
}

void pgpool_on_state(struct pgpool *p, pgc_state_cb cb, void *arg)
{
	for (int i = 0; i < p->n; i++)
		pgc_on_state(p->c[i], cb, arg);
}

struct pgc *pgpool_pick(struct pgpool *p)
{
	struct pgc *best = p->c[0];

	for (int i = 1; i < p->n; i++)
		if (pgc_ok(p->c[i]) && (!pgc_ok(best) || pgc_inflight(p->c[i]) < pgc_inflight(best)))
			best = p->c[i];
	return best;
}

int pgpool_up(const struct pgpool *p)
{
	for (int i = 0; i < p->n; i++)
		if (pgc_ok(p->c[i]))
			return 1;
	return 0;
}
