/* itest: helpers for integration tests that run the real binaries against the
 * real PostgreSQL and Redis of scripts/services and the fake API.
 *
 * Each test process gets its own database (itest_<pid>) and Redis prefix
 * (it<pid>), exported in the environment so every child (supervisor, workers,
 * piyasactl) uses them. Binaries come from $PIYASA_BIN_DIR (default bin). */
#ifndef PIYASA_ITEST_H
#define PIYASA_ITEST_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

/* Create and migrate a fresh database, pick ports, export the environment. */
void itest_env_setup(void);
/* Drop the database and the Redis keys of this test. */
void itest_env_teardown(void);

int itest_fake_port(void);
int itest_http_port(void);

/* Path of a binary (static buffer per call site is fine: returns malloc'd). */
char *itest_bin(const char *name);

/* Start a program in the background with stdout/stderr to logfile (or the
 * test's stderr when NULL). */
pid_t itest_spawn(const char *const argv[], const char *logfile);
/* Run a program to the end; its exit status (-1 if it did not exit normally). */
int itest_run(const char *const argv[]);
/* `supervisor --workers N` in the background, its output to $PIYASA_ITEST_LOG. */
pid_t itest_supervisor(const char *workers);
/* piyasactl with its arguments (NULL-terminated) to the end; its exit status. */
int itest_ctl(const char *first, ...) __attribute__((sentinel));
/* piyasactl with input on its stdin (a pipe: not a terminal; NULL: empty) and its
 * stdout and stderr captured into *out and *err (malloc'd; either pointer may be
 * NULL); its exit status. */
int itest_ctl_io(const char *input, char **out, char **err, const char *first, ...)
	__attribute__((sentinel));
/* The same with the arguments as a NULL-terminated array. */
int itest_ctl_iov(const char *input, char **out, char **err, const char *const args[]);
/* Wait up to timeout_ms for pid to exit; its wait status, or -1 on timeout. */
int itest_wait_exit(pid_t pid, int timeout_ms);
void itest_kill(pid_t pid, int sig);

/* The fake API on itest_fake_port() with extra flags (NULL-terminated). */
pid_t itest_fake_start(const char *const extra[]);
json_t *itest_fake_stats(void);
/* Wait up to timeout_ms for a chat completion whose messages hold needle among
 * the fake's last prompts (GET /_prompts); the ms it took, or -1. */
int itest_fake_prompt_wait(const char *needle, int timeout_ms);
/* POST a JSON body to the fake's control API; the answer (decref it) or NULL. */
json_t *itest_fake_post(const char *path, const char *json);

/* HTTP GET on loopback; body malloc'd (NULL when no answer), status out. */
char *itest_http_get(int port, const char *path, long *status);
/* A series of the supervisor's /metrics, by its exact name with its labels
 * (`piyasa_jobs_total{kind="speak",outcome="sent"}`); -1 when absent. */
double itest_metric(const char *series);
/* Lines of the children's log (PIYASA_ITEST_LOG) holding what. */
int itest_log_count(const char *what);

/* Messages in a terminal status (sent, unknown, failed). */
long long itest_terminal(void);
/* For itest_wait_for: 1 once itest_terminal() >= (intptr_t)n. */
int itest_terminal_at_least(void *n);
/* For itest_wait_for: 1 once the supervisor's /health/ready answers 200. */
int itest_ready(void *unused);
/* First column of the first row as an integer (-1 on error). */
long long itest_pg_int(const char *sql);
int itest_pg_exec(const char *sql);
/* First column of the first row as text, malloc'd; NULL when NULL or on error. */
char *itest_pg_text(const char *sql);
/* A connection to the test's Redis (PIYASA_REDIS_URL, authenticated with its
 * user and password), commands timing out after timeout_ms; NULL when it
 * cannot connect or the password is refused. */
redisContext *itest_redis_connect(int timeout_ms);
/* Redis command on the test's server; integer result or -1. */
long long itest_redis_int(const char *fmt, ...);

/* The test Redis of scripts/services (the port of PIYASA_REDIS_URL, data under
 * PIYASA_DATA, as scripts/test sets them). itest_redis_stop stops it as an
 * operator would (SHUTDOWN: the AOF is flushed, every connection closes, the
 * port refuses) and returns once it is gone; itest_redis_start starts it again
 * (scripts/services start) and returns once it answers PING. A suite that stops
 * or hangs it calls itest_redis_ensure from an unchecked fixture's teardown,
 * which runs in the runner even when the test failed or timed out (check
 * _exit()s a failed forked test, skipping checked teardowns): it wakes a
 * stopped process (SIGCONT) and starts a missing one, so later suites find
 * Redis running. Each aborts the test process when it cannot do its part. */
void itest_redis_stop(void);
void itest_redis_start(void);
void itest_redis_ensure(void);

/* The same for the test PostgreSQL (scripts/services stop pg: pg_ctl -m fast,
 * every backend ends; scripts/services start): itest_pg_stop returns once it
 * refuses connections, itest_pg_start once it takes them again, and
 * itest_pg_ensure (for an unchecked fixture's teardown) starts it when it is
 * not answering. */
void itest_pg_stop(void);
void itest_pg_start(void);
void itest_pg_ensure(void);

/* Write a cast of nbots bots in one chat (chat_id) to a file; returns its path. */
char *itest_write_cast(int nbots, long long chat_id);

/* Poll cond every 50 ms up to timeout_ms; 1 when it became true. */
int itest_wait_for(int (*cond)(void *), void *arg, int timeout_ms);

int64_t itest_now_ms(void);

#endif
