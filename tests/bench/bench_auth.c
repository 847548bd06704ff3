/* bench_auth: what a login costs in CPU and time (common/auth.c): an Argon2id
 * hash and verify at the interactive limits (64 MiB, 2 passes), the verify of a
 * login naming no user, a new session id with its hash, and a TOTP check. The
 * Argon2id figures bound how many logins a second one core can check; docs/
 * SECURITY.md records a run. Built by make.
 *
 *   build/release/bench/bench_auth [N]     N Argon2id operations each (default 10) */
#include "common/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void report(const char *what, int n, double secs)
{
	printf("%-34s %8d ops %10.3f ms/op %10.0f ops/s\n", what, n, secs * 1e3 / n, n / secs);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10, fast = n * 10000, bad = 0;
	char hash[AUTH_PASS_HASH_MAX], err[256], tok[AUTH_TOKEN_SIZE], h[AUTH_HASH_HEX_SIZE], code[8];
	const char *secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
	double t;

	if (n < 1)
		n = 1;
	t = now();
	for (int i = 0; i < n; i++)
		bad += auth_pass_hash("correct horse battery", hash, err, sizeof err) != 0;
	report("password hash (Argon2id)", n, now() - t);
	t = now();
	for (int i = 0; i < n; i++)
		bad += auth_pass_verify(hash, "correct horse battery") != 0;
	report("password verify, right", n, now() - t);
	t = now();
	for (int i = 0; i < n; i++)
		bad += auth_pass_verify(hash, "wrong horse battery") != -1;
	report("password verify, wrong", n, now() - t);
	(void)auth_pass_verify_none("x"); /* its hash is made on first use */
	t = now();
	for (int i = 0; i < n; i++)
		bad += auth_pass_verify_none("correct horse battery") != -1;
	report("password verify, no such user", n, now() - t);
	t = now();
	for (int i = 0; i < fast; i++) {
		auth_token_new(tok);
		auth_token_hash(tok, h);
	}
	report("session id new + BLAKE2b hash", fast, now() - t);
	if (auth_totp_code(secret, 1700000000, 6, code, sizeof code) < 0)
		return 1;
	t = now();
	for (int i = 0; i < fast; i++)
		bad += auth_totp_verify(secret, code, 1700000000, NULL) != 0;
	report("TOTP verify (3 steps checked)", fast, now() - t);
	if (bad)
		fprintf(stderr, "bench_auth: %d unexpected results\n", bad);
	return bad != 0;
}
