/* rtest: a private redis-server for the tests of the Redis clients (test_ra,
 * test_rsub), so that they can stop it, hang it and start it again without
 * touching the Redis of scripts/services that every other suite uses. It is a
 * real server (the redis-server that scripts/services runs), on a free loopback
 * port, without persistence; it dies with the test process (PR_SET_PDEATHSIG),
 * so a failed test leaves none behind. Also the loop helpers both suites use. */
#ifndef PIYASA_TESTS_RTEST_H
#define PIYASA_TESTS_RTEST_H

#include <check.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

static inline int64_t rtest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A loopback port nothing listens on (the kernel's pick, released at once). */
static inline int rtest_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A listener on port that never accepts, its one-connection backlog filled:
 * a connect to it sends SYNs that nobody answers. Returns the two fds
 * (listener, filler) in fds. */
static inline void rtest_blackhole(int port, int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	int one = 1;

	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fds[0], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	ck_assert_int_eq(bind(fds[0], (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fds[0], 0), 0);
	fds[1] = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fds[1], (struct sockaddr *)&a, sizeof a), 0);
}

/* The local port of this machine's connect to 127.0.0.1:port that waits for an
 * answer to its SYN (SYN_SENT in /proc/net/tcp), 0 when there is none. A new
 * local port means the waiting connect was given up and another one started. */
static inline int rtest_syn_sent_port(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[256];
	unsigned laddr, lport, raddr, rport, st;
	int found = 0;

	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof line, f))
		if (sscanf(line, " %*d: %x:%x %x:%x %x", &laddr, &lport, &raddr, &rport, &st) == 5 &&
		    rport == (unsigned)port && st == 2 /* TCP_SYN_SENT */)
			found = (int)lport;
	fclose(f);
	return found;
}

static inline int rtest_ping(int port)
{
	struct timeval tv = { 0, 200000 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r = c && !c->err ? redisCommand(c, "PING") : NULL;
	/* A server that asks a password answers NOAUTH: it is up. */
	int ok = r && (r->type == REDIS_REPLY_STATUS ||
		       (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOAUTH", 6) == 0));

	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	return ok;
}

/* redis-server on port, answering PING when this returns; asking password pass
 * (requirepass) unless it is NULL. */
static inline pid_t rtest_redis_start_auth(int port, const char *pass)
{
	char p[16];
	pid_t pid;

	snprintf(p, sizeof p, "%d", port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(null, 2);
		/* The password on argv is this private test server's only. */
		if (pass)
			execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1",
			       "--save", "", "--appendonly", "no", "--dir", "/tmp", "--daemonize",
			       "no", "--requirepass", pass, (char *)NULL);
		else
			execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1",
			       "--save", "", "--appendonly", "no", "--dir", "/tmp", "--daemonize",
			       "no", (char *)NULL);
		_exit(127);
	}
	for (int64_t end = rtest_now_ms() + 10000; !rtest_ping(port); usleep(20000))
		ck_assert_msg(rtest_now_ms() < end, "redis-server on port %d did not start", port);
	return pid;
}

static inline pid_t rtest_redis_start(int port)
{
	return rtest_redis_start_auth(port, NULL);
}

/* On the server of port (password pass), an ACL user with password upass and
 * every right, as an operator would make one for piyasa. */
static inline void rtest_acl_user(int port, const char *pass, const char *user, const char *upass)
{
	redisContext *c = redisConnect("127.0.0.1", port);
	redisReply *r;

	ck_assert(c && !c->err);
	r = redisCommand(c, "AUTH %s", pass);
	ck_assert(r && r->type == REDIS_REPLY_STATUS);
	freeReplyObject(r);
	r = redisCommand(c, "ACL SETUSER %s on >%s ~* &* +@all", user, upass);
	ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "ACL SETUSER: %s", r ? r->str : "?");
	freeReplyObject(r);
	redisFree(c);
}

/* Kill it (the port refuses connects from now on) and reap it. */
static inline void rtest_redis_kill(pid_t pid)
{
	kill(pid, SIGCONT); /* a stopped one too */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static inline void rtest_on_deadline(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

/* Run the loop until *flag is set or ms pass; 1 when the flag was set. */
static inline int rtest_run_until(uv_loop_t *loop, const int *flag, unsigned ms)
{
	uv_timer_t t;
	int expired = 0;

	uv_timer_init(loop, &t);
	t.data = &expired;
	uv_timer_start(&t, rtest_on_deadline, ms, 0);
	while (!*flag && !expired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT); /* t lives on this stack: let it close */
	return *flag;
}

/* Run the loop for ms whatever happens. */
static inline void rtest_run_for(uv_loop_t *loop, unsigned ms)
{
	int never = 0;

	rtest_run_until(loop, &never, ms);
}

/* Every handle closed: the loop ends and closes clean. */
static inline void rtest_close_loop(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(loop), 0);
}

#endif
