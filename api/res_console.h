/* res_console: the web console's files (console/assets.h) at "/" and
 * "/assets/...", for anyone: the pages hold no data, the API calls they make
 * are authenticated as any other. Each answer carries the console's strict
 * Content-Security-Policy and its ETag; If-None-Match gets 304. */
#ifndef PIYASA_RES_CONSOLE_H
#define PIYASA_RES_CONSOLE_H

#include "api/call.h"

/* 1 when c's path is the console's ("/" or under "/assets/"): then c has been
 * answered (200, 304, 404 or 405). 0 for any other path, left to the router. */
int res_console(struct call *c);

#endif
