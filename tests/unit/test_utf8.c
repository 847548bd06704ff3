/* test_utf8: the one helper every text from outside is cut with: its result is
 * always what jansson and PostgreSQL accept, never half a character, and an
 * invalid byte is replaced rather than silently swallowed. */
#include "common/utf8.h"
#include "tests/check_main.h"

#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>

static int jansson_takes(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

START_TEST(char_lengths_follow_rfc3629)
{
	ck_assert_uint_eq(utf8_char("a", SIZE_MAX), 1);
	ck_assert_uint_eq(utf8_char("", SIZE_MAX), 1); /* the NUL */
	ck_assert_uint_eq(utf8_char("\xc3\xa7", SIZE_MAX), 2);
	ck_assert_uint_eq(utf8_char("\xe2\x80\xa8", SIZE_MAX), 3);
	ck_assert_uint_eq(utf8_char("\xf0\x9f\x9a\x80", SIZE_MAX), 4);
	ck_assert_uint_eq(utf8_char("\xc3\xa7", 1), 0);        /* cut by n */
	ck_assert_uint_eq(utf8_char("\xc3", SIZE_MAX), 0);     /* cut by the NUL */
	ck_assert_uint_eq(utf8_char("\xc0\x80", SIZE_MAX), 0); /* overlong */
	ck_assert_uint_eq(utf8_char("\xe0\x80\x80", SIZE_MAX), 0);
	ck_assert_uint_eq(utf8_char("\xed\xa0\x80", SIZE_MAX), 0);     /* surrogate */
	ck_assert_uint_eq(utf8_char("\xf4\x90\x80\x80", SIZE_MAX), 0); /* > U+10FFFF */
	ck_assert_uint_eq(utf8_char("\x80", SIZE_MAX), 0);
	ck_assert_uint_eq(utf8_char("\xff", SIZE_MAX), 0);
	ck_assert_uint_eq(utf8_char("a", 0), 0);
}
END_TEST

START_TEST(valid_refuses_nul_and_bad_bytes)
{
	ck_assert(utf8_valid("", 0));
	ck_assert(utf8_valid("çağrı 🚀", strlen("çağrı 🚀")));
	ck_assert(!utf8_valid("a\0b", 3));
	ck_assert(!utf8_valid("a\xff", 2));
	ck_assert(!utf8_valid("a\xc3", 2));
	ck_assert(!utf8_valid("\xc3\xa7", 1));
}
END_TEST

START_TEST(cut_never_splits_a_character)
{
	char out[8];

	ck_assert_uint_eq(utf8_cut(out, sizeof out, "abcdeçf"), 7);
	ck_assert_str_eq(out, "abcdeç");
	ck_assert_uint_eq(utf8_cut(out, sizeof out, "abcdefç"), 6);
	ck_assert_str_eq(out, "abcdef");
	ck_assert_uint_eq(utf8_cut(out, sizeof out, "🚀🚀"), 4);
	ck_assert_str_eq(out, "🚀");
	ck_assert_uint_eq(utf8_cut(out, 1, "abc"), 0);
	ck_assert_str_eq(out, "");
	out[0] = 'z';
	ck_assert_uint_eq(utf8_cut(out, 0, "abc"), 0);
	ck_assert_int_eq(out[0], 'z');
}
END_TEST

START_TEST(cut_replaces_invalid_bytes)
{
	char out[64];

	ck_assert_uint_eq(utf8_cut(out, sizeof out,
				   "a\xff"
				   "b\xc3"
				   "c\xed\xa0\x80"),
			  8);
	ck_assert_str_eq(out, "a?b?c???");
	ck_assert(jansson_takes(out));
	/* A sequence the end of the string left incomplete is a cut: dropped. */
	ck_assert_uint_eq(utf8_cut(out, sizeof out, "abc\xe2\x80"), 3);
	ck_assert_str_eq(out, "abc");
	/* A bad byte that does not fit is left out with what follows. */
	ck_assert_uint_eq(utf8_cut(out, 3, "ab\xff"), 2);
}
END_TEST

START_TEST(cut_in_place_and_fmt)
{
	char s[] = "x\xffy\xc3\xa7\xc3";
	char out[10];

	ck_assert_uint_eq(utf8_cut(s, sizeof s, s), 5);
	ck_assert_str_eq(s, "x?yç");
	/* snprintf would cut "çççç" after 9 bytes: inside the fifth "ç". */
	ck_assert_uint_eq(utf8_fmt(out, sizeof out, "%s", "çççççç"), 8);
	ck_assert_str_eq(out, "çççç");
	ck_assert_uint_eq(utf8_fmt(out, sizeof out, "%d:%s", 4, "a\x80"), 4);
	ck_assert_str_eq(out, "4:a?");
	ck_assert_uint_eq(utf8_fmt(out, 0, "%s", "x"), 0);
}
END_TEST

static Suite *utf8_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, char_lengths_follow_rfc3629);
	tcase_add_test(tc, valid_refuses_nul_and_bad_bytes);
	tcase_add_test(tc, cut_never_splits_a_character);
	tcase_add_test(tc, cut_replaces_invalid_bytes);
	tcase_add_test(tc, cut_in_place_and_fmt);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(utf8_suite)
