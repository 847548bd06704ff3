/* test_textcheck: promises of gain and machine self-reference are refused (also
 * in Turkish capitals), assistant habits are cut rather than refused, the cap
 * never splits a character, and an empty answer is refused. */
#include "tests/check_main.h"
#include "worker/chat/text/textcheck.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static char out[TEXTCHECK_OUT_MAX];
static char why[256];

static int clean(const char *in)
{
	out[0] = why[0] = '\0';
	return textcheck_clean(in, out, sizeof(out), why, sizeof(why));
}

/* in is kept and cleaned into want. */
static void ck_clean(const char *in, const char *want)
{
	int rc = clean(in);

	ck_assert_msg(rc == 0, "'%s' refused: %s", in, why);
	ck_assert_str_eq(out, want);
}

/* in is refused with a reason starting with reason. */
static void ck_refused(const char *in, const char *reason)
{
	int rc = clean(in);

	ck_assert_msg(rc == -1, "'%s' kept as '%s'", in, out);
	ck_assert_msg(!strncmp(why, reason, strlen(reason)), "'%s': why '%s'", in, why);
}

START_TEST(promises_dropped)
{
	ck_refused("Bu hisse KESİN KAZANÇ getirir, alın!", "promise of gain: 'kesin kazanç'");
	ck_refused("bu hisse kesin kazanç", "promise of gain: 'kesin kazanç'");
	ck_refused("KESIN KAZANC burada arkadaslar", "promise of gain: 'kesin kazanç'");
	ck_refused("Altın kesin kazandırır bence", "promise of gain: 'kesin kazandırır'");
	ck_refused("Yükselmesi GARANTİ", "promise of gain: 'garanti'");
	ck_refused("Garantili bir getiri var burada", "promise of gain: 'garantili'");
	ck_refused("%100 kazanç, kaçırmayın", "promise of gain");
	ck_refused("Bu fırsatı KAÇIRMAYIN!", "promise of gain: 'kaçırmayın'");
	ck_refused("Risksiz kazanç fırsatı", "promise of gain: 'risksiz kazanç'");
	ck_refused("Hepiniz zengin olacaksınız", "promise of gain: 'zengin olacaksınız'");
	ck_refused("This is a guaranteed profit", "promise of gain: 'guaranteed profit'");
	ck_refused("Tamamen risk-free bir işlem", "promise of gain: 'risk-free'");
}
END_TEST

START_TEST(promise_words_that_are_not_promises)
{
	ck_clean("Garanti BBVA hisseleri bugün yükseldi.", "Garanti BBVA hisseleri bugün yükseldi.");
	ck_clean("Garanti'nin bilançosu iyi geldi", "Garanti'nin bilançosu iyi geldi");
	ck_clean("Borsada hiçbir şey garanti değil.", "Borsada hiçbir şey garanti değil.");
	ck_clean("Kesin kazanç yok, dikkatli olun.", "Kesin kazanç yok, dikkatli olun.");
	ck_clean("Bunun garantisi yok tabii.", "Bunun garantisi yok tabii.");
}
END_TEST

START_TEST(assistant_prefixes_removed)
{
	ck_clean("Tabii ki! Dolar bugün 34,50'yi geçti.", "Dolar bugün 34,50'yi geçti.");
	ck_clean("Elbette! Altın yine rekor kırdı", "Altın yine rekor kırdı");
	ck_clean("Tabii, bence BIST biraz dinlenir.", "bence BIST biraz dinlenir.");
	ck_clean("TABİİ Kİ, faiz kararı önemli.", "faiz kararı önemli.");
	ck_clean("Sure! Piyasa bugün sakin.", "Piyasa bugün sakin.");
	ck_clean("İşte mesajım: piyasa bugün sakin.", "piyasa bugün sakin.");
	ck_clean("İşte, dolar yine yükseliyor", "dolar yine yükseliyor");
	ck_clean("Harika soru! Enflasyon verisi yarın.", "Enflasyon verisi yarın.");
	/* A person talking, not an assistant: kept as written. */
	ck_clean("Elbette dolar yükselir, faiz düşüyor.", "Elbette dolar yükselir, faiz düşüyor.");
	ck_clean("İşte bu yüzden altın alıyorum.", "İşte bu yüzden altın alıyorum.");
}
END_TEST

START_TEST(ai_self_reference_dropped)
{
	ck_refused("Bir yapay zeka olarak yatırım tavsiyesi veremem.", "assistant voice");
	ck_refused("YAPAY ZEKA OLARAK bir fikrim yok", "assistant voice");
	ck_refused("Dolar yükselir. Ama ben bir dil modeliyim, emin olamam.", "assistant voice");
	ck_refused("As an AI, I cannot predict markets.", "assistant voice");
	ck_refused("I'm an AI language model.", "assistant voice");
	ck_refused("Size nasıl yardımcı olabilirim?", "assistant voice");
	/* Talking about AI stocks is fine. */
	ck_clean("Yapay zeka hisseleri uçuyor", "Yapay zeka hisseleri uçuyor");
}
END_TEST

START_TEST(labels_and_quotes_removed)
{
	ck_clean("Ahmet: Dolar yine yükseliyor.", "Dolar yine yükseliyor.");
	ck_clean("[Ahmet]: Dolar yine yükseliyor.", "Dolar yine yükseliyor.");
	ck_clean("[Mehmet Bey] altın iyi", "altın iyi");
	ck_clean("Ayşe Hanım: faiz önemli", "faiz önemli");
	ck_clean("@kripto_kemal: BTC sakin", "BTC sakin");
	ck_clean("\"Dolar uçtu.\"", "Dolar uçtu.");
	ck_clean("\xE2\x80\x9C"
		 "Dolar uçtu"
		 "\xE2\x80\x9D",
		 "Dolar uçtu");
	ck_clean("\xC2\xAB"
		 "Altın güçlü"
		 "\xC2\xBB",
		 "Altın güçlü");
	ck_clean("Ahmet: \"Dolar uçtu\"", "Dolar uçtu");
	ck_clean("\"[Ahmet]: Tabii ki! Altın iyi\"", "Altın iyi");
	/* Market labels, tickers, times and inner quotes stay. */
	ck_clean("Dolar: 34,50 oldu", "Dolar: 34,50 oldu");
	ck_clean("Altın: yükselişte", "Altın: yükselişte");
	ck_clean("BIST: yeni rekor", "BIST: yeni rekor");
	ck_clean("Hedef: 40 TL", "Hedef: 40 TL");
	ck_clean("\"Dolar\" dediler, \"altın\" çıktı", "\"Dolar\" dediler, \"altın\" çıktı");
}
END_TEST

START_TEST(markdown_and_whitespace)
{
	ck_clean("**Dolar** yükseldi, `altın` düştü", "Dolar yükseldi, altın düştü");
	ck_clean("## Özet\n- dolar yükseldi\n- altın düştü\n\n> faiz sabit",
		 "Özet dolar yükseldi altın düştü faiz sabit");
	ck_clean("  dolar \n\n  yükseldi\t\tbugün  ", "dolar yükseldi bugün");
	ck_clean("#BIST100 rekor kırdı", "#BIST100 rekor kırdı");
	ck_clean("Dolar\xff yükseldi\x01", "Dolar yükseldi");
	ck_clean("dolar\xC2\xA0yükseldi\xE2\x80\x8B!", "dolar yükseldi!");
	ck_clean("🚀🚀", "🚀🚀");
}
END_TEST

/* A model's hostile output: bidirectional overrides, embeddings, isolates and
 * marks would reorder the message in the chat, zero-width characters hide in
 * it; all go. A zero-width joiner stays inside an emoji sequence only (issue 19,
 * item 10). */
START_TEST(bidi_and_invisible_characters_dropped)
{
	ck_clean("Dolar \xE2\x80\xAEyükseldi\xE2\x80\xAC bugün", "Dolar yükseldi bugün");
	ck_clean("\xE2\x80\xAA\xE2\x80\xAB\xE2\x80\xAD altın\xE2\x80\x8E\xE2\x80\x8F düştü",
		 "altın düştü");
	ck_clean("faiz \xE2\x81\xA6sabit\xE2\x81\xA9 \xE2\x81\xA7kaldı\xE2\x81\xA8",
		 "faiz sabit kaldı");
	ck_clean("\xEF\xBB\xBF"
		 "BIST\xE2\x80\x8C\xE2\x80\x8D yükseliyor\xD8\x9C\xE2\x81\xA0",
		 "BIST yükseliyor");
	/* a family, a heart on fire, a skin tone: joined as written */
	ck_clean("aile \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
		 "aile \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7");
	ck_clean("piyasa \xE2\x9D\xA4\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x94\xA5",
		 "piyasa \xE2\x9D\xA4\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x94\xA5");
	/* a joiner next to a letter or at an end glues nothing; doubled, one stays */
	ck_clean("dolar\xE2\x80\x8D\xF0\x9F\x9A\x80", "dolar\xF0\x9F\x9A\x80");
	ck_clean("\xF0\x9F\x9A\x80\xE2\x80\x8D\xE2\x80\x8D\xF0\x9F\x9A\x80",
		 "\xF0\x9F\x9A\x80\xE2\x80\x8D\xF0\x9F\x9A\x80");
	ck_clean("\xE2\x80\x8D\xF0\x9F\x9A\x80 uçuş\xE2\x80\x8D", "\xF0\x9F\x9A\x80 uçuş");
	ck_clean("\xF0\x9F\x9A\x80\xE2\x80\x8D", "\xF0\x9F\x9A\x80");
}
END_TEST

START_TEST(cap_long_turkish_at_sentence_end)
{
	char in[8192] = "";

	for (int i = 0; i < 40; i++)
		strcat(in, "Şişli'de ığdır çiçeği güzel. ");
	ck_assert_int_gt(textcheck_utf8_count(in), 1000);
	ck_assert_int_eq(clean(in), 0);
	ck_assert(textcheck_utf8_valid(out, strlen(out)));
	ck_assert_int_le(textcheck_utf8_count(out), TEXTCHECK_MAX_CP);
	ck_assert_int_gt(textcheck_utf8_count(out), TEXTCHECK_MAX_CP - 150);
	ck_assert_int_eq(out[strlen(out) - 1], '.');
}
END_TEST

START_TEST(cap_long_turkish_at_word_boundary)
{
	char in[8192] = "";

	for (int i = 0; i < 150; i++)
		strcat(in, i % 2 ? "çiğdem " : "ığdır, ");
	ck_assert_int_eq(clean(in), 0);
	ck_assert(textcheck_utf8_valid(out, strlen(out)));
	ck_assert_int_le(textcheck_utf8_count(out), TEXTCHECK_MAX_CP);
	ck_assert_int_gt(textcheck_utf8_count(out), TEXTCHECK_MAX_CP - 10);
	/* Ends on a whole word, without a dangling comma. */
	size_t n = strlen(out), a = strlen("çiğdem"), b = strlen("ığdır");
	ck_assert_msg(!strcmp(out + n - a, "çiğdem") || !strcmp(out + n - b, "ığdır"), "ends: %s",
		      out + n - 12);
}
END_TEST

START_TEST(cap_never_splits_a_character)
{
	char in[8192] = "";

	/* One 700-letter word of 2-byte letters, then 3- and 4-byte characters. */
	for (int i = 0; i < 700; i++)
		strcat(in, "ğ");
	ck_assert_int_eq(clean(in), 0);
	ck_assert(textcheck_utf8_valid(out, strlen(out)));
	ck_assert_int_eq(textcheck_utf8_count(out), TEXTCHECK_MAX_CP);
	ck_assert_int_eq(strlen(out), 2 * TEXTCHECK_MAX_CP);

	in[0] = '\0';
	for (int i = 0; i < 300; i++)
		strcat(in, "a€🚀");
	ck_assert_int_eq(clean(in), 0);
	ck_assert(textcheck_utf8_valid(out, strlen(out)));
	ck_assert_int_eq(textcheck_utf8_count(out), TEXTCHECK_MAX_CP);

	/* Every cap size over a mixed text keeps whole characters. */
	for (size_t cap = 0; cap < 40; cap++) {
		char s[256] = "Dolar ığdır'da 34,50 🚀 oldu. Şimdi İstanbul€ çok güzel";
		textcheck_cap(s, cap);
		ck_assert(textcheck_utf8_valid(s, strlen(s)));
		ck_assert_int_le(textcheck_utf8_count(s), cap);
	}
}
END_TEST

START_TEST(empty_answers_refused)
{
	ck_refused("", "empty answer");
	ck_refused(NULL, "empty answer");
	ck_refused("   \n\t ", "empty answer");
	ck_refused("\"\"", "empty answer");
	ck_refused("**", "empty answer");
	ck_refused("Tabii ki!", "empty answer");
	ck_refused("Ahmet:", "empty answer");
	ck_refused("...", "empty answer");
	ck_refused("\xff\xfe", "empty answer");
}
END_TEST

START_TEST(small_buffer_refused)
{
	char small[5];

	ck_assert_int_eq(textcheck_clean("Dolar yükseldi", small, sizeof(small), why, sizeof(why)), -1);
	ck_assert_str_eq(why, "output buffer too small");
	/* No why buffer is fine too. */
	ck_assert_int_eq(textcheck_clean("", out, sizeof(out), NULL, 0), -1);
}
END_TEST

START_TEST(utf8_and_case_helpers)
{
	uint32_t cp;

	ck_assert_uint_eq(textcheck_lower('I'), 0x131);   /* I -> ı */
	ck_assert_uint_eq(textcheck_lower(0x130), 'i');   /* İ -> i */
	ck_assert_uint_eq(textcheck_lower(0x15E), 0x15F); /* Ş -> ş */
	ck_assert_uint_eq(textcheck_lower(0x11E), 0x11F); /* Ğ -> ğ */
	ck_assert_uint_eq(textcheck_lower(0xDC), 0xFC);   /* Ü -> ü */
	ck_assert_uint_eq(textcheck_lower(0xD6), 0xF6);   /* Ö -> ö */
	ck_assert_uint_eq(textcheck_lower(0xC7), 0xE7);   /* Ç -> ç */
	ck_assert_uint_eq(textcheck_upper('i'), 0x130);
	ck_assert_uint_eq(textcheck_upper(0x131), 'I');
	ck_assert_uint_eq(textcheck_upper(0x15F), 0x15E);
	ck_assert(textcheck_is_letter(0x11F) && textcheck_is_letter('a') &&
		  textcheck_is_letter(0x4E00));
	ck_assert(!textcheck_is_letter('1') && !textcheck_is_letter('!') &&
		  !textcheck_is_letter(0x1F680));
	ck_assert(textcheck_is_emoji(0x1F680) && textcheck_is_emoji(0x2764) &&
		  !textcheck_is_emoji('a'));
	ck_assert(!textcheck_utf8_valid("\xC0\xAF", 2));     /* overlong */
	ck_assert(!textcheck_utf8_valid("\xED\xA0\x80", 3)); /* surrogate */
	ck_assert(!textcheck_utf8_valid("\xE2\x82", 2));     /* truncated */
	ck_assert(textcheck_utf8_valid("çğ🚀", strlen("çğ🚀")));
	ck_assert_uint_eq(textcheck_utf8_next("\xF0\x9F\x9A\x80", 4, &cp), 4);
	ck_assert_uint_eq(cp, 0x1F680);
	ck_assert(textcheck_fold_contains("KESİN KAZANÇ", "kesin kazanc"));
	ck_assert(!textcheck_fold_contains("kesin", "kesin kazanç"));
}
END_TEST

/* Phrases are matched on a folded copy of the text: what follows a match (a
 * negation, an apostrophe) must still be read at the right place in the original
 * when folding shortened what came before (İ, ’ and Ş take fewer bytes folded). */
START_TEST(matches_after_shortening_folds)
{
	char in[4096] = "";

	ck_clean("İİİ KESİN KAZANÇ DEĞİL", "İİİ KESİN KAZANÇ DEĞİL");
	ck_clean("ŞİMDİ GARANTİ’NİN HİSSELERİ", "ŞİMDİ GARANTİ’NİN HİSSELERİ");
	ck_refused("I’m an AI, sorry", "assistant voice: 'i'm an ai'");
	ck_refused("🚀🚀 yapay zeka olarak söylüyorum", "assistant voice: 'yapay zeka olarak'");
	/* An excused match does not hide a later one. */
	ck_refused("Garanti BBVA iyi ama getirisi garanti", "promise of gain: 'garanti'");
	ck_refused("Garanti değil ama sonra GARANTİLİ dedi", "promise of gain: 'garantili'");
	/* A phrase that starts with a letter starts a word; "%100" need not. */
	ck_clean("Bu ugarantili bir iş", "Bu ugarantili bir iş");
	ck_refused("a%100 kazanç", "promise of gain: '%100 kazanç'");
	/* Far into a long message. */
	for (int i = 0; i < 100; i++)
		strcat(in, "Işıl'ın çiçeği 🚀 ");
	strcat(in, "KESİN KAZANÇ");
	ck_refused(in, "promise of gain: 'kesin kazanç'");

	ck_assert_uint_eq(textcheck_fold_prefix("İSTANBUL’da", strlen("İSTANBUL’da"), "istanbul'"),
			  strlen("İSTANBUL’"));
	ck_assert_uint_eq(textcheck_fold_prefix("İSTANBUL", strlen("İSTANBUL"), "istanbulda"), 0);
	ck_assert(textcheck_fold_contains("bugün ŞİMDİ değil", "simdi"));
	ck_assert(textcheck_fold_contains("abc", ""));
	ck_assert(!textcheck_fold_contains("", "a"));
}
END_TEST

static Suite *textcheck_suite(void)
{
	Suite *s = suite_create("textcheck");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, promises_dropped);
	tcase_add_test(tc, promise_words_that_are_not_promises);
	tcase_add_test(tc, assistant_prefixes_removed);
	tcase_add_test(tc, ai_self_reference_dropped);
	tcase_add_test(tc, labels_and_quotes_removed);
	tcase_add_test(tc, markdown_and_whitespace);
	tcase_add_test(tc, bidi_and_invisible_characters_dropped);
	tcase_add_test(tc, cap_long_turkish_at_sentence_end);
	tcase_add_test(tc, cap_long_turkish_at_word_boundary);
	tcase_add_test(tc, cap_never_splits_a_character);
	tcase_add_test(tc, empty_answers_refused);
	tcase_add_test(tc, small_buffer_refused);
	tcase_add_test(tc, utf8_and_case_helpers);
	tcase_add_test(tc, matches_after_shortening_folds);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(textcheck_suite)
