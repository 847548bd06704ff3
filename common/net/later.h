/* later: run a function once, some milliseconds from now, on a libuv loop,
 * without the caller keeping a timer (a job waiting for pacing, a retry). */
#ifndef PIYASA_LATER_H
#define PIYASA_LATER_H

#include <stdint.h>
#include <uv.h>

/* fn(arg) once after ms. With no memory for a timer, fn runs now (inside the
 * call) rather than never. Nothing cancels it: arg must live until then. */
void later_run(uv_loop_t *loop, uint64_t ms, void (*fn)(void *arg), void *arg);

struct later;
/* fn(arg) once after ms, unless later_cancel comes first; the handle is valid
 * until fn runs or it is cancelled. NULL with no memory for a timer: then fn
 * does not run and the caller decides. */
struct later *later_start(uv_loop_t *loop, uint64_t ms, void (*fn)(void *arg), void *arg);
/* fn will not run; the timer's memory goes in its close callback. */
void later_cancel(struct later *a);

#endif
