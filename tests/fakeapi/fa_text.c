/* fa_text.c: the fake LLM's words. A completion is built from a profile: the phrase
 * tables of one topic (general, BIST, FX, Kripto, Makro, or one symbol). Completion n
 * is a mixed-radix decomposition of a permutation of n over the profile's tables plus
 * a price level that grows with n / P, so within a profile two calls can never produce
 * the same text (every slot's phrases are distinct and the price pins down the rest
 * of n). Across profiles texts differ too: the second sentence starts with a "view"
 * phrase and every profile has its own view table, pairwise disjoint and free of
 * digits and '%' (so the view ends where the price starts). A reply opener is a prefix
 * that no plain opener starts with, and the emoji a suffix no phrase ends with, so
 * neither can make two texts equal. Embeddings are hashed trigrams. */
#include "tests/fakeapi/fa_text.h"

#include "tests/fakeapi/fa_map.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FA_N(a) (sizeof(a) / sizeof((a)[0]))
#define FA_TABLE(a) a, FA_N(a)

struct fa_asset {
    const char *name;
    int64_t base; /* in units of 10^-decimals */
    int decimals;
    const char *unit; /* "%" is written before the number: %47,50 */
};

static const struct fa_asset fa_assets[] = {
    { "THYAO", 28740, 2, "TL" },
    { "ASELS", 6215, 2, "TL" },
    { "GARAN", 11830, 2, "TL" },
    { "AKBNK", 5890, 2, "TL" },
    { "EREGL", 4722, 2, "TL" },
    { "SISE", 4480, 2, "TL" },
    { "KCHOL", 17150, 2, "TL" },
    { "BIMAS", 49800, 2, "TL" },
    { "TUPRS", 16370, 2, "TL" },
    { "FROTO", 101200, 2, "TL" },
    { "SASA", 4136, 2, "TL" },
    { "YKBNK", 2984, 2, "TL" },
    { "PGSUS", 87000, 2, "TL" },
    { "TCELL", 9245, 2, "TL" },
    { "ISCTR", 1342, 2, "TL" },
    { "BIST 100", 985025, 2, "puan" },
    { "dolar/TL", 342150, 4, "TL" },
    { "euro/TL", 371200, 4, "TL" },
    { "gram altın", 298550, 2, "TL" },
    { "ons altın", 265030, 2, "dolar" },
    { "BTC", 6725000, 2, "dolar" },
    { "ETH", 342050, 2, "dolar" },
    { "Brent petrol", 7840, 2, "dolar" },
    { "gümüş", 3315, 2, "dolar" },
};

static const struct fa_asset fa_bist_assets[] = {
    { "THYAO", 28740, 2, "TL" },       { "ASELS", 6215, 2, "TL" },  { "GARAN", 11830, 2, "TL" },
    { "AKBNK", 5890, 2, "TL" },        { "EREGL", 4722, 2, "TL" },  { "SISE", 4480, 2, "TL" },
    { "KCHOL", 17150, 2, "TL" },       { "BIMAS", 49800, 2, "TL" }, { "TUPRS", 16370, 2, "TL" },
    { "FROTO", 101200, 2, "TL" },      { "SASA", 4136, 2, "TL" },   { "YKBNK", 2984, 2, "TL" },
    { "PGSUS", 87000, 2, "TL" },       { "TCELL", 9245, 2, "TL" },  { "ISCTR", 1342, 2, "TL" },
    { "BIST 100", 985025, 2, "puan" },
};

static const struct fa_asset fa_fx_assets[] = {
    { "dolar/TL", 342150, 4, "TL" },
    { "euro/TL", 371200, 4, "TL" },
    { "sterlin/TL", 435600, 4, "TL" },
    { "euro/dolar", 10850, 4, "dolar" },
};

static const struct fa_asset fa_kripto_assets[] = {
    { "BTC", 6725000, 2, "dolar" }, { "ETH", 342050, 2, "dolar" }, { "SOL", 14550, 2, "dolar" },
    { "XRP", 5230, 4, "dolar" },    { "AVAX", 3510, 2, "dolar" },  { "BNB", 58040, 2, "dolar" },
};

static const struct fa_asset fa_makro_assets[] = {
    { "politika faizi", 5000, 2, "%" },  { "yıllık enflasyon", 4438, 2, "%" },
    { "aylık enflasyon", 291, 2, "%" },  { "10 yıllık tahvil faizi", 2780, 2, "%" },
    { "CDS primi", 285, 0, "baz puan" }, { "Fed faizi", 450, 2, "%" },
};

static const char *const fa_openers[] = {
    "Arkadaşlar ",       "Bence ",           "Dikkat, ",         "Şu an ",
    "Sabah sabah ",      "Bugün ",           "Valla ",           "Hocam ",
    "Açıkçası ",         "Beyler ",          "Gözünüz olsun, ",  "Ekrana bakın, ",
    "Haberiniz olsun, ", "Bu arada ",        "Net söylüyorum, ", "Kimse konuşmuyor ama ",
    "Size söyleyeyim, ", "Tahtaya bakınca ", "İlginç, ",         "Ciddi söylüyorum, ",
};

/* Put before the opener (whose first letter is then lowered) when answering someone.
 * No plain opener starts with one of these, and none is a prefix of another. */
static const char *const fa_reply_openers[] = {
    "Katılıyorum, ",    "Bence öyle değil, ",  "Haklısın ama ", "Aynen öyle, ",
    "Pek sanmıyorum, ", "Doğru söylüyorsun, ", "Yok artık, ",   "İtiraz edeceğim, ",
};

static const char *const fa_moves[] = {
    "yine hareketlendi.",       "sert düştü.",
    "tavana koşuyor.",          "yatay seyrediyor.",
    "güçlü alıcı buldu.",       "satış baskısı altında.",
    "direnci zorluyor.",        "desteğe çekildi.",
    "hacimli yükseliyor.",      "kâr satışı yiyor.",
    "toparlanmaya çalışıyor.",  "dip arıyor gibi.",
    "beklenenden iyi gidiyor.", "sessiz sedasız yükseliyor.",
    "bugün çok oynak.",         "yabancı alımıyla çıkıyor.",
    "boşlukla açıldı.",         "günün en çok konuşulanı.",
    "endeksten ayrıştı.",       "kritik bölgede.",
};

static const char *const fa_fx_moves[] = {
    "yine hareketlendi.",       "yukarı yönlü baskı altında.",
    "sakin seyrediyor.",        "sert geri çekildi.",
    "yeni zirve denedi.",       "günü dar bantta geçiriyor.",
    "yükselişini sürdürüyor.",  "ani bir sıçrama yaptı.",
    "güne yükselişle başladı.", "akşam saatlerinde hızlandı.",
    "kritik bölgede.",          "beklenenden sakin.",
};

static const char *const fa_kripto_moves[] = {
    "yine hareketlendi.",          "sert düştü.",
    "yeni zirveye koşuyor.",       "yatay seyrediyor.",
    "balina alımıyla yükseliyor.", "likidasyon dalgası yedi.",
    "direnci zorluyor.",           "desteğe çekildi.",
    "hafta sonu sakin.",           "gece boyunca çok oynak.",
    "fonlama oranlarıyla ısındı.", "toparlanmaya çalışıyor.",
};

static const char *const fa_makro_moves[] = {
    "yine gündemde.",    "beklentinin üzerinde geldi.", "beklentilerin altında kaldı.",
    "sürpriz yaptı.",    "yükseliş eğiliminde.",        "geriliyor.",
    "yatay seyrediyor.", "piyasanın odağında.",         "herkesin dilinde.",
    "sert tepki çekti.", "fiyatlamaları değiştirdi.",   "yeniden tartışılıyor.",
};

/* The view tables: pairwise disjoint, no digits, no '%' (see the top comment). */
static const char *const fa_views[] = {
    "Teknik olarak",
    "Bana göre",
    "Grafiğe bakınca",
    "Kısa vadede",
    "Orta vadede",
    "Benim hesabıma göre",
    "Takas verisine bakılırsa",
    "Hacme bakılırsa",
    "Günlük grafikte",
    "Haftalık kapanışta",
    "Fibonacci'ye göre",
    "RSI'a bakarsak",
    "Kurum raporlarına göre",
    "Yabancı akışına bakınca",
    "Piyasa yapıcıya göre",
    "Dünkü kapanışa göre",
    "Opsiyon tarafına bakınca",
    "Mevsimsellik açısından",
    "Bilanço beklentisiyle",
    "Son haberlerle birlikte",
};

static const char *const fa_bist_views[] = {
    "Endeks tarafında",
    "Takasta",
    "Derinliğe bakınca",
    "Seans içinde",
    "Açılış seansında",
    "Kapanış seansına göre",
    "Bankacılık endeksine bakınca",
    "Yabancı payına göre",
    "Aracı kurum dağılımına göre",
    "VİOP tarafına bakınca",
};

static const char *const fa_fx_views[] = {
    "Kur tarafında",
    "Spot piyasada",
    "Forward fiyatlamasına göre",
    "Bankalar arası piyasada",
    "Parite tarafında",
    "Döviz bürolarına bakınca",
    "Swap tarafına bakınca",
    "Rezerv verisiyle birlikte",
    "Dolar endeksine bakınca",
    "İhracatçı satışlarıyla",
};

static const char *const fa_kripto_views[] = {
    "Zincir üstü verilere göre", "Balina cüzdanlarına bakınca", "Fonlama oranlarına göre",
    "Kripto tarafında",          "Borsa girişlerine bakınca",   "Halving döngüsüne göre",
    "Açık pozisyonlara bakınca", "Likidasyon haritasına göre",  "Dominansa bakınca",
    "Stablecoin akışına göre",
};

static const char *const fa_makro_views[] = {
    "Ekonomistlere göre",         "Piyasa fiyatlamasına göre",       "Anket beklentisine göre",
    "Kurum tahminlerine bakınca", "Merkez Bankası iletişimine göre", "Makro açıdan",
    "Öncü göstergelere bakınca",  "Swap piyasasına bakınca",         "Geçmiş döngülere bakınca",
    "Politika metnine göre",
};

static const char *const fa_symbol_views[] = {
    "Yakından izlediğim kadarıyla", "Kendi notlarıma göre",    "Uzun süredir takipteyim,",
    "Portföyümdeki payına göre",    "Son işlemlerime bakınca", "Alım listemde",
    "İzleme listeme göre",          "Geçen haftadan beri",
};

static const char *const fa_levels[] = {
    "seviyesi kritik.",
    "üstünde kalıcılık şart.",
    "altına inerse stop olurum.",
    "kırılırsa hareket hızlanır.",
    "civarı alım fırsatı.",
    "bölgesinde kâr satışı gelir.",
    "güçlü direnç gibi duruyor.",
    "sağlam bir destek.",
    "hedefim, biraz sabır.",
    "görülmeden satmam.",
    "altı bence ucuz kalıyor.",
    "üstü şimdilik pahalı.",
    "seviyesinde yoğun emir var.",
    "ilk hedef olarak izlenmeli.",
    "tutarsa trend devam eder.",
    "kaybedilirse düşüş derinleşir.",
};

static const char *const fa_makro_levels[] = {
    "seviyesi kritik.",
    "üstü piyasayı korkutur.",
    "altına inerse rahatlarız.",
    "civarında kalması bekleniyor.",
    "seviyesi çoktan fiyatlandı.",
    "bölgesinde sabit kalır bence.",
    "üstünde kalırsa faiz indirimi gecikir.",
    "altı kalıcı olursa rahatlama gelir.",
    "seviyesi borsaya iyi gelmez.",
    "bandı hâlâ yüksek.",
};

/* Index 0 (no third sentence) keeps answers between two and three sentences. */
static const char *const fa_closers[] = {
    "",
    " Yatırım tavsiyesi değildir.",
    " Faiz kararı her şeyi değiştirebilir.",
    " Dolar/TL tarafını da unutmayın.",
    " Enflasyon verisi öncesi temkinliyim.",
    " Altın hâlâ güvenli liman bence.",
    " Kripto tarafı da bugün karışık.",
    " Merkez Bankası ne der, bakalım.",
    " Ben pozisyonumu koruyorum.",
    " Biraz daha ekledim açıkçası.",
    " Kâr alan pişman olmaz.",
    " Sabreden kazanır, acele etmeyin.",
    " Bilanço dönemi yaklaşıyor, dikkat.",
    " Fed açıklaması sonrası netleşir.",
    " Yabancı girişi sürerse güzel olur.",
    " Stopsuz işlem yapmayın arkadaşlar.",
};

/* Random decoration, appended last: cannot collide with any phrase above. */
static const char *const fa_emojis[] = { "", "", "", "", " 📈", " 📉", " 🚀", " 🤔", " 😅" };

struct fa_profile {
    const char *topic; /* the "Konu:" word that selects it; NULL for the general one */
    const struct fa_asset *assets;
    size_t nassets;
    const char *const *moves;
    size_t nmoves;
    const char *const *views;
    size_t nviews;
    const char *const *levels;
    size_t nlevels;
};

static const struct fa_profile fa_profiles[] = {
    { NULL, FA_TABLE(fa_assets), FA_TABLE(fa_moves), FA_TABLE(fa_views), FA_TABLE(fa_levels) },
    { "BIST", FA_TABLE(fa_bist_assets), FA_TABLE(fa_moves), FA_TABLE(fa_bist_views),
      FA_TABLE(fa_levels) },
    { "FX", FA_TABLE(fa_fx_assets), FA_TABLE(fa_fx_moves), FA_TABLE(fa_fx_views), FA_TABLE(fa_levels) },
    { "Kripto", FA_TABLE(fa_kripto_assets), FA_TABLE(fa_kripto_moves), FA_TABLE(fa_kripto_views),
      FA_TABLE(fa_levels) },
    { "Makro", FA_TABLE(fa_makro_assets), FA_TABLE(fa_makro_moves), FA_TABLE(fa_makro_views),
      FA_TABLE(fa_makro_levels) },
};

/* Other names of a few assets in a "Konu:" line. */
static const struct {
    const char *alias, *name;
} fa_aliases[] = {
    { "dolar", "dolar/TL" },      { "usd", "dolar/TL" },
    { "euro", "euro/TL" },        { "eur", "euro/TL" },
    { "altın", "gram altın" },    { "bitcoin", "BTC" },
    { "ethereum", "ETH" },        { "petrol", "Brent petrol" },
    { "xu100", "BIST 100" },      { "enflasyon", "yıllık enflasyon" },
    { "faiz", "politika faizi" },
};

#define FA_PRICE_STEPS 100
#define FA_P                                                                          \
    ((uint64_t)FA_N(fa_assets) * FA_N(fa_openers) * FA_N(fa_moves) * FA_N(fa_views) * \
     FA_N(fa_levels) * FA_N(fa_closers) * FA_PRICE_STEPS)
/* The general profile is the largest; the permutation works on up to 2^40. */
_Static_assert(FA_P <= (1ULL << 40), "phrase tables outgrew the permutation");

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

/* A bijection of [0, 2^bits): odd multiplications and right xor-shifts are each
 * invertible modulo a power of two. */
static uint64_t fa_mix_bits(uint64_t x, int bits)
{
    const uint64_t mask = (1ULL << bits) - 1;

    for (int round = 0; round < 3; round++) {
        x = (x * 0x9e3779b97f4a7c15ULL + 0x632be5ULL) & mask;
        x ^= x >> (bits / 2);
    }
    return x;
}

/* A bijection of [0, p) by cycle walking over the smallest power of two holding p, so
 * consecutive completions look unrelated while distinct inputs still give distinct
 * digit tuples. */
static uint64_t fa_permute(uint64_t x, uint64_t p)
{
    int bits = 2;

    while (bits < 63 && (1ULL << bits) < p)
        bits++;
    do
        x = fa_mix_bits(x, bits);
    while (x >= p);
    return x;
}

static uint64_t fa_digit(uint64_t *r, size_t radix)
{
    uint64_t d = *r % radix;

    *r /= radix;
    return d;
}

/* ---- choosing the profile ---- */

/* ASCII and Turkish-aware case-insensitive equality (İ/i/I/ı all equal). */
static int fa_same_word(const char *a, const char *b)
{
    static const char *const up[] = { "İ", "Ş", "Ğ", "Ü", "Ö", "Ç", "ı" };
    static const char *const lo[] = { "i", "ş", "ğ", "ü", "ö", "ç", "i" };
    char fa[64], fb[64];
    const char *in[2] = { a, b };
    char *out[2] = { fa, fb };

    for (int k = 0; k < 2; k++) {
        size_t o = 0;
        for (const char *p = in[k]; *p && o + 3 < sizeof(fa);) {
            size_t i;
            for (i = 0; i < FA_N(up); i++)
                if (strncmp(p, up[i], strlen(up[i])) == 0)
                    break;
            if (i < FA_N(up)) {
                o += (size_t)sprintf(out[k] + o, "%s", lo[i]);
                p += strlen(up[i]);
            } else {
                out[k][o++] = (char)tolower((unsigned char)*p++);
            }
        }
        out[k][o] = '\0';
    }
    return strcmp(fa, fb) == 0;
}

/* The asset called name in any table, and the profile it belongs to. */
static const struct fa_asset *fa_find_asset(const char *name, const struct fa_profile **home)
{
    for (size_t i = 0; i < FA_N(fa_aliases); i++)
        if (fa_same_word(name, fa_aliases[i].alias))
            name = fa_aliases[i].name;
    for (size_t p = FA_N(fa_profiles); p-- > 0;) /* topical profiles first */
        for (size_t i = 0; i < fa_profiles[p].nassets; i++)
            if (fa_same_word(name, fa_profiles[p].assets[i].name)) {
                *home = &fa_profiles[p];
                return &fa_profiles[p].assets[i];
            }
    return NULL;
}

/* A ticker-like topic ("KOZAL", "XU030", "TÜFE"): 2..10 bytes of capital letters or
 * digits, starting with a letter. "Emtia" is a topic word, not a ticker. */
static int fa_ticker(const char *s, char *out, size_t len)
{
    size_t n = strlen(s);

    if (n < 2 || n > 10 || n >= len || !isupper((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        /* Turkish capitals (Ç Ö Ü Ğ İ Ş) as letters: "TÜFE" is a ticker too. */
        static const char *const tr_caps[] = { "Ç", "Ö", "Ü", "Ğ", "İ", "Ş" };
        int tr = 0;

        for (size_t k = 0; k < FA_N(tr_caps) && !tr; k++)
            if (strncmp(s + i, tr_caps[k], 2) == 0)
                tr = 1;
        if (tr) {
            i++;
            continue;
        }
        if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
            return 0;
    }
    memcpy(out, s, n + 1);
    return 1;
}

struct fa_choice {
    struct fa_profile prof;
    struct fa_asset one; /* the single asset of a symbol profile */
    char ticker[16];
};

/* Fills c with the profile for topic: a topic's, one symbol's, or the general one. */
static void fa_choose(const char *topic, struct fa_choice *c)
{
    const struct fa_profile *home = &fa_profiles[0];
    const struct fa_asset *a;

    c->prof = fa_profiles[0];
    if (!topic || !*topic)
        return;
    for (size_t p = 1; p < FA_N(fa_profiles); p++)
        if (fa_same_word(topic, fa_profiles[p].topic)) {
            c->prof = fa_profiles[p];
            return;
        }
    if ((a = fa_find_asset(topic, &home)) != NULL) {
        c->one = *a;
    } else if (fa_ticker(topic, c->ticker, sizeof(c->ticker))) {
        /* An unknown ticker gets a stock-like price of 10..1000 TL from its name. */
        uint64_t h = fa_hash64(c->ticker, strlen(c->ticker), 0x71c);
        c->one = (struct fa_asset){ c->ticker, 1000 + (int64_t)(h % 99000), 2, "TL" };
    } else {
        return;
    }
    c->prof = *home;
    c->prof.assets = &c->one;
    c->prof.nassets = 1;
    c->prof.views = fa_symbol_views;
    c->prof.nviews = FA_N(fa_symbol_views);
}

/* ---- building the text ---- */

/* s with its first letter lowered (Turkish: İ -> i, I -> ı), into buf. */
static const char *fa_lower_first(const char *s, char *buf, size_t len)
{
    static const char *const up[] = { "İ", "Ş", "Ğ", "Ü", "Ö", "Ç", "I" };
    static const char *const lo[] = { "i", "ş", "ğ", "ü", "ö", "ç", "ı" };

    for (size_t i = 0; i < FA_N(up); i++)
        if (strncmp(s, up[i], strlen(up[i])) == 0) {
            snprintf(buf, len, "%s%s", lo[i], s + strlen(up[i]));
            return buf;
        }
    snprintf(buf, len, "%c%s", tolower((unsigned char)s[0]), s[0] ? s + 1 : "");
    return buf;
}

static uint64_t fa_profile_size(const struct fa_profile *p)
{
    return (uint64_t)p->nassets * FA_N(fa_openers) * p->nmoves * p->nviews * p->nlevels *
           FA_N(fa_closers) * FA_PRICE_STEPS;
}

char *fa_text_completion(uint64_t n, uint64_t rnd, const struct fa_text_req *req)
{
    struct fa_choice c;
    const struct fa_profile *pf = &c.prof;
    uint64_t P, q, r;
    const struct fa_asset *a;
    const char *opener, *move, *view, *level, *closer, *prefix = "", *emoji;
    int64_t step, price;
    char pbuf[64], obuf[64], *out = NULL;
    int pct;

    fa_choose(req ? req->topic : NULL, &c);
    P = fa_profile_size(pf);
    q = n / P;
    r = fa_permute(n % P, P);
    a = &pf->assets[fa_digit(&r, pf->nassets)];
    opener = fa_openers[fa_digit(&r, FA_N(fa_openers))];
    move = pf->moves[fa_digit(&r, pf->nmoves)];
    view = pf->views[fa_digit(&r, pf->nviews)];
    level = pf->levels[fa_digit(&r, pf->nlevels)];
    closer = fa_closers[fa_digit(&r, FA_N(fa_closers))];
    step = a->base / 2000 > 0 ? a->base / 2000 : 1;
    price = a->base - 50 * step + step * (int64_t)(r + FA_PRICE_STEPS * q);
    pct = strcmp(a->unit, "%") == 0;
    emoji = req && req->no_emoji ? "" : fa_emojis[rnd % FA_N(fa_emojis)];
    if (req && req->reply && ((rnd >> 32) & 1)) {
        prefix = fa_reply_openers[(rnd >> 33) % FA_N(fa_reply_openers)];
        opener = fa_lower_first(opener, obuf, sizeof(obuf));
    }
    fa_fmt_price(pbuf, sizeof(pbuf), price, a->decimals);
    if (asprintf(&out, "%s%s%s %s %s %s%s%s%s %s%s%s", prefix, opener, a->name, move, view,
                 pct ? "%" : "", pbuf, pct ? "" : " ", pct ? "" : a->unit, level, closer, emoji) < 0)
        return NULL;
    return out;
}

/* ---- symbols in a prompt ---- */

static int fa_word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

/* 1 when name occurs in text as a whole word. */
static int fa_has_word(const char *text, const char *name)
{
    size_t len = strlen(name);

    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name))
        if ((p == text || !fa_word_byte((unsigned char)p[-1])) && !fa_word_byte((unsigned char)p[len]))
            return 1;
    return 0;
}

static int fa_listed(const char **out, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(out[i], name) == 0)
            return 1;
    return 0;
}

/* Upper-case words that are not tickers. */
static int fa_stopword(const char *w)
{
    static const char *const stop[] = { "EVET", "HAYIR", "KONU", "ABD",  "USD", "EUR",  "TRY",
                                        "RSI",  "ETF",   "CDS",  "TCMB", "FED", "BIST", "HAFIZA" };

    for (size_t i = 0; i < FA_N(stop); i++)
        if (strcmp(w, stop[i]) == 0)
            return 1;
    return 0;
}

size_t fa_text_symbols(const char *text, const char **out, char bufs[][16], size_t max)
{
    const char *best;
    size_t n = 0;

    if (!text)
        return 0;
    /* Known names first, in order of appearance. */
    while (n < max) {
        const char *at = NULL;
        best = NULL;
        for (size_t i = 0; i < FA_N(fa_assets); i++) {
            const char *name = fa_assets[i].name, *p = strstr(text, name);
            if (p && !fa_listed(out, n, name) && fa_has_word(text, name) && (!at || p < at)) {
                at = p;
                best = name;
            }
        }
        if (!best)
            break;
        out[n++] = best;
    }
    /* Then other upper-case tickers: 3..6 letters or digits, starting with a letter. */
    for (const char *p = text; *p && n < max; p++) {
        size_t len = 0;
        if ((p > text && fa_word_byte((unsigned char)p[-1])) || !isupper((unsigned char)*p))
            continue;
        while (isupper((unsigned char)p[len]) || isdigit((unsigned char)p[len]))
            len++;
        if (len < 3 || len > 6 || fa_word_byte((unsigned char)p[len]))
            continue;
        memcpy(bufs[n], p, len);
        bufs[n][len] = '\0';
        if (!fa_stopword(bufs[n]) && !fa_listed(out, n, bufs[n])) {
            out[n] = bufs[n];
            n++;
        }
        p += len - 1;
    }
    return n;
}

/* ---- embeddings ---- */

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
