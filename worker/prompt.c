/* prompt: see prompt.h. Text is Turkish: the bots speak in Turkish groups. */
#include "prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : dflt;
}

/* "a, b, c" of up to max strings of an array; out is always terminated. */
static void join_strings(json_t *arr, size_t max, char *out, size_t outlen)
{
	size_t i, off = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(arr, i, v) {
		if (i >= max || off >= outlen)
			break;
		if (json_is_string(v))
			off += (size_t)snprintf(out + off, outlen - off, "%s%s", off ? ", " : "",
						json_string_value(v));
	}
}

char *prompt_system(const struct bot *b)
{
	char watch[256], phrases[256], *s = NULL;
	json_t *style = json_object_get(b->persona, "style");
	int emojis = json_is_true(json_object_get(style, "emojis"));

	join_strings(json_object_get(b->persona, "watchlist"), 3, watch, sizeof watch);
	join_strings(json_object_get(b->emotion, "signature_phrases"), 2, phrases, sizeof phrases);
	if (asprintf(&s,
		     "Sen %s adında, bir Telegram piyasa grubunda yazan gerçek bir insansın. "
		     "Üslubun: %s. Risk profilin: %s. Ruh halin: %s. "
		     "Takip ettiklerin: %s. Sık kullandığın ifadeler: %s. %s "
		     "Grup sohbetinde bir insan gibi yaz: kısa, doğal, asistan gibi değil. "
		     "Kazanç vaadi verme, yatırım tavsiyesi verme.",
		     b->name, str_or(b->persona, "tone", "samimi"),
		     str_or(b->persona, "risk_profile", "orta"), str_or(b->emotion, "tone", "sakin"),
		     *watch ? watch : "BIST, dolar, altın", *phrases ? phrases : "-",
		     emojis ? "Arada emoji kullanırsın." : "Emoji kullanmazsın.") < 0)
		return NULL;
	return s;
}

char *prompt_user(const char *bot_name, const char *transcript, json_t *payload)
{
	const char *target = json_string_value(json_object_get(payload, "reply_to_text"));
	const char *topic = json_string_value(json_object_get(payload, "topic"));
	char *s = NULL;

	if (asprintf(&s,
		     "Sohbetin son mesajları:\n%s\n%s%s%s%s%s%s"
		     "Şimdi %s olarak gruba 1-2 cümlelik bir mesaj yaz. Sadece mesajın metni.",
		     *transcript ? transcript : "(henüz mesaj yok)\n",
		     target ? "Şu mesaja cevap ver: " : "", target ? target : "", target ? "\n" : "",
		     topic ? "Konu: " : "", topic ? topic : "", topic ? "\n" : "", bot_name) < 0)
		return NULL;
	return s;
}
