/* test_tok: the token key's handover from the supervisor to its workers
 * (issue 19, item 1). PIYASA_TOKEN_KEY leaves the environment for a sealed
 * memfd that decrypts what the key encrypted; a malformed key is refused
 * before anything is moved; without the variable there is no descriptor. */
#include "common/tok.h"
#include "tests/check_main.h"

#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

START_TEST(the_key_moves_from_the_environment_to_a_sealed_memfd)
{
	unsigned char key[TOK_KEY_BYTES], from_fd[TOK_KEY_BYTES], *enc;
	char err[256], out[TOK_MAX];
	size_t enc_len;
	int fd;

	setenv("PIYASA_TOKEN_KEY", HEX, 1);
	ck_assert_int_eq(tok_key_load(key, NULL, err, sizeof err), 0);
	ck_assert_int_eq(tok_encrypt(key, "7000001:secret", &enc, &enc_len), 0);

	ck_assert_int_eq(tok_env_to_fd(&fd, err, sizeof err), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_null(getenv("PIYASA_TOKEN_KEY"));
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC); /* only where it is passed */
	ck_assert_int_eq(tok_key_from_fd(from_fd, fd, err, sizeof err), 0);
	ck_assert_int_eq(memcmp(key, from_fd, sizeof key), 0);
	/* read again (every respawned worker reads from the start) */
	ck_assert_int_eq(tok_key_from_fd(from_fd, fd, err, sizeof err), 0);
	ck_assert_int_eq(tok_decrypt(from_fd, enc, enc_len, out, sizeof out), 0);
	ck_assert_str_eq(out, "7000001:secret");
	/* sealed: a worker cannot change it for the others */
	ck_assert_int_eq(write(fd, "x", 1), -1);
	ck_assert_int_eq(ftruncate(fd, 0), -1);
	free(enc);
	close(fd);
}
END_TEST

START_TEST(no_variable_no_descriptor)
{
	char err[256];
	int fd = 7;

	unsetenv("PIYASA_TOKEN_KEY");
	ck_assert_int_eq(tok_env_to_fd(&fd, err, sizeof err), 0);
	ck_assert_int_eq(fd, -1);
}
END_TEST

START_TEST(a_malformed_key_is_refused_where_it_is)
{
	char err[256];
	int fd = 7;

	setenv("PIYASA_TOKEN_KEY", "0011", 1);
	ck_assert_int_eq(tok_env_to_fd(&fd, err, sizeof err), -1);
	ck_assert_int_eq(fd, -1);
	ck_assert_ptr_nonnull(strstr(err, "PIYASA_TOKEN_KEY"));
	ck_assert_ptr_null(strstr(err, "0011")); /* the error never repeats a key */
	unsetenv("PIYASA_TOKEN_KEY");
}
END_TEST

static Suite *tok_suite(void)
{
	Suite *s = suite_create("tok");
	TCase *tc = tcase_create("handover");

	tcase_add_test(tc, the_key_moves_from_the_environment_to_a_sealed_memfd);
	tcase_add_test(tc, no_variable_no_descriptor);
	tcase_add_test(tc, a_malformed_key_is_refused_where_it_is);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tok_suite)
