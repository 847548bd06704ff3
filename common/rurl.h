/* rurl: parse a Redis URL: redis://[[user]:password@]host[:port][/db] or
 * unix:///path/to.sock[?db=N]. */
#ifndef PIYASA_RURL_H
#define PIYASA_RURL_H

#include <stddef.h>

struct rurl {
	char host[128];       /* "" for a unix socket */
	int port;
	char path[128];       /* unix socket path */
	char password[128];
	int db;
};

/* 0, or -1 with the reason in err. */
int rurl_parse(struct rurl *u, const char *url, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
