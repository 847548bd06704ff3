/* ruv: see ruv.h. One uv_poll_t per context, started for the events hiredis asks
 * for (read, write, both), closed when hiredis cleans up. */
#include "common/net/ruv.h"

#include <stdlib.h>

struct ruv {
	redisAsyncContext *ac; /* NULL once hiredis has let go of it */
	uv_poll_t poll;
	int events; /* UV_READABLE | UV_WRITABLE, as hiredis asked */
};

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct ruv *p = h->data;

	/* An error: libuv has stopped the handle. A read finds the socket's error
	 * (a connect's through SO_ERROR, a link's through read) and hiredis fails
	 * the connect or drops the link, calling its owner back either way. */
	if (status < 0)
		events = UV_READABLE | (p->events & UV_WRITABLE);
	if (p->ac && (events & UV_READABLE))
		redisAsyncHandleRead(p->ac);
	if (p->ac && (events & UV_WRITABLE))
		redisAsyncHandleWrite(p->ac);
	/* Still alive after an error (a spurious one): watch the socket again. */
	if (status < 0 && p->ac && p->events)
		uv_poll_start(&p->poll, p->events, on_poll);
}

static void set_events(struct ruv *p, int events)
{
	p->events = events;
	if (events)
		uv_poll_start(&p->poll, events, on_poll);
	else
		uv_poll_stop(&p->poll);
}

static void add_read(void *arg)
{
	struct ruv *p = arg;

	set_events(p, p->events | UV_READABLE);
}

static void del_read(void *arg)
{
	struct ruv *p = arg;

	set_events(p, p->events & ~UV_READABLE);
}

static void add_write(void *arg)
{
	struct ruv *p = arg;

	set_events(p, p->events | UV_WRITABLE);
}

static void del_write(void *arg)
{
	struct ruv *p = arg;

	set_events(p, p->events & ~UV_WRITABLE);
}

static void on_poll_closed(uv_handle_t *h)
{
	free(h->data);
}

/* hiredis is freeing the context (it closes the socket right after). */
static void cleanup(void *arg)
{
	struct ruv *p = arg;

	p->ac = NULL;
	uv_close((uv_handle_t *)&p->poll, on_poll_closed);
}

int ruv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
	struct ruv *p;

	if (ac->ev.data || !(p = calloc(1, sizeof *p)))
		return -1;
	if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
		free(p);
		return -1;
	}
	p->ac = ac;
	p->poll.data = p;
	ac->ev.data = p;
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	return 0;
}
