/* httpd: the supervisor's loopback HTTP server (libmicrohttpd, one internal
 * thread). GET /metrics, /health/live, /health/ready and /status; see metrics.h
 * for what each answers. The thread reads the view (view.h) and shared memory
 * only, never the loop's state, and never logs (the log module is not
 * thread-safe). */
#ifndef PIYASA_HTTPD_H
#define PIYASA_HTTPD_H

#include <stddef.h>

struct view;
struct httpd;

/* Listen on bind:port (an address or a name; bind "" = every address) and start
 * serving. NULL with why in err when the address cannot be bound. */
struct httpd *httpd_start(struct view *v, const char *bind, int port, char *err, size_t errlen);

/* Stop the thread and close the socket; waits for a request in progress. NULL is safe. */
void httpd_stop(struct httpd *h);

#endif
