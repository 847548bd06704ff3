/* later: see later.h. The timer's memory goes in its close callback. */
#include "common/net/later.h"

#include <stdlib.h>

struct later {
	uv_timer_t timer;
	void (*fn)(void *);
	void *arg;
};

static void on_later_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_later_due(uv_timer_t *t)
{
	struct later *a = t->data;

	a->fn(a->arg);
	uv_close((uv_handle_t *)&a->timer, on_later_closed);
}

struct later *later_start(uv_loop_t *loop, uint64_t ms, void (*fn)(void *arg), void *arg)
{
	struct later *a = malloc(sizeof *a);

	if (!a)
		return NULL;
	a->fn = fn;
	a->arg = arg;
	uv_timer_init(loop, &a->timer);
	a->timer.data = a;
	uv_timer_start(&a->timer, on_later_due, ms, 0);
	return a;
}

void later_run(uv_loop_t *loop, uint64_t ms, void (*fn)(void *arg), void *arg)
{
	if (!later_start(loop, ms, fn, arg))
		fn(arg);
}

void later_cancel(struct later *a)
{
	uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *)&a->timer, on_later_closed);
}
