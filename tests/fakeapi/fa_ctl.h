/* fa_ctl.h: the control API (/_control/..., /_stats, /_messages, /_health). */
#ifndef FA_CTL_H
#define FA_CTL_H

#include "tests/fakeapi/fa_http.h"

/* Fills req->ans; control calls are never delayed and never faulted. */
void fa_ctl_handle(struct fa_req *req, const char *url, const char *method);

#endif
