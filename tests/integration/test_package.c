/* The Debian package as a new operator meets it (issue 17): scripts/check-package
 * builds the .deb from the tracked files, runs lintian, installs it on this
 * machine, checks the files, the conffile, the piyasa user, the modes of
 * /etc/piyasa, the token key, `supervisor -t` on the installed configuration,
 * `systemd-analyze verify` and `security --offline=yes` (at most 2.0) on the
 * installed unit and that `make install` gives the same tree, then purges it and
 * checks nothing is left. About a minute; it needs root (dpkg -i). */
#include "tests/check_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(deb_builds_installs_checks_purges)
{
	int rc;

	ck_assert_msg(geteuid() == 0, "scripts/check-package installs the package: run as root");
	rc = system("bash scripts/check-package");
	ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
		      "scripts/check-package failed (its output is above)");
}
END_TEST

static Suite *package_suite(void)
{
	Suite *s = suite_create("package");
	TCase *tc = tcase_create("deb");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, deb_builds_installs_checks_purges);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(package_suite)
