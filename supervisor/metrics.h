/* metrics: the text of every HTTP answer, from a snapshot (view.h).
 *
 * Pure formatting: no locks, no I/O, so each function is testable on a hand-made
 * snapshot. Counters are base + live (they never go back across a worker's
 * restart); gauges are summed over running workers; per-worker series carry a
 * worker="I" label. */
#ifndef PIYASA_METRICS_H
#define PIYASA_METRICS_H

#include <stddef.h>

struct snap;

#define METRICS_LIVE_MAX_MS 5000 /* the loop's tick may be this late before live fails */

/* Prometheus text format 0.0.4, malloc'd; *len set. NULL on allocation failure. */
char *metrics_prometheus(const struct snap *s, size_t *len);

/* The /status JSON document, malloc'd; NULL on allocation failure. */
char *metrics_status_json(const struct snap *s);

/* 1 when every worker is READY with Redis and PostgreSQL up; else 0 and why:
 * "fleet is draining", then a service the workers see down ("redis is down
 * (workers 0,1,2,3)", "postgresql is down (worker 2)", both joined by "; "),
 * then the first worker that is not ready ("worker 1 is starting"). */
int metrics_ready(const struct snap *s, char *why, size_t n);

/* 1 when the supervisor's loop ticked recently; else 0 and why. */
int metrics_live(const struct snap *s, char *why, size_t n);

#endif
