/* fa_text.c: the fake LLM's words. Completion n is a mixed-radix decomposition of a
 * permutation of n over fixed phrase tables plus a price level that grows with n / P,
 * so two calls can never produce the same text (every slot's phrases are distinct and
 * the price pins down the rest of n). Embeddings are hashed trigrams. */
#include "fa_text.h"

#include "fa_map.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FA_N(a) (sizeof(a) / sizeof((a)[0]))

struct fa_asset {
    const char *name;
    int64_t base; /* in units of 10^-decimals */
    int decimals;
    const char *unit;
};

static const struct fa_asset fa_assets[] = {
    { "THYAO", 28740, 2, "TL" },       { "ASELS", 6215, 2, "TL" },
    { "GARAN", 11830, 2, "TL" },       { "AKBNK", 5890, 2, "TL" },
    { "EREGL", 4722, 2, "TL" },        { "SISE", 4480, 2, "TL" },
    { "KCHOL", 17150, 2, "TL" },       { "BIMAS", 49800, 2, "TL" },
    { "TUPRS", 16370, 2, "TL" },       { "FROTO", 101200, 2, "TL" },
    { "SASA", 4136, 2, "TL" },         { "YKBNK", 2984, 2, "TL" },
    { "PGSUS", 87000, 2, "TL" },       { "TCELL", 9245, 2, "TL" },
    { "ISCTR", 1342, 2, "TL" },        { "BIST 100", 985025, 2, "puan" },
    { "dolar/TL", 342150, 4, "TL" },   { "euro/TL", 371200, 4, "TL" },
    { "gram altın", 298550, 2, "TL" }, { "ons altın", 265030, 2, "dolar" },
    { "BTC", 6725000, 2, "dolar" },    { "ETH", 342050, 2, "dolar" },
    { "Brent petrol", 7840, 2, "dolar" }, { "gümüş", 3315, 2, "dolar" },
};

static const char *const fa_openers[] = {
    "Arkadaşlar ", "Bence ", "Dikkat, ", "Şu an ", "Sabah sabah ", "Bugün ", "Valla ",
    "Hocam ", "Açıkçası ", "Beyler ", "Gözünüz olsun, ", "Ekrana bakın, ",
    "Haberiniz olsun, ", "Bu arada ", "Net söylüyorum, ", "Kimse konuşmuyor ama ",
    "Size söyleyeyim, ", "Tahtaya bakınca ", "İlginç, ", "Ciddi söylüyorum, ",
};

static const char *const fa_moves[] = {
    "yine hareketlendi.", "sert düştü.", "tavana koşuyor.", "yatay seyrediyor.",
    "güçlü alıcı buldu.", "satış baskısı altında.", "direnci zorluyor.", "desteğe çekildi.",
    "hacimli yükseliyor.", "kâr satışı yiyor.", "toparlanmaya çalışıyor.",
    "dip arıyor gibi.", "beklenenden iyi gidiyor.", "sessiz sedasız yükseliyor.",
    "bugün çok oynak.", "yabancı alımıyla çıkıyor.", "boşlukla açıldı.",
    "günün en çok konuşulanı.", "endeksten ayrıştı.", "kritik bölgede.",
};

static const char *const fa_views[] = {
    "Teknik olarak", "Bana göre", "Grafiğe bakınca", "Kısa vadede", "Orta vadede",
    "Benim hesabıma göre", "Takas verisine bakılırsa", "Hacme bakılırsa", "Günlük grafikte",
    "Haftalık kapanışta", "Fibonacci'ye göre", "RSI'a bakarsak", "Kurum raporlarına göre",
    "Yabancı akışına bakınca", "Piyasa yapıcıya göre", "Dünkü kapanışa göre",
    "Opsiyon tarafına bakınca", "Mevsimsellik açısından", "Bilanço beklentisiyle",
    "Son haberlerle birlikte",
};

static const char *const fa_levels[] = {
    "seviyesi kritik.", "üstünde kalıcılık şart.", "altına inerse stop olurum.",
    "kırılırsa hareket hızlanır.", "civarı alım fırsatı.", "bölgesinde kâr satışı gelir.",
    "güçlü direnç gibi duruyor.", "sağlam bir destek.", "hedefim, biraz sabır.",
    "görülmeden satmam.", "altı bence ucuz kalıyor.", "üstü şimdilik pahalı.",
    "seviyesinde yoğun emir var.", "ilk hedef olarak izlenmeli.",
    "tutarsa trend devam eder.", "kaybedilirse düşüş derinleşir.",
};

/* Index 0 (no third sentence) keeps answers between two and three sentences. */
static const char *const fa_closers[] = {
    "", " Yatırım tavsiyesi değildir.", " Faiz kararı her şeyi değiştirebilir.",
    " Dolar/TL tarafını da unutmayın.", " Enflasyon verisi öncesi temkinliyim.",
    " Altın hâlâ güvenli liman bence.", " Kripto tarafı da bugün karışık.",
    " Merkez Bankası ne der, bakalım.", " Ben pozisyonumu koruyorum.",
    " Biraz daha ekledim açıkçası.", " Kâr alan pişman olmaz.",
    " Sabreden kazanır, acele etmeyin.", " Bilanço dönemi yaklaşıyor, dikkat.",
    " Fed açıklaması sonrası netleşir.", " Yabancı girişi sürerse güzel olur.",
    " Stopsuz işlem yapmayın arkadaşlar.",
};

/* Random decoration, appended last: cannot collide with any phrase above. */
static const char *const fa_emojis[] = { "", "", "", "", " 📈", " 📉", " 🚀", " 🤔", " 😅" };

#define FA_PRICE_STEPS 100
#define FA_PERM_BITS 33
#define FA_P ((uint64_t)FA_N(fa_assets) * FA_N(fa_openers) * FA_N(fa_moves) * \
              FA_N(fa_views) * FA_N(fa_levels) * FA_N(fa_closers) * FA_PRICE_STEPS)
_Static_assert(FA_P <= (1ULL << FA_PERM_BITS), "phrase tables outgrew the permutation");

/* Formats v (scaled by 10^dec, v >= 0) the Turkish way: 9.850,25 */
static void fa_fmt_price(char *buf, size_t len, int64_t v, int dec)
{
    char rev[24];
    uint64_t x = v > 0 ? (uint64_t)v : 0;
    size_t n = 0, o = 0, ints;

    do { /* least significant digit first, at least dec + 1 digits */
        rev[n++] = (char)('0' + x % 10);
        x /= 10;
    } while ((x || n <= (size_t)dec) && n < sizeof(rev));
    ints = n - (size_t)dec;
    for (size_t i = 0; i < ints && o + 2 < len; i++) {
        if (i > 0 && (ints - i) % 3 == 0)
            buf[o++] = '.';
        buf[o++] = rev[n - 1 - i];
    }
    if (dec > 0 && o + 1 < len)
        buf[o++] = ',';
    for (size_t i = (size_t)dec; i-- > 0 && o + 1 < len;)
        buf[o++] = rev[i];
    buf[o] = '\0';
}

/* A bijection of [0, 2^FA_PERM_BITS): odd multiplications and right xor-shifts are each
 * invertible modulo a power of two. */
static uint64_t fa_mix_bits(uint64_t x)
{
    const uint64_t mask = (1ULL << FA_PERM_BITS) - 1;

    for (int round = 0; round < 3; round++) {
        x = (x * 0x9e3779b97f4a7c15ULL + 0x632be5ULL) & mask;
        x ^= x >> 15;
    }
    return x;
}

/* A bijection of [0, p) by cycle walking, so consecutive completions look unrelated
 * while distinct inputs still give distinct digit tuples. */
static uint64_t fa_permute(uint64_t x, uint64_t p)
{
    do
        x = fa_mix_bits(x);
    while (x >= p);
    return x;
}

static uint64_t fa_digit(uint64_t *r, size_t radix)
{
    uint64_t d = *r % radix;

    *r /= radix;
    return d;
}

char *fa_text_completion(uint64_t n, uint64_t rnd)
{
    const uint64_t P = FA_P;
    uint64_t q = n / P;
    uint64_t r = fa_permute(n % P, P);
    const struct fa_asset *a = &fa_assets[fa_digit(&r, FA_N(fa_assets))];
    const char *opener = fa_openers[fa_digit(&r, FA_N(fa_openers))];
    const char *move = fa_moves[fa_digit(&r, FA_N(fa_moves))];
    const char *view = fa_views[fa_digit(&r, FA_N(fa_views))];
    const char *level = fa_levels[fa_digit(&r, FA_N(fa_levels))];
    const char *closer = fa_closers[fa_digit(&r, FA_N(fa_closers))];
    int64_t step = a->base / 2000 > 0 ? a->base / 2000 : 1;
    int64_t price = a->base - 50 * step + step * (int64_t)(r + FA_PRICE_STEPS * q);
    char pbuf[64], *out = NULL;

    fa_fmt_price(pbuf, sizeof(pbuf), price, a->decimals);
    if (asprintf(&out, "%s%s %s %s %s %s %s%s%s", opener, a->name, move, view, pbuf, a->unit,
                 level, closer, fa_emojis[rnd % FA_N(fa_emojis)]) < 0)
        return NULL;
    return out;
}

void fa_text_embed(const char *text, float out[FA_EMBED_DIM])
{
    size_t len = strlen(text), n = len + 3;
    unsigned char *s = malloc(n);
    double norm = 0;

    memset(out, 0, FA_EMBED_DIM * sizeof(float));
    if (!s)
        return;
    /* Pad so that word starts and short texts still yield trigrams. */
    s[0] = ' ';
    s[1] = ' ';
    for (size_t i = 0; i < len; i++)
        s[i + 2] = (unsigned char)tolower((unsigned char)text[i]);
    s[n - 1] = ' ';
    for (size_t i = 0; i + 3 <= n; i++) {
        uint64_t h = fa_hash64(s + i, 3, 0x7e57);
        out[h % FA_EMBED_DIM] += (h >> 63) ? 1.0f : -1.0f;
    }
    free(s);
    for (int i = 0; i < FA_EMBED_DIM; i++)
        norm += (double)out[i] * out[i];
    norm = sqrt(norm);
    for (int i = 0; i < FA_EMBED_DIM && norm > 0; i++)
        out[i] = (float)(out[i] / norm);
}

size_t fa_text_codepoints(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}
