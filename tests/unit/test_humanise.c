/* test_humanise: a seed replays exactly; with every chance at 0 a neutral persona's
 * text comes back untouched; at 1 each humaniser shows; the tones behave (young
 * slang, professional restraint); emoji follow style.emojis; @mentions, $SYMBOLS,
 * numbers and links survive every run; the result is valid UTF-8 within 500
 * characters; and the rates seen over many draws are the probabilities asked. */
#include "tests/check_main.h"
#include "worker/chat/text/humanise.h"
#include "worker/chat/text/textcheck.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char *const texts[] = {
	"Dolar bugün 34,50 seviyesini geçti, bir şey olacak gibi geliyor.",
	"@ahmet_bey $THYAO da yükseliyor değil mi? Bence %3,5 daha gider.",
	"Altın rekor kırdı. Faiz kararı yarın açıklanacak, bekliyorum.",
	"BIST100 10.000 puanı gördü https://example.com/haber-123 bakabilirsin",
	"piyasa sakin",
};

static json_t *js(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);

	ck_assert_ptr_nonnull(j);
	return j;
}

static const struct humanise_probs zero = { 0, 0, 0, 0, 0 };
static const struct humanise_voice vzero = { 0, 0, 0, 0, 0 };

/* Humanise with only the chances given, the voice knobs at zero. */
static char *run(const char *text, const struct humanise_probs *p, const json_t *persona,
		 const json_t *emotion, uint64_t *rng, unsigned *did)
{
	char *h = humanise_ex(text, p, &vzero, persona, emotion, rng, did);

	ck_assert_ptr_nonnull(h);
	ck_assert(textcheck_utf8_valid(h, strlen(h)));
	ck_assert_int_le(textcheck_utf8_count(h), HUMANISE_MAX_CP);
	return h;
}

START_TEST(defaults)
{
	struct humanise_probs p;
	struct humanise_voice v;

	humanise_probs_default(&p);
	ck_assert(p.opening == .40 && p.hesitation == .55 && p.contraction == .40 &&
		  p.filler == .35 && p.typo == .30);
	humanise_probs_default_human(&p);
	ck_assert(p.opening == .35 && p.hesitation == .25 && p.contraction == .20 &&
		  p.filler == .25 && p.typo == .12);
	humanise_voice_default(&v);
	ck_assert(v.signature_emoji == .3 && v.signature_phrase == .15);
	ck_assert_ptr_null(humanise(NULL, NULL, NULL, NULL, NULL));
}
END_TEST

START_TEST(tone_from_persona_then_emotion)
{
	json_t *young = js("{\"tone\":\"Genç, enerjik\"}"), *pro = js("{\"tone\":\"PROFESYONEL\"}");
	json_t *plain = js("{\"tone\":\"dengeli\"}"), *eyoung = js("{\"tone\":\"slang\"}");

	ck_assert_int_eq(humanise_tone(young, NULL), HUMANISE_YOUNG);
	ck_assert_int_eq(humanise_tone(pro, eyoung), HUMANISE_PRO);
	ck_assert_int_eq(humanise_tone(plain, eyoung), HUMANISE_YOUNG);
	ck_assert_int_eq(humanise_tone(plain, NULL), HUMANISE_NEUTRAL);
	ck_assert_int_eq(humanise_tone(NULL, NULL), HUMANISE_NEUTRAL);
	json_decref(young);
	json_decref(pro);
	json_decref(plain);
	json_decref(eyoung);
}
END_TEST

START_TEST(fixed_seed_reproducible)
{
	json_t *persona = js("{\"tone\":\"genç\",\"style\":{\"emojis\":true}}");
	json_t *emotion = js("{\"signature_emoji\":\"🚀\",\"signature_phrases\":[\"sabır\"]}");
	uint64_t a = 42, b = 42, c = 43;
	int differ = 0;

	for (int i = 0; i < 200; i++) {
		const char *t = texts[i % 5];
		char *x = humanise(t, NULL, persona, emotion, &a);
		char *y = humanise(t, NULL, persona, emotion, &b);
		char *z = humanise(t, NULL, persona, emotion, &c);
		ck_assert_str_eq(x, y);
		differ += strcmp(x, z) != 0;
		free(x);
		free(y);
		free(z);
	}
	ck_assert(a == b);
	ck_assert_int_gt(differ, 50);
	json_decref(persona);
	json_decref(emotion);
}
END_TEST

START_TEST(zero_probabilities_change_nothing)
{
	json_t *neutral = js("{\"tone\":\"dengeli\",\"style\":{\"emojis\":true}}");
	json_t *young = js("{\"tone\":\"genç\",\"style\":{\"emojis\":true}}");
	json_t *emotion = js("{\"tone\":\"sakin\",\"signature_emoji\":\"🚀\"}");
	uint64_t rng = 1;

	for (int i = 0; i < 100; i++) {
		const char *t = texts[i % 5];
		char *h = humanise(t, &zero, neutral, NULL, &rng);
		ck_assert_str_eq(h, t);
		free(h);
		h = humanise(t, &zero, NULL, NULL, &rng);
		ck_assert_str_eq(h, t);
		free(h);
		/* The voice knobs are chances too: at 0 even a young persona is untouched. */
		h = run(t, &zero, young, emotion, &rng, NULL);
		ck_assert_str_eq(h, t);
		free(h);
	}
	json_decref(neutral);
	json_decref(young);
	json_decref(emotion);
}
END_TEST

START_TEST(emojis_false_strips_every_emoji)
{
	json_t *noemoji = js("{\"tone\":\"dengeli\",\"style\":{\"emojis\":false}}");
	json_t *emotion = js("{\"signature_emoji\":\"🔥\"}");
	struct humanise_voice v;
	uint64_t rng = 5;
	char *h;

	h = humanise("🚀 Dolar uçtu 🚀🚀 bence 👍🏻. Altın ❤️ da!", &zero, noemoji,
		     emotion, &rng);
	ck_assert_str_eq(h, "Dolar uçtu bence. Altın da!");
	free(h);
	h = humanise("🚀🔥", &zero, noemoji, emotion, &rng);
	ck_assert_str_eq(h, "");
	free(h);
	/* The signature emoji never comes back when emojis are off. */
	humanise_voice_default(&v);
	v.signature_emoji = 1;
	for (int i = 0; i < 200; i++) {
		h = humanise_ex(texts[i % 5], NULL, &v, noemoji, emotion, &rng, NULL);
		ck_assert_msg(!strstr(h, "🔥"), "%s", h);
		free(h);
	}
	json_decref(noemoji);
	json_decref(emotion);
}
END_TEST

START_TEST(each_humaniser_applies_at_one)
{
	json_t *neutral = js("{\"tone\":\"dengeli\"}");
	const char *t = "Dolar bir şey yapacak gibi geliyor, değil mi? Ben yapıyorum bence.";
	uint64_t rng = 9;
	unsigned did;
	char *h;

	for (int i = 0; i < 100; i++) {
		struct humanise_probs p = zero;

		p.opening = 1;
		h = run(t, &p, neutral, NULL, &rng, &did);
		ck_assert_uint_eq(did, HUMANISE_DID_OPENING);
		/* The opening takes the capital, "Dolar" gives it up. */
		ck_assert_msg(strstr(h, " dolar bir şey") && strcmp(h, t), "%s", h);
		free(h);

		p = zero, p.hesitation = 1;
		h = run(t, &p, neutral, NULL, &rng, &did);
		ck_assert_uint_eq(did, HUMANISE_DID_HESITATION);
		ck_assert_msg(strstr(h, "galiba") || strstr(h, "sanki") ||
				      strstr(h, "ilmiyorum ama") || strstr(h, "..."),
			      "%s", h);
		free(h);

		p = zero, p.contraction = 1;
		h = run(t, &p, neutral, NULL, &rng, &did);
		ck_assert_str_eq(h, "Dolar bi şey yapcak gibi geliyo, di mi? Ben yapıyom bence.");
		free(h);

		p = zero, p.filler = 1;
		h = run(t, &p, neutral, NULL, &rng, &did);
		ck_assert_uint_eq(did, HUMANISE_DID_FILLER);
		ck_assert_msg(strstr(h, " yani") || strstr(h, " işte") || strstr(h, " falan"), "%s", h);
		free(h);
	}
	json_decref(neutral);
}
END_TEST

/* The output is the input with two adjacent letters of one word swapped, then
 * " *word" with that word as it was. */
START_TEST(typo_swaps_and_corrects)
{
	const char *t = "Dolar bugün 34,50 seviyesini geçti, yükseliş sürecek.";
	struct humanise_probs p = zero;
	uint64_t rng = 11;

	p.typo = 1;
	for (int i = 0; i < 300; i++) {
		char *h = run(t, &p, NULL, NULL, &rng, NULL);
		char *star = strstr(h, " *");
		size_t diff = 0, n = strlen(t);

		ck_assert_ptr_nonnull(star);
		ck_assert_uint_eq((size_t)(star - h), n);
		ck_assert_ptr_nonnull(strstr(t, star + 2)); /* the correction is a word of t */
		ck_assert_int_ge(textcheck_utf8_count(star + 2), 5);
		for (size_t k = 0; k < n; k++)
			diff += h[k] != t[k];
		ck_assert_int_ge(diff, 2);
		ck_assert_int_le(diff, 8); /* two letters of at most 4 bytes */
		ck_assert(strncmp(h, t, n) != 0);
		free(h);
	}
}
END_TEST

START_TEST(young_voice)
{
	json_t *young = js("{\"tone\":\"genç\",\"style\":{\"emojis\":true}}");
	json_t *emotion = js("{\"signature_emoji\":\"🚀\",\"signature_phrases\":[\"bu iş biter\"]}");
	struct humanise_voice v = vzero;
	uint64_t rng = 3;
	unsigned did;
	char *h;

	v.slang = 1;
	for (int i = 0; i < 100; i++) {
		h = humanise_ex("Dolar bugün yükseldi.", &zero, &v, young, NULL, &rng, &did);
		ck_assert_msg(strstr(h, "abi") || strstr(h, "bi dolar") || strstr(h, "anka") ||
				      strstr(h, "resmen"),
			      "%s", h);
		free(h);
	}
	v = vzero, v.lowercase_start = 1, v.drop_period = 1;
	h = humanise_ex("Dolar bugün yükseldi.", &zero, &v, young, NULL, &rng, &did);
	ck_assert_str_eq(h, "dolar bugün yükseldi");
	free(h);
	h = humanise_ex("BIST bugün yükseldi...", &zero, &v, young, NULL, &rng, &did);
	ck_assert_str_eq(h, "BIST bugün yükseldi...");
	free(h);
	v = vzero, v.signature_emoji = 1, v.signature_phrase = 1;
	h = humanise_ex("Dolar bugün yükseldi.", &zero, &v, young, emotion, &rng, &did);
	ck_assert_str_eq(h, "Dolar bugün yükseldi. Bu iş biter. 🚀");
	free(h);
	json_decref(young);
	json_decref(emotion);
}
END_TEST

START_TEST(professional_is_restrained)
{
	json_t *pro = js("{\"tone\":\"profesyonel\",\"style\":{\"emojis\":false}}");
	const struct humanise_probs one = { 1, 1, 1, 1, 1 };
	struct humanise_voice v = { 1, 1, 1, 1, 1 };
	const char *t = "Dolar bir şey yapacak gibi geliyor. Altın da yükseliyor.";
	uint64_t rng = 21;
	int openings = 0;

	for (int i = 0; i < 1000; i++) {
		unsigned did;
		char *h = humanise_ex(t, &one, &v, pro, NULL, &rng, &did);

		ck_assert_msg(!(did & (HUMANISE_DID_CONTRACTION | HUMANISE_DID_FILLER | HUMANISE_DID_SLANG |
				       HUMANISE_DID_LOWERCASE | HUMANISE_DID_DROP_PERIOD)),
			      "%x %s", did, h);
		ck_assert_msg(strstr(h, "bir şey") && !strstr(h, "geliyo ") && !strstr(h, "falan") &&
				      !strstr(h, "abi") && !strstr(h, "kanka") && !strstr(h, "..."),
			      "%s", h);
		openings += (did & HUMANISE_DID_OPENING) != 0;
		if (!(did & HUMANISE_DID_TYPO))
			ck_assert_msg(h[strlen(h) - 1] == '.', "%s", h);
		free(h);
	}
	/* Damped: half the opening probability. */
	ck_assert_int_ge(openings, 450);
	ck_assert_int_le(openings, 550);
	json_decref(pro);
}
END_TEST

static void ck_token(const char *h, const char *tok)
{
	const char *at = strstr(h, tok);
	char after;

	ck_assert_msg(at, "'%s' lost in '%s'", tok, h);
	after = at[strlen(tok)];
	ck_assert_msg(!(after >= '0' && after <= '9') &&
			      !((after | 32) >= 'a' && (after | 32) <= 'z') && after != '_',
		      "'%s' altered in '%s'", tok, h);
	ck_assert_msg(at == h || at[-1] == ' ', "'%s' glued in '%s'", tok, h);
}

START_TEST(protected_tokens_survive)
{
	const char *t = "@ahmet_bey $THYAO bugün 34,50 oldu, bence %3,5 daha gider. "
			"Kaynak https://example.com/borsa-haber bakabilirsin @zeynep";
	const char *personas[] = {
		"{\"tone\":\"dengeli\"}",
		"{\"tone\":\"genç\",\"style\":{\"emojis\":false}}",
		"{\"tone\":\"profesyonel\",\"style\":{\"emojis\":true}}",
	};
	json_t *emotion = js("{\"signature_emoji\":\"📈\",\"signature_phrases\":[\"sabır\"]}");
	const struct humanise_probs one = { 1, 1, 1, 1, 1 };
	uint64_t rng = 77;

	for (int i = 0; i < 1000; i++) {
		json_t *persona = js(personas[i % 3]);
		char *h = humanise(t, i % 2 ? &one : NULL, persona, emotion, &rng);

		ck_assert(textcheck_utf8_valid(h, strlen(h)));
		ck_assert_int_le(textcheck_utf8_count(h), HUMANISE_MAX_CP);
		ck_token(h, "@ahmet_bey");
		ck_token(h, "$THYAO");
		ck_token(h, "34,50");
		ck_token(h, "%3,5");
		ck_token(h, "https://example.com/borsa-haber");
		ck_token(h, "@zeynep");
		free(h);
		json_decref(persona);
	}
	json_decref(emotion);
}
END_TEST

START_TEST(output_valid_and_capped)
{
	char in[4096] = "";
	json_t *young = js("{\"tone\":\"genç\",\"style\":{\"emojis\":true}}");
	json_t *emotion = js("{\"signature_emoji\":\"🚀\",\"signature_phrases\":[\"uzun vade\"]}");
	const struct humanise_probs one = { 1, 1, 1, 1, 1 };
	struct humanise_voice v = { 1, 1, 1, 1, 1 };
	uint64_t rng = 8;

	while (textcheck_utf8_count(in) < 490)
		strcat(in, "Şişli'de çiçek güzel, ığdır geliyor. ");
	for (int i = 0; i < 200; i++) {
		char *h = humanise_ex(in, &one, &v, young, emotion, &rng, NULL);
		ck_assert(textcheck_utf8_valid(h, strlen(h)));
		ck_assert_int_le(textcheck_utf8_count(h), HUMANISE_MAX_CP);
		ck_assert_int_le(strlen(h), 4096);
		free(h);
	}
	/* Invalid bytes in, valid text out. */
	char *h = humanise("Dolar\xff\xfe yükseldi \xC3", &one, young, emotion, &rng);
	ck_assert(textcheck_utf8_valid(h, strlen(h)));
	free(h);
	h = humanise("", &one, young, emotion, &rng);
	ck_assert_str_eq(h, "");
	free(h);
	json_decref(young);
	json_decref(emotion);
}
END_TEST

/* The share of changed outputs with one humaniser alone at probability p. */
static double rate(int which, double p, uint64_t seed)
{
	const char *t = "Dolar bir şey yapacak gibi geliyor. Altın da yükseliyor, bekliyorum.";
	struct humanise_probs pr = zero;
	double *slot[] = { &pr.opening, &pr.hesitation, &pr.contraction, &pr.filler, &pr.typo };
	const int n = 4000;
	uint64_t rng = seed;
	int changed = 0;

	*slot[which] = p;
	for (int i = 0; i < n; i++) {
		char *h = run(t, &pr, NULL, NULL, &rng, NULL);
		changed += strcmp(h, t) != 0;
		free(h);
	}
	return (double)changed / n;
}

START_TEST(frequencies_match_probabilities)
{
	struct humanise_probs d, hu;
	double *pd[] = { &d.opening, &d.hesitation, &d.contraction, &d.filler, &d.typo };
	double *ph[] = { &hu.opening, &hu.hesitation, &hu.contraction, &hu.filler, &hu.typo };

	humanise_probs_default(&d);
	humanise_probs_default_human(&hu);
	for (int w = 0; w < 5; w++) {
		double r = rate(w, *pd[w], 1000 + (uint64_t)w);
		ck_assert_msg(r > *pd[w] - 0.03 && r < *pd[w] + 0.03, "humaniser %d: %.3f vs %.2f",
			      w, r, *pd[w]);
		r = rate(w, *ph[w], 2000 + (uint64_t)w);
		ck_assert_msg(r > *ph[w] - 0.03 && r < *ph[w] + 0.03, "humaniser %d: %.3f vs %.2f",
			      w, r, *ph[w]);
	}
}
END_TEST

static Suite *humanise_suite(void)
{
	Suite *s = suite_create("humanise");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, tone_from_persona_then_emotion);
	tcase_add_test(tc, fixed_seed_reproducible);
	tcase_add_test(tc, zero_probabilities_change_nothing);
	tcase_add_test(tc, emojis_false_strips_every_emoji);
	tcase_add_test(tc, each_humaniser_applies_at_one);
	tcase_add_test(tc, typo_swaps_and_corrects);
	tcase_add_test(tc, young_voice);
	tcase_add_test(tc, professional_is_restrained);
	tcase_add_test(tc, protected_tokens_survive);
	tcase_add_test(tc, output_valid_and_capped);
	tcase_add_test(tc, frequencies_match_probabilities);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(humanise_suite)
