/* rurl: parse a Redis URL: redis://[[user]:password@]host[:port][/db] or
 * unix:///path/to.sock[?db=N]. The password is percent-decoded, so a character
 * that means something in a URL is written encoded ('@' as %40, '/' as %2F); an
 * unencoded '@' in it is refused, never guessed at. A user (Redis 6 ACL) is
 * percent-decoded the same way and sent with AUTH user password; without a user
 * it is AUTH password (the "default" user). An IPv6 host is written in brackets
 * ([::1]) and given without them. rediss:// is refused with its reason: the
 * hiredis client is built without TLS.
 *
 * The password is a secret: never log a URL or a struct rurl as is. */
#ifndef PIYASA_RURL_H
#define PIYASA_RURL_H

#include <stddef.h>

struct rurl {
	char host[128]; /* "" for a unix socket */
	int port;
	char path[128]; /* unix socket path */
	char user[128]; /* "" when none: AUTH password alone */
	char password[128];
	int db;
};

/* Fills u: 0, or -1 with the reason in err ("redis url: ..."). */
int rurl_parse(struct rurl *u, const char *url, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
