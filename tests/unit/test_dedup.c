/* test_dedup: the normalised form ignores case (the Turkish way), punctuation and
 * emoji; exact duplicates are found and near ones are not; the cosine and its
 * threshold behave, on float and on quantized vectors. */
#include "tests/check_main.h"
#include "worker/chat/text/dedup.h"
#include "worker/chat/text/textcheck.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ck_norm(const char *in, const char *want)
{
	char out[DEDUP_NORM_MAX];
	size_t n = dedup_normalise(in, out, sizeof(out));

	ck_assert_str_eq(out, want);
	ck_assert_uint_eq(n, strlen(want));
}

START_TEST(normalise_examples)
{
	ck_norm("Dolar 34,50'yi GEÇTİ!!! 🚀", "dolar 34 50 yi geçti");
	ck_norm("dolar 34 50 yi geçti", "dolar 34 50 yi geçti");
	ck_norm("  Merhaba,   DÜNYA!!  ", "merhaba dünya");
	ck_norm("IŞIK İSTANBUL ŞĞÜÖÇ", "ışık istanbul şğüöç");
	ck_norm("#BIST100 → @ahmet_bey: $THYAO!", "bıst100 ahmet bey thyao");
	ck_norm("👍🏻🚀🔥", "");
	ck_norm("", "");
	ck_norm(NULL, "");
	ck_norm("Café Ñandú ŁÓDŹ", "café ñandú łódź");
	ck_norm("x\xff"
		"y",
		"x y");
}
END_TEST

START_TEST(normalise_keeps_400_characters)
{
	char in[4096] = "", out[DEDUP_NORM_MAX], small[11];

	for (int i = 0; i < 600; i++)
		strcat(in, "Ç");
	dedup_normalise(in, out, sizeof(out));
	ck_assert(textcheck_utf8_valid(out, strlen(out)));
	ck_assert_uint_eq(textcheck_utf8_count(out), DEDUP_NORM_CP);

	in[0] = '\0';
	for (int i = 0; i < 300; i++)
		strcat(in, "ab, ");
	dedup_normalise(in, out, sizeof(out));
	ck_assert_uint_eq(textcheck_utf8_count(out), DEDUP_NORM_CP);
	ck_assert(out[strlen(out) - 1] != ' ');

	/* A short buffer cuts on a character boundary and still terminates. */
	ck_assert_uint_eq(dedup_normalise("çççççççç", small, sizeof(small)), 10);
	ck_assert_str_eq(small, "ççççç");
	ck_assert_uint_eq(dedup_normalise("abc", small, 0), 0);
}
END_TEST

START_TEST(hash_is_fnv1a_of_the_normalised_text)
{
	ck_assert(dedup_hash("") == 0xcbf29ce484222325ull);
	ck_assert(dedup_hash("a") == 0xaf63dc4c8601ec8cull);
	ck_assert(dedup_hash("A!!") == dedup_hash("a"));
	ck_assert(dedup_hash("Dolar 34,50'yi GEÇTİ!!! 🚀") == dedup_hash("dolar 34 50 yi geçti"));
	ck_assert(dedup_hash("dolar 34 50 yi geçti") != dedup_hash("dolar 34 51 yi geçti"));
}
END_TEST

START_TEST(exact_found_and_not_found)
{
	const char *recent[] = { "Altın bugün sakin.", NULL, "dolar 34 50 yi geçti",
				 "Faiz kararı yarın" };

	ck_assert_int_eq(dedup_exact("Dolar 34,50'yi GEÇTİ!!! 🚀", recent, 4), 1);
	ck_assert_int_eq(dedup_exact("ALTIN bugün sakin", recent, 4), 1); /* ALTIN -> altın: I -> ı */
	ck_assert_int_eq(dedup_exact("Altın BUGÜN sakin!!", recent, 4), 1);
	ck_assert_int_eq(dedup_exact("Dolar 34,50'yi geçti bence", recent, 4), 0);
	ck_assert_int_eq(dedup_exact("Faiz kararı yarın", recent, 3), 0); /* outside n */
	ck_assert_int_eq(dedup_exact("Faiz kararı yarın", recent, 0), 0);
	ck_assert_int_eq(dedup_exact("Faiz kararı yarın", NULL, 4), 0);

	/* Emoji-only reactions repeat by design. */
	const char *emoji[] = { "🚀" };
	ck_assert_int_eq(dedup_exact("🚀", emoji, 1), 0);
}
END_TEST

START_TEST(cosine_values)
{
	const float a[] = { 1, 2, 3 }, a2[] = { 2, 4, 6 }, neg[] = { -1, -2, -3 };
	const float x[] = { 1, 0, 0 }, y[] = { 0, 1, 0 }, zero[] = { 0, 0, 0 };

	ck_assert_double_eq_tol(dedup_cosine(a, a, 3), 1.0, 1e-9);
	ck_assert_double_eq_tol(dedup_cosine(a, a2, 3), 1.0, 1e-9);
	ck_assert_double_eq_tol(dedup_cosine(x, y, 3), 0.0, 1e-12);
	ck_assert_double_eq_tol(dedup_cosine(a, neg, 3), -1.0, 1e-9);
	ck_assert_double_eq(dedup_cosine(a, zero, 3), 0.0);
	ck_assert_double_eq(dedup_cosine(a, a, 0), 0.0);
	ck_assert(dedup_cosine(a, a, 3) <= 1.0);
}
END_TEST

START_TEST(semantic_threshold)
{
	/* cos(v, r0) = 0.8, cos(v, r1) = 0.9, cos(v, r2) = 1 exactly. */
	const float v[] = { 1, 0 }, r0[] = { 0.8f, 0.6f }, r1[] = { 0.9f, 0.43588989f };
	const float r2[] = { 3, 0 };
	const float *some[] = { r0, NULL, r1 }, *low[] = { r0 }, *same[] = { r2 };
	double best = -5;

	ck_assert_int_eq(dedup_semantic(v, some, 3, 2, 0.85, &best), 1);
	ck_assert_double_eq_tol(best, 0.9, 1e-6);
	ck_assert_int_eq(dedup_semantic(v, some, 3, 2, 0.95, &best), 0);
	ck_assert_double_eq_tol(best, 0.9, 1e-6);
	ck_assert_int_eq(dedup_semantic(v, low, 1, 2, 0.85, &best), 0);
	ck_assert_double_eq_tol(best, 0.8, 1e-6);
	ck_assert_int_eq(dedup_semantic(v, same, 1, 2, 1.0, &best), 1); /* >= threshold */
	ck_assert_int_eq(dedup_semantic(v, some, 0, 2, 0.85, &best), 0);
	ck_assert_double_eq(best, 0.0);
	ck_assert_int_eq(dedup_semantic(v, some, 3, 2, 0.85, NULL), 1);
}
END_TEST

START_TEST(quantized_cosines)
{
	uint64_t x = 88172645463325252ull;
	enum { DIM = 256 };
	float a[DIM], b[DIM];
	int8_t q[DIM];

	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < DIM; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			a[i] = (float)((double)(x % 20001) / 10000.0 - 1.0);
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* b: a mix of a and noise, so cosines spread over [-1, 1] */
			b[i] = (float)(a[i] * (round % 11 - 5) / 5.0 + (double)(x % 2001) / 1000.0 -
				       1.0);
		}
		dedup_quantize(b, DIM, q);
		ck_assert_double_eq_tol(dedup_cosine_q(a, q, DIM), dedup_cosine(a, b, DIM), 0.01);
	}
	memset(b, 0, sizeof b);
	dedup_quantize(b, DIM, q);
	ck_assert_double_eq(dedup_cosine_q(a, q, DIM), 0);
	{
		const int8_t *recent[] = { NULL, q };
		double best = -1;
		dedup_quantize(a, DIM, q);
		ck_assert_int_eq(dedup_semantic_q(a, recent, 2, DIM, 0.99, &best), 1);
		ck_assert_double_gt(best, 0.999);
		ck_assert_int_eq(dedup_semantic_q(a, recent, 1, DIM, 0.5, &best), 0);
		ck_assert_double_eq(best, 0);
	}
}
END_TEST

static Suite *dedup_suite(void)
{
	Suite *s = suite_create("dedup");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, normalise_examples);
	tcase_add_test(tc, normalise_keeps_400_characters);
	tcase_add_test(tc, hash_is_fnv1a_of_the_normalised_text);
	tcase_add_test(tc, exact_found_and_not_found);
	tcase_add_test(tc, cosine_values);
	tcase_add_test(tc, semantic_threshold);
	tcase_add_test(tc, quantized_cosines);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dedup_suite)
