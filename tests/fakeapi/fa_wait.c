/* fa_wait.c: the min-heap of (deadline, request) and its timer thread. The heap shares the
 * state lock so that "is anything queued? then wait" in getUpdates and "queue an update,
 * wake the poller" in /_control/human can never interleave badly. Claiming (removing from
 * the heap) happens under the lock; MHD_resume_connection is called after unlocking by the
 * single claimer, which is safe because a suspended request cannot complete (and be freed)
 * until it is resumed. */
#include "tests/fakeapi/fa_wait.h"

#include "tests/fakeapi/fa_bots.h"
#include "tests/fakeapi/fa_state.h"
#include "tests/fakeapi/fa_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define FA_WAIT_BATCH 64

static struct fa_req **fa_heap;
static size_t fa_heap_len, fa_heap_cap;
static pthread_cond_t fa_wait_cond;
static pthread_t fa_wait_thread;
static int fa_wait_stopping;
static int fa_wait_running;

static void fa_heap_set(size_t i, struct fa_req *r)
{
    fa_heap[i] = r;
    r->heap_idx = i;
}

static void fa_heap_up(size_t i)
{
    struct fa_req *r = fa_heap[i];

    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (fa_heap[p]->deadline_ms <= r->deadline_ms)
            break;
        fa_heap_set(i, fa_heap[p]);
        i = p;
    }
    fa_heap_set(i, r);
}

static void fa_heap_down(size_t i)
{
    struct fa_req *r = fa_heap[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= fa_heap_len)
            break;
        if (c + 1 < fa_heap_len && fa_heap[c + 1]->deadline_ms < fa_heap[c]->deadline_ms)
            c++;
        if (fa_heap[c]->deadline_ms >= r->deadline_ms)
            break;
        fa_heap_set(i, fa_heap[c]);
        i = c;
    }
    fa_heap_set(i, r);
}

static void fa_heap_remove(size_t i)
{
    struct fa_req *last = fa_heap[--fa_heap_len];

    if (i == fa_heap_len)
        return;
    fa_heap_set(i, last);
    fa_heap_down(i);
    fa_heap_up(last->heap_idx);
}

static int fa_heap_push(struct fa_req *r)
{
    if (fa_heap_len == fa_heap_cap) {
        size_t ncap = fa_heap_cap ? fa_heap_cap * 2 : 256;
        struct fa_req **n = realloc(fa_heap, ncap * sizeof(*n));
        if (!n)
            return -1;
        fa_heap = n;
        fa_heap_cap = ncap;
    }
    fa_heap_set(fa_heap_len++, r);
    fa_heap_up(fa_heap_len - 1);
    return 0;
}

int fa_wait_suspend_locked(struct fa_req *req, int64_t deadline_ms)
{
    if (fa_wait_stopping || !fa_wait_running)
        return -1;
    req->deadline_ms = deadline_ms;
    if (fa_heap_push(req) < 0)
        return -1;
    req->waiting = 1;
    req->resumed = 0;
    /* Suspend before the lock is released, so a claimer always resumes after suspend. */
    MHD_suspend_connection(req->conn);
    if (req->heap_idx == 0)
        pthread_cond_signal(&fa_wait_cond);
    return 0;
}

int fa_wait_claim_locked(struct fa_req *req)
{
    if (!req->waiting)
        return -1;
    fa_heap_remove(req->heap_idx);
    req->waiting = 0;
    req->resumed = 1;
    if (req->wait_kind == FA_WAIT_POLL)
        fa_bots_poll_detach_locked(req);
    return 0;
}

void fa_wait_resume(struct fa_req *req)
{
    MHD_resume_connection(req->conn);
}

int fa_wait_defer(struct fa_req *req, int delay_ms)
{
    int rc;

    req->wait_kind = FA_WAIT_DEFER;
    fa_state_lock();
    rc = fa_wait_suspend_locked(req, fa_now_ms() + delay_ms);
    fa_state_unlock();
    if (rc < 0)
        req->wait_kind = FA_WAIT_NONE;
    return rc;
}

/* Claims up to FA_WAIT_BATCH requests due at `now` (all of them if `all`). */
static size_t fa_wait_take_due(struct fa_req **out, int64_t now, int all)
{
    size_t n = 0;

    while (n < FA_WAIT_BATCH && fa_heap_len > 0 && (all || fa_heap[0]->deadline_ms <= now)) {
        struct fa_req *r = fa_heap[0];
        fa_wait_claim_locked(r);
        out[n++] = r;
    }
    return n;
}

static void fa_wait_sleep_locked(void)
{
    struct timespec ts;
    int64_t delta;

    if (fa_heap_len == 0) {
        pthread_cond_wait(&fa_wait_cond, fa_state_mutex());
        return;
    }
    delta = fa_heap[0]->deadline_ms - fa_now_ms();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += delta / 1000;
    ts.tv_nsec += (delta % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&fa_wait_cond, fa_state_mutex(), &ts);
}

static void *fa_wait_main(void *arg)
{
    struct fa_req *due[FA_WAIT_BATCH];

    (void)arg;
    fa_state_lock();
    while (!fa_wait_stopping) {
        size_t n = fa_wait_take_due(due, fa_now_ms(), 0);
        if (n == 0) {
            fa_wait_sleep_locked();
            continue;
        }
        fa_state_unlock();
        for (size_t i = 0; i < n; i++)
            fa_wait_resume(due[i]);
        fa_state_lock();
    }
    fa_state_unlock();
    return NULL;
}

int fa_wait_start(void)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&fa_wait_cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&fa_wait_thread, NULL, fa_wait_main, NULL) != 0)
        return -1;
    fa_wait_running = 1;
    return 0;
}

void fa_wait_stop(void)
{
    struct fa_req *due[FA_WAIT_BATCH];
    size_t n;

    if (!fa_wait_running)
        return;
    fa_state_lock();
    fa_wait_stopping = 1;
    pthread_cond_signal(&fa_wait_cond);
    fa_state_unlock();
    pthread_join(fa_wait_thread, NULL);
    do {
        fa_state_lock();
        n = fa_wait_take_due(due, 0, 1);
        fa_state_unlock();
        for (size_t i = 0; i < n; i++)
            fa_wait_resume(due[i]);
    } while (n > 0);
    free(fa_heap);
    fa_heap = NULL;
    fa_heap_len = fa_heap_cap = 0;
    pthread_cond_destroy(&fa_wait_cond);
}
