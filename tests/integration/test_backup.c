/* Backups as the "done when" says (issue 17): a backup taken while the
 * fleet sends, the database wiped, the backup restored: the fleet resumes, no
 * message row of the backup is lost or changed, no message is sent twice. And
 * the retention of `piyasactl backup` and `prune`. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHAT -1001000000471LL

static pid_t sup = -1, fake = -1, producer = -1;
static char dir[128];

static void setup(void)
{
	itest_env_setup();
	fake = itest_fake_start(NULL);
	snprintf(dir, sizeof dir, "/tmp/itest-backup-%d", (int)getpid());
}

static void stop(pid_t *p, int sig)
{
	if (*p > 0) {
		kill(*p, sig);
		if (itest_wait_exit(*p, 20000) < 0)
			kill(*p, SIGKILL);
		*p = -1;
	}
}

static void teardown(void)
{
	char cmd[200];

	stop(&producer, SIGKILL);
	stop(&sup, SIGTERM);
	stop(&fake, SIGKILL);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	itest_env_teardown();
}

static int sent_at_least(void *arg)
{
	return itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'") >=
	       (long long)(intptr_t)arg;
}

/* The one backup file in dir (malloc'd), NULL when there is none or several. */
static char *the_backup(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *path = NULL;
	int n = 0;

	while (d && (e = readdir(d)))
		if (strncmp(e->d_name, "piyasa-", 7) == 0 && strstr(e->d_name, ".dump") &&
		    !strstr(e->d_name, ".partial")) {
			free(path);
			path = malloc(strlen(dir) + strlen(e->d_name) + 2);
			sprintf(path, "%s/%s", dir, e->d_name);
			n++;
		}
	if (d)
		closedir(d);
	if (n != 1) {
		free(path);
		return NULL;
	}
	return path;
}

START_TEST(backup_under_load_wipe_restore_resume)
{
	char *cast = itest_write_cast(8, CHAT), *file, *bin = itest_bin("piyasactl"), chat[32];
	long long before, restored, sent_restored, total_sent;
	json_t *st;

	snprintf(chat, sizeof chat, "%lld", CHAT);
	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	sup = itest_supervisor("2");
	{
		/* Load: 400 jobs at 100 a second, the backup taken in the middle. */
		const char *av[] = { bin,   "enqueue", "--chat", chat, "--count",
				     "400", "--rate",  "100",    NULL };
		producer = itest_spawn(av, NULL);
	}
	ck_assert_msg(itest_wait_for(sent_at_least, (void *)(intptr_t)50, 30000),
		      "nothing sent before the backup");
	before = itest_pg_int("SELECT count(*) FROM messages");
	ck_assert_int_eq(itest_ctl("backup", "--dir", dir, NULL), 0);
	ck_assert_ptr_nonnull(file = the_backup());
	ck_assert_msg(itest_wait_for(sent_at_least, (void *)(intptr_t)400, 90000),
		      "only %lld of 400 sent",
		      itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'"));
	ck_assert_int_eq(itest_wait_exit(producer, 10000) >= 0, 1);
	producer = -1;

	/* The fleet stopped, the rows kept aside, the database wiped. */
	stop(&sup, SIGTERM);
	ck_assert_int_eq(itest_pg_exec("CREATE SCHEMA keep; CREATE TABLE keep.messages AS TABLE "
				       "messages"),
			 0);
	ck_assert_int_eq(itest_pg_exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public"), 0);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);
	ck_assert_int_eq(itest_ctl("restore", file, NULL), 0);

	/* Every row of the backup is there, unchanged; a message sent at backup
	 * time was sent with the same Telegram id. */
	restored = itest_pg_int("SELECT count(*) FROM messages");
	sent_restored = itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'");
	fprintf(stderr,
		"measured: backup under load: %lld rows before it started, %lld in it, "
		"400 after the load\n",
		before, restored);
	ck_assert_int_ge(restored, before);
	ck_assert_int_le(restored, 400);
	ck_assert_int_eq(
		itest_pg_int("SELECT count(*) FROM messages m LEFT JOIN keep.messages k USING (id)"
			     " WHERE k.id IS NULL OR k.job_id IS DISTINCT FROM m.job_id"
			     " OR k.text <> m.text OR k.chat_id <> m.chat_id"
			     " OR k.bot_id IS DISTINCT FROM m.bot_id OR (m.status = 'sent' AND"
			     " (k.status <> 'sent' OR k.telegram_message_id <> m.telegram_message_id))"),
		0);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM bots"), 8);

	/* The fleet resumes on the restored database and sends again, nothing twice. */
	sup = itest_supervisor("2");
	ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--count", "40", NULL), 0);
	ck_assert_msg(itest_wait_for(sent_at_least, (void *)(intptr_t)(sent_restored + 40), 60000),
		      "the resumed fleet sent %lld of 40",
		      itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'") -
			      sent_restored);
	st = itest_fake_stats();
	total_sent = json_integer_value(json_object_get(st, "sends"));
	ck_assert_int_eq(json_integer_value(json_object_get(st, "duplicate_sends")), 0);
	ck_assert_int_eq(total_sent, 440);
	json_decref(st);
	free(file);
	free(bin);
	unlink(cast);
	free(cast);
}
END_TEST

/* 7 daily, 4 weekly, 12 monthly: what a year and a half of daily backups leaves. */
START_TEST(retention_keeps_seven_daily_four_weekly_twelve_monthly)
{
	char path[256], name[64];
	time_t t = time(NULL) - 86400;
	struct tm tm;
	int n = 0;
	DIR *d;
	struct dirent *e;

	ck_assert_int_eq(mkdir(dir, 0750), 0);
	for (int day = 0; day < 550; day++, t -= 86400) {
		FILE *f;

		gmtime_r(&t, &tm);
		strftime(name, sizeof name, "piyasa-%Y%m%dT033000Z.dump", &tm);
		snprintf(path, sizeof path, "%s/%s", dir, name);
		f = fopen(path, "w");
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/unrelated.txt", dir);
	fclose(fopen(path, "w"));
	ck_assert_int_eq(itest_ctl("backup", "--dir", dir, NULL), 0);
	d = opendir(dir);
	while ((e = readdir(d)))
		n += strncmp(e->d_name, "piyasa-", 7) == 0;
	closedir(d);
	/* Today's, 6 more days, weeks and months beyond them: at most 7 + 4 + 12,
	 * at least 12 (the monthly ones alone span a year). */
	ck_assert_msg(n >= 12 && n <= 23, "%d backups kept", n);
	ck_assert_int_eq(access(path, F_OK), 0); /* not ours: left alone */
}
END_TEST

START_TEST(prune_deletes_old_rows_in_batches)
{
	char *cast = itest_write_cast(2, CHAT);

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	ck_assert_int_eq(itest_pg_exec("INSERT INTO messages (chat_id, bot_id, job_id, status, text,"
				       " created_at) SELECT -1001000000471, NULL, 'old' || g,"
				       " 'received', 'x', now() - interval '40 days'"
				       " FROM generate_series(1, 2500) g"),
			 0);
	ck_assert_int_eq(itest_pg_exec("INSERT INTO messages (chat_id, bot_id, job_id, status, text,"
				       " created_at) VALUES (-1001000000471, NULL, 'old-inflight',"
				       " 'sending', 'y', now() - interval '40 days'),"
				       " (-1001000000471, NULL, 'new', 'received', 'z', now())"),
			 0);
	ck_assert_int_eq(itest_pg_exec("INSERT INTO dead_jobs (job_id, job, reason, created_at)"
				       " VALUES ('d1', '{}', 'r', now() - interval '100 days'),"
				       " ('d2', '{}', 'r', now())"),
			 0);
	/* 0, the default: nothing goes. */
	ck_assert_int_eq(itest_ctl("prune", NULL), 0);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages"), 2502);
	ck_assert_int_eq(itest_ctl("settings", "set", "messages_retention_days", "30", NULL), 0);
	ck_assert_int_eq(itest_ctl("settings", "set", "dead_jobs_retention_days", "90", NULL), 0);
	ck_assert_int_eq(itest_ctl("prune", "--batch", "1000", NULL), 0);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages"), 2);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE job_id = 'old-inflight'"),
			 1);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM dead_jobs"), 1);
	unlink(cast);
	free(cast);
}
END_TEST

static Suite *backup_suite(void)
{
	Suite *s = suite_create("backup");
	TCase *tc;

	tc = tcase_create("under_load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, backup_under_load_wipe_restore_resume);
	suite_add_tcase(s, tc);
	tc = tcase_create("retention");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, retention_keeps_seven_daily_four_weekly_twelve_monthly);
	tcase_add_test(tc, prune_deletes_old_rows_in_batches);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(backup_suite)
