/* Another user of the same machine against the tests' services (issue 19,
 * item 1): as `nobody`, the token key file, the PostgreSQL and Redis data and
 * the password files are unreadable; PostgreSQL refuses a login on TCP and on
 * its socket, Redis refuses commands; no password is on a command line; and the
 * key given to the supervisor in PIYASA_TOKEN_KEY reaches no worker's
 * environment (nor stays readable in the supervisor's), while the workers still
 * decrypt the bots' tokens with it. scripts/services and scripts/test set up
 * what is checked here; the demo runs the same scripts/services.
 *
 * Each refusal is checked against a control: the same command with the
 * owner's credentials succeeds, so a refusal is not a server that is down. The
 * tests switch user with runuser and need root (as scripts/test runs them);
 * they are skipped, loudly, otherwise. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHAT -1001000000077LL

static pid_t fake, sup;

static int as_nobody(const char *cmd);

/* 1 (skip) when not root; else checks that commands do run as nobody, so
 * that a refusal below is the service's, not a runuser that failed. */
static int skip_unless_root(void)
{
	if (getuid() == 0) {
		ck_assert_msg(as_nobody("[ \"$(id -un)\" = nobody ]") == 0, "cannot run as nobody");
		return 0;
	}
	fprintf(stderr, "local: SKIPPED (runuser needs root; scripts/test runs as root)\n");
	return 1;
}

static const char *data_dir(void)
{
	const char *d = getenv("PIYASA_DATA");

	return d && *d ? d : ".data";
}

/* The cluster's folder, where scripts/services put it (pg_dir there). */
static const char *pg_dir(void)
{
	static char d[512];
	char probe[600];
	const char *port = getenv("PIYASA_PG_PORT");

	snprintf(d, sizeof d, "%s/pg", data_dir());
	snprintf(probe, sizeof probe, "%s/PG_VERSION", d);
	if (access(probe, F_OK) != 0)
		snprintf(d, sizeof d, "/tmp/piyasa-pg-%s", port && *port ? port : "25432");
	return d;
}

/* sh -c cmd as `nobody`, in an environment that names where the secrets are
 * (PGPASSFILE, the key file) but holds none; its exit status. */
static int as_nobody(const char *cmd)
{
	char pgpass[600];
	const char *pf = getenv("PGPASSFILE");
	const char *ru = access("/usr/sbin/runuser", X_OK) == 0 ? "/usr/sbin/runuser" : "/sbin/runuser";

	snprintf(pgpass, sizeof pgpass, "PGPASSFILE=%s", pf ? pf : "");
	const char *av[] = { ru,
			     "-u",
			     "nobody",
			     "--",
			     "/usr/bin/env",
			     "-i",
			     "PATH=/usr/bin:/bin",
			     "HOME=/tmp",
			     pgpass,
			     "/bin/sh",
			     "-c",
			     cmd,
			     NULL };
	return itest_run(av);
}

/* sh -c cmd as ourselves, with the environment scripts/test exported. */
static int as_owner(const char *cmd)
{
	const char *av[] = { "/bin/sh", "-c", cmd, NULL };

	return itest_run(av);
}

START_TEST(the_key_file_is_the_owners)
{
	const char *key = getenv("PIYASA_TOKEN_KEY_FILE");
	char cmd[700];
	struct stat st;

	if (skip_unless_root())
		return;
	ck_assert_msg(key && *key, "scripts/test exports PIYASA_TOKEN_KEY_FILE");
	ck_assert_msg(!getenv("PIYASA_TOKEN_KEY"), "the key itself is not in the tests' environment");
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_msg((st.st_mode & 077) == 0, "%s is %o", key, st.st_mode & 0777);
	snprintf(cmd, sizeof cmd, "cat '%s' >/dev/null 2>&1", key);
	ck_assert_int_eq(as_owner(cmd), 0);
	ck_assert_msg(as_nobody(cmd) != 0, "nobody read the token key %s", key);
}
END_TEST

/* Every file under dir closed to others, every folder too; its name when not. */
static void assert_closed(const char *dir)
{
	char cmd[1200];

	/* find prints what others may read, write or enter; the socket (which
	 * sits in a 0700 folder) is not a file. */
	snprintf(cmd, sizeof cmd,
		 "out=$(find '%s' \\( -type f -perm /077 \\) -o \\( -type d -perm /077 \\) 2>&1);"
		 " [ -z \"$out\" ] || { echo \"open to others: $out\" >&2; exit 1; }",
		 dir);
	ck_assert_msg(as_owner(cmd) == 0, "%s has files or folders open to others", dir);
}

START_TEST(the_data_is_the_owners)
{
	char redis[600], cmd[1600];

	if (skip_unless_root())
		return;
	snprintf(redis, sizeof redis, "%s/redis", data_dir());
	assert_closed(redis);
	assert_closed(pg_dir());
	/* In the data folder itself: files 0600 (the folder may be 0711, so that
	 * the postgres user reaches its cluster, but nobody can list it). */
	snprintf(cmd, sizeof cmd,
		 "out=$(find '%s' -mindepth 1 -maxdepth 1 -type f -perm /077);"
		 " [ -z \"$out\" ] || { echo \"open to others: $out\" >&2; exit 1; }",
		 data_dir());
	ck_assert_int_eq(as_owner(cmd), 0);
	/* What nobody would read: the AOF and RDB files, the cluster's files, the
	 * password files, a listing of each folder. */
	snprintf(cmd, sizeof cmd, "cat '%s'/appendonlydir/* >/dev/null 2>&1", redis);
	ck_assert_int_eq(as_owner(cmd), 0);
	ck_assert_msg(as_nobody(cmd) != 0, "nobody read the Redis AOF");
	snprintf(cmd, sizeof cmd, "cat '%s'/global/pg_control >/dev/null 2>&1", pg_dir());
	ck_assert_msg(as_nobody(cmd) != 0, "nobody read the cluster's files");
	snprintf(cmd, sizeof cmd, "cat '%s/pgpass' '%s/redis.pass' >/dev/null 2>&1", data_dir(),
		 data_dir());
	ck_assert_int_eq(as_owner(cmd), 0);
	ck_assert_msg(as_nobody(cmd) != 0, "nobody read a password file");
	snprintf(cmd, sizeof cmd,
		 "ls '%s' >/dev/null 2>&1 || ls '%s' >/dev/null 2>&1 || ls '%s' >/dev/null 2>&1",
		 data_dir(), redis, pg_dir());
	ck_assert_msg(as_nobody(cmd) != 0, "nobody listed a data folder");
}
END_TEST

START_TEST(postgresql_refuses_others)
{
	const char *port = getenv("PIYASA_PG_PORT");
	char tcp[400], sock[900];

	if (skip_unless_root())
		return;
	snprintf(tcp, sizeof tcp,
		 "[ \"$(psql -w -h 127.0.0.1 -p %s -U postgres -d postgres -Atc 'select 42' 2>/dev/null)\" = 42 ]",
		 port);
	ck_assert_msg(as_owner(tcp) == 0, "the owner cannot log in on TCP: is PostgreSQL up?");
	ck_assert_msg(as_nobody(tcp) != 0, "nobody logged in to PostgreSQL on TCP");
	/* The socket: as postgres (the superuser) and as nobody (a role of its name
	 * would not exist, but the login must not even get that far). */
	snprintf(sock, sizeof sock,
		 "for u in postgres nobody; do [ \"$(psql -w -h '%s' -p %s -U $u -d postgres -Atc 'select 42' 2>/dev/null)\" = 42 ] && exit 0; done; exit 1",
		 pg_dir(), port);
	ck_assert_msg(as_nobody(sock) != 0, "nobody logged in to PostgreSQL on its socket");
}
END_TEST

START_TEST(redis_refuses_others)
{
	const char *port = getenv("PIYASA_REDIS_PORT");
	char ping[300], set[300];

	if (skip_unless_root())
		return;
	snprintf(ping, sizeof ping,
		 "[ \"$(redis-cli -h 127.0.0.1 -p %s ping 2>/dev/null)\" = PONG ]", port);
	ck_assert_msg(as_owner(ping) == 0, "the owner (REDISCLI_AUTH) gets no PONG: is Redis up?");
	ck_assert_msg(as_nobody(ping) != 0, "nobody's PING was answered");
	snprintf(set, sizeof set,
		 "[ \"$(redis-cli -h 127.0.0.1 -p %s set piyasa:local:nobody 1 2>/dev/null)\" = OK ]",
		 port);
	ck_assert_msg(as_nobody(set) != 0, "nobody wrote a key to Redis");
	ck_assert_int_eq(itest_redis_int("EXISTS piyasa:local:nobody"), 0);
}
END_TEST

START_TEST(no_password_on_a_command_line)
{
	char cmd[600], pw[128] = "";
	FILE *f;

	if (skip_unless_root())
		return;
	snprintf(cmd, sizeof cmd, "%s/redis.pass", data_dir());
	ck_assert_ptr_nonnull(f = fopen(cmd, "r"));
	ck_assert_ptr_nonnull(fgets(pw, sizeof pw, f));
	fclose(f);
	pw[strcspn(pw, "\n")] = '\0';
	ck_assert_int_ge(strlen(pw), 16);
	/* What ps shows every user: no process's arguments hold it. */
	snprintf(cmd, sizeof cmd,
		 "ps -eo args | grep -F -- '%s' | grep -v grep >&2 && exit 1; exit 0", pw);
	ck_assert_msg(as_nobody(cmd) == 0, "the Redis password is on a command line");
}
END_TEST

/* ---- the key handed to the supervisor ---- */

static void setup(void)
{
	itest_env_setup();
	fake = itest_fake_start(NULL);
}

static void teardown(void)
{
	itest_kill(sup, SIGKILL);
	itest_kill(fake, SIGTERM);
	itest_wait_exit(sup, 5000);
	itest_wait_exit(fake, 5000);
	itest_env_teardown();
}

/* 1 when /proc/pid/environ holds text. */
static int environ_holds(pid_t pid, const char *text)
{
	char path[64], buf[65536];
	size_t n, len = strlen(text);
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	for (size_t i = 0; i + len <= n; i++)
		if (memcmp(buf + i, text, len) == 0)
			return 1;
	return 0;
}

/* The children of pid, into out (at most max); how many. */
static int children(pid_t pid, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) && n < max) {
		char path[300], line[512], *p;
		int ppid;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(line, sizeof line, f) && (p = strrchr(line, ')')) &&
		    sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == pid)
			out[n++] = (pid_t)atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return n;
}

static int sent(void *arg)
{
	return itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'") >=
	       (long long)(intptr_t)arg;
}

START_TEST(the_workers_never_see_the_key)
{
	const char *hex = "5ec0de5ec0de5ec0de5ec0de5ec0de5ec0de5ec0de5ec0de5ec0de5ec0de5ec0";
	char *cast = itest_write_cast(4, CHAT), chat[32], api[32];
	pid_t kids[16];
	int n;

	/* The key the old way: in the supervisor's environment, no file. */
	setenv("PIYASA_TOKEN_KEY", hex, 1);
	unsetenv("PIYASA_TOKEN_KEY_FILE");
	snprintf(chat, sizeof chat, "%lld", CHAT);
	/* The admin API too: it gets the key as the workers do (its TOTP secrets
	 * are sealed with it), never in its environment. */
	snprintf(api, sizeof api, "127.0.0.1:%d", 24000 + (int)(getpid() % 1000));
	setenv("PIYASA_API_LISTEN", api, 1);
	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	sup = itest_supervisor("2");
	ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--count", "20", NULL), 0);
	/* Sent: the workers decrypted the bots' tokens with the key they got. */
	ck_assert_msg(itest_wait_for(sent, (void *)(intptr_t)20, 60000), "only %lld of 20 sent",
		      itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'"));
	n = children(sup, kids, 16);
	ck_assert_int_ge(n, 3); /* two workers and piyasa-api */
	for (int i = 0; i < n; i++)
		ck_assert_msg(!environ_holds(kids[i], hex) &&
				      !environ_holds(kids[i], "PIYASA_TOKEN_KEY="),
			      "child %d has the key in its environment", (int)kids[i]);
	ck_assert_msg(!environ_holds(sup, hex), "the supervisor's /proc environ still shows the key");
	unsetenv("PIYASA_API_LISTEN");
	unlink(cast);
	free(cast);
}
END_TEST

static Suite *local_suite(void)
{
	Suite *s = suite_create("local");
	TCase *tc = tcase_create("others");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, the_key_file_is_the_owners);
	tcase_add_test(tc, the_data_is_the_owners);
	tcase_add_test(tc, postgresql_refuses_others);
	tcase_add_test(tc, redis_refuses_others);
	tcase_add_test(tc, no_password_on_a_command_line);
	suite_add_tcase(s, tc);
	tc = tcase_create("key");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, the_workers_never_see_the_key);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(local_suite)
