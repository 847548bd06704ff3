/* test_embw: embedding answers (OpenAI's /v1/embeddings) are parsed into one
 * vector per input, by index, or refused with a reason an operator can read. */
#include "tests/check_main.h"
#include "worker/calls/embw.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_n(const char *body, size_t n, float **vec, size_t *dim, char *err)
{
	return embw_parse(body, strlen(body), n, vec, dim, err, 256);
}

static int parse(const char *body, float **vec, size_t *dim, char *err)
{
	return embw_parse(body, strlen(body), 1, vec, dim, err, 256);
}

START_TEST(embedding_parse_good)
{
	float *vec;
	size_t dim;
	char err[256] = "";

	ck_assert_int_eq(parse("{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
			       "\"embedding\":[0.5,-1,2e-3],\"index\":0}],\"model\":\"m\","
			       "\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}",
			       &vec, &dim, err),
			 0);
	ck_assert_uint_eq(dim, 3);
	ck_assert(vec[0] == 0.5f && vec[1] == -1.0f && vec[2] == 2e-3f);
	free(vec);

	/* Each input's vector goes where its index says, wherever the item is. */
	ck_assert_int_eq(parse_n("{\"data\":[{\"embedding\":[9,8],\"index\":1},"
				 "{\"embedding\":[7,6],\"index\":0}]}",
				 2, &vec, &dim, err),
			 0);
	ck_assert_uint_eq(dim, 2);
	ck_assert(vec[0] == 7.0f && vec[1] == 6.0f && vec[2] == 9.0f && vec[3] == 8.0f);
	free(vec);

	/* Without indexes, in order. */
	ck_assert_int_eq(parse_n("{\"data\":[{\"embedding\":[1]},{\"embedding\":[2]}]}", 2, &vec,
				 &dim, err),
			 0);
	ck_assert(dim == 1 && vec[0] == 1.0f && vec[1] == 2.0f);
	free(vec);
}
END_TEST

static void ck_bad_n(const char *body, size_t n, const char *reason)
{
	float *vec = (float *)1;
	size_t dim = 99;
	char err[256] = "";

	ck_assert_int_eq(embw_parse(body, strlen(body), n, &vec, &dim, err, sizeof err), -1);
	ck_assert_ptr_null(vec);
	ck_assert_uint_eq(dim, 0);
	ck_assert_msg(strstr(err, reason), "'%s': err '%s', want '%s'", body, err, reason);
}

static void ck_bad(const char *body, const char *reason)
{
	ck_bad_n(body, 1, reason);
}

START_TEST(embedding_parse_bad)
{
	char *big;
	size_t n = 0;

	ck_bad("{\"usage\":{}}", "missing data");
	ck_bad("{\"data\":{}}", "missing data");
	ck_bad("{\"data\":[]}", "data is empty");
	ck_bad("{\"data\":[{\"embedding\":[0.1,\"x\",0.3]}]}", "embedding[1]: not a number");
	ck_bad("{\"data\":[{\"embedding\":[0.1,null]}]}", "embedding[1]: not a number");
	ck_bad("{\"data\":[{\"embedding\":[]}]}", "embedding is empty");
	ck_bad("{\"data\":[{\"embedding\":\"AAAA\"}]}", "expected an array");
	ck_bad("{\"data\":[{\"index\":0}]}", "missing embedding");
	ck_bad("{\"data\":[3]}", "expected an object");
	ck_bad("{\"data\":[{\"embedding\":[1e300]}]}", "out of float range");
	ck_bad("[1,2]", "expected an object");
	ck_bad("{\"data\":[{\"embedding\":[1,2", "not JSON");
	ck_bad("", "not JSON");
	/* jansson cuts the input it quotes inside "ç": the error text stays UTF-8. */
	{
		const char *b = "{\"data\": \"\\u12\xc3\xa7\"}";
		char err[256];
		float *vec;
		size_t dim;
		json_t *e;

		ck_bad(b, "not JSON: invalid escape");
		ck_assert_int_eq(embw_parse(b, strlen(b), 1, &vec, &dim, err, sizeof err), -1);
		ck_assert_ptr_nonnull(e = json_string(err));
		json_decref(e);
	}
	ck_bad("{\"error\":{\"message\":\"quota exceeded\",\"type\":\"x\"}}",
	       "api error: quota exceeded");
	/* A batch answer must account for every input, once, in one shape. */
	ck_bad_n("{\"data\":[{\"embedding\":[1],\"index\":0}]}", 2, "1 items for 2 inputs");
	ck_bad_n("{\"data\":[{\"embedding\":[1],\"index\":0},{\"embedding\":[2],\"index\":0}]}", 2,
		 "index 0 out of range or repeated");
	ck_bad_n("{\"data\":[{\"embedding\":[1],\"index\":0},{\"embedding\":[2],\"index\":2}]}", 2,
		 "index 2 out of range");
	ck_bad_n("{\"data\":[{\"embedding\":[1],\"index\":0},{\"embedding\":[2]}]}", 2,
		 "data[1]: missing index");
	ck_bad_n("{\"data\":[{\"embedding\":[1,2],\"index\":0},{\"embedding\":[2],\"index\":1}]}",
		 2, "data[1]: 1 dimensions, the first item had 2");
	ck_bad_n("{\"data\":[{\"embedding\":[1],\"index\":1},{\"embedding\":[1,2,3],\"index\":0}]}",
		 2, "data[1]: 3 dimensions, the first item had 1");

	big = malloc(20 * (EMBW_MAX_DIM + 2));
	n += (size_t)sprintf(big, "{\"data\":[{\"embedding\":[");
	for (int i = 0; i <= EMBW_MAX_DIM; i++)
		n += (size_t)sprintf(big + n, "%s0.1", i ? "," : "");
	sprintf(big + n, "]}]}");
	ck_bad(big, "8193 dimensions");
	free(big);
}
END_TEST

/* Quantized vectors keep their cosines to within 0.01, so a threshold keeps
 * its meaning; the zero vector stays zero. */
static Suite *embw_suite(void)
{
	Suite *s = suite_create("embw");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, embedding_parse_good);
	tcase_add_test(tc, embedding_parse_bad);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(embw_suite)
