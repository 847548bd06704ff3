/* stream: GET /api/v1/stream, Server-Sent Events.
 *
 *   event: message   id: <seq>   data: one message (new, or its status changed)
 *   event: fleet                 data: phase, count, workers' states, queues,
 *                                once a second
 *
 * One hub per process polls PostgreSQL every STREAM_POLL_MS for messages whose
 * seq (ctl/migrations/005: every insert and status change takes the next
 * number) is new, and fans them out in memory to every open stream, so a
 * thousand streams cost one query. A stream holds a socket and a buffer, never
 * a thread: it is an MHD response whose body comes from a callback and that
 * waits suspended when the buffer is empty (srv_stream).
 *
 * Resume: a client that reconnects with Last-Event-ID: N first gets every
 * message with seq > N from PostgreSQL (its catch-up), then the live ones. A
 * transaction may commit after one that took a later number; so the hub reads
 * a trailing window of STREAM_WINDOW numbers each time and each stream keeps
 * the numbers it sent within that window: a late commit is delivered, and
 * nothing twice. ?chat=ID keeps one chat's messages. */
#ifndef PIYASA_STREAM_H
#define PIYASA_STREAM_H

#include "api/call.h"

#define STREAM_POLL_MS 200
#define STREAM_WINDOW 2000

struct hub;

struct hub *hub_new(struct apictx *ctx);
/* End every stream (a drain); new ones are refused with 503. */
void hub_end_all(struct hub *h);
/* After the server is gone (no stream left). NULL is safe. */
void hub_free(struct hub *h);
/* Streams open now. */
unsigned hub_streams(const struct hub *h);

/* The handler of GET /api/v1/stream. */
void res_stream(struct call *c);

#endif
