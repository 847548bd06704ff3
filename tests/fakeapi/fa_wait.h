/* fa_wait.h: suspended requests and the timer thread that resumes them. A waiting request
 * holds no thread: its connection is suspended in libmicrohttpd and its deadline sits in a
 * min-heap; whoever claims it first (the timer, a new update, a newer getUpdates) resumes it. */
#ifndef FA_WAIT_H
#define FA_WAIT_H

#include "tests/fakeapi/fa_http.h"

int fa_wait_start(void);
/* Stops the timer thread, resumes every waiter and refuses new waits (shutdown). */
void fa_wait_stop(void);

/* Under the state lock, from the access handler: suspends req's connection until
 * deadline_ms (fa_now_ms clock). Returns -1 when shutting down (answer at once instead). */
int fa_wait_suspend_locked(struct fa_req *req, int64_t deadline_ms);

/* Under the state lock: takes a waiting req out of the heap and marks it resumed.
 * Returns 0 if the caller now owns the resume (call fa_wait_resume after unlocking),
 * -1 if req was not waiting. */
int fa_wait_claim_locked(struct fa_req *req);
void fa_wait_resume(struct fa_req *req);

/* Delivers the answer already in req->ans after delay_ms; 0 if suspended, -1 if it must
 * be sent now. */
int fa_wait_defer(struct fa_req *req, int delay_ms);

#endif
