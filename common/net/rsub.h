/* rsub: one Redis channel subscription on the worker's loop (the settings
 * change notice, the chats written, the bots changed). A subscribed connection can do nothing else,
 * so it is a connection of its own, without ra's command deadlines (a subscriber waits for messages
 * by design). It reconnects every 2 s after a loss for as long as Redis is away (a connect has 2 s
 * to complete; socket errors reach hiredis through ruv), and tells the owner each time it is
 * subscribed again, since notices sent while it was away are lost: the owner reloads then. */
#ifndef PIYASA_RSUB_H
#define PIYASA_RSUB_H

#include <uv.h>

struct rsub;

/* message NULL: (re)subscribed, anything may have changed meanwhile. */
typedef void (*rsub_cb)(const char *message, void *arg);

struct rsub *rsub_new(uv_loop_t *loop, const char *url, const char *channel, rsub_cb cb, void *arg,
		      char *err, size_t errlen);
void rsub_free(struct rsub *s);

#endif
