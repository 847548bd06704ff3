/* test_rss: feeds as Turkish news sites publish them (RSS 2.0 with CDATA and
 * entities, Atom, RSS 1.0) come out as clean headlines with the right instants;
 * broken or hostile documents are refused with a reason; the headline picked for
 * a topic is the newest fresh one about it, then any fresh one. */
#include "tests/check_main.h"
#include "worker/chat/rss.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H (3600LL * 1000)
/* 2006-01-02T12:04:05Z */
#define T0 1136203445000LL

static int parse(const char *doc, struct rss_item **items, size_t *n, char *err)
{
	return rss_parse(doc, strlen(doc), items, n, err, 256);
}

static const char rss2[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel>\n"
	"<title>Piyasa Haberleri</title><link>https://ornek.com.tr</link>\n"
	"<item><title><![CDATA[ BIST 100   güne <b>yükselişle</b>\n başladı <br/>]]></title>\n"
	"  <link>https://ornek.com.tr/a?x=1&amp;y=2</link>\n"
	"  <pubDate>Mon, 02 Jan 2006 15:04:05 +0300</pubDate></item>\n"
	"<item><title>Dolar/TL &amp; Euro/TL: &quot;rekor&quot; &#8211; kur 34,5&#39;i aştı</title>\n"
	"  <pubDate>Mon, 02 Jan 2006 12:04:05 GMT</pubDate></item>\n"
	"<item><title>Merkez Bankası faiz kararını açıkladı &amp;quot;sürpriz&amp;quot;</title>\n"
	"  <dc:date>2006-01-02T09:00:00+03:00</dc:date></item>\n"
	"<item><description>başlıksız haber</description></item>\n"
	"<item><title>   </title></item>\n"
	"<item><title>Tarihsiz &lt;önemli&gt; haber</title><pubDate>dün akşam</pubDate></item>\n"
	"</channel></rss>\n";

START_TEST(rss2_titles_and_dates)
{
	struct rss_item *it;
	size_t n;
	char err[256];

	ck_assert_int_eq(parse(rss2, &it, &n, err), 0);
	ck_assert_uint_eq(n, 4); /* the untitled and blank-titled items are skipped */
	ck_assert_str_eq(it[0].title, "BIST 100 güne yükselişle başladı");
	ck_assert_str_eq(it[0].link, "https://ornek.com.tr/a?x=1&y=2");
	ck_assert_int_eq(it[0].published_ms, T0);
	ck_assert_str_eq(it[1].title, "Dolar/TL & Euro/TL: \"rekor\" \xE2\x80\x93 kur 34,5'i aştı");
	ck_assert_int_eq(it[1].published_ms, T0);
	ck_assert_ptr_null(it[1].link);
	/* escaped twice by the site: decoded once more */
	ck_assert_str_eq(it[2].title, "Merkez Bankası faiz kararını açıkladı \"sürpriz\"");
	ck_assert_int_eq(it[2].published_ms, T0 - (6 * H + 4 * 60000 + 5000));
	ck_assert_str_eq(it[3].title, "Tarihsiz <önemli> haber"); /* not a tag */
	ck_assert_int_eq(it[3].published_ms, 0);
	rss_items_free(it, n);
}
END_TEST

static const char atom[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	"<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Kripto</title>\n"
	"<entry><title type=\"html\">Bitcoin &lt;em&gt;70 bin&lt;/em&gt; doları aştı &lt;3</title>\n"
	"  <link rel=\"self\" href=\"https://k.example/self\"/>\n"
	"  <link href=\"https://k.example/btc\"/>\n"
	"  <updated>2006-01-02T12:04:05Z</updated></entry>\n"
	"<entry><title>ETH&#x2019;de sert düşüş</title>\n"
	"  <published>2006-01-02T15:04:05.250+03:00</published>\n"
	"  <updated>2006-01-03T00:00:00Z</updated></entry>\n"
	"</feed>";

START_TEST(atom_entries)
{
	struct rss_item *it;
	size_t n;
	char err[256];

	ck_assert_int_eq(parse(atom, &it, &n, err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(it[0].title, "Bitcoin 70 bin doları aştı <3");
	ck_assert_str_eq(it[0].link, "https://k.example/btc");
	ck_assert_int_eq(it[0].published_ms, T0);
	ck_assert_str_eq(it[1].title, "ETH\xE2\x80\x99"
				      "de sert düşüş");
	ck_assert_int_eq(it[1].published_ms, T0 + 250); /* published wins over updated */
	rss_items_free(it, n);
}
END_TEST

START_TEST(rss1_and_legacy_encoding)
{
	static const char rdf[] =
		"<?xml version=\"1.0\"?><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\""
		" xmlns=\"http://purl.org/rss/1.0/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
		"<channel><title>x</title></channel>"
		"<item><title>Altın yükseldi</title><dc:date>2006-01-02T12:04:05Z</dc:date></item>"
		"</rdf:RDF>";
	/* ISO-8859-9 (Latin-5): 0xDE is Ş, 0xFD is ı */
	static const char latin5[] =
		"<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?><rss><channel>"
		"<item><title>\xDE"
		"irket hisseleri k\xFDr\xFDld\xFD</title></item></channel></rss>";
	struct rss_item *it;
	size_t n;
	char err[256];

	ck_assert_int_eq(parse(rdf, &it, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(it[0].title, "Altın yükseldi");
	ck_assert_int_eq(it[0].published_ms, T0);
	rss_items_free(it, n);
	ck_assert_int_eq(parse(latin5, &it, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(it[0].title, "Şirket hisseleri kırıldı");
	rss_items_free(it, n);
}
END_TEST

/* An old feed names the Netscape DTD (never fetched) and uses its HTML entities. */
START_TEST(external_dtd_html_entities)
{
	static const char rss091[] =
		"<?xml version=\"1.0\"?><!DOCTYPE rss PUBLIC \"-//Netscape Communications//DTD RSS 0.91//EN\""
		" \"http://my.netscape.com/publish/formats/rss-0.91.dtd\">"
		"<rss version=\"0.91\"><channel><item><title>Borsa&nbsp;g&uuml;ne &ccedil;ok "
		"&quot;iyi&quot; ba&#351;lad&#305; &bogus;</title></item></channel></rss>";
	struct rss_item *it;
	size_t n;
	char err[256];

	ck_assert_int_eq(parse(rss091, &it, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(it[0].title, "Borsa güne çok \"iyi\" başladı &bogus;");
	rss_items_free(it, n);
}
END_TEST

START_TEST(dates)
{
	ck_assert_int_eq(rss_date_rfc822("Mon, 02 Jan 2006 15:04:05 +0300"), T0);
	ck_assert_int_eq(rss_date_rfc822("Mon, 02 Jan 2006 12:04:05 GMT"), T0);
	ck_assert_int_eq(rss_date_rfc822("2 Jan 2006 12:04:05 Z"), T0);
	ck_assert_int_eq(rss_date_rfc822("Mon, 02 Jan 06 07:04:05 EST"), T0);
	ck_assert_int_eq(rss_date_rfc822("Pzt, 02 Oca 2006 15:04:05 +03:00"), T0);
	ck_assert_int_eq(rss_date_rfc822("02 Ağu 2006 00:00 +0000"),
			 rss_date_rfc3339("2006-08-02T00:00:00Z"));
	ck_assert_int_eq(rss_date_rfc822("Mon, 02 Jan 2006 12:04:05"), T0); /* no zone: UTC */
	ck_assert_int_eq(rss_date_rfc822("Mon, 02 Jan 2006 12:04:05 +03"), 0);
	ck_assert_int_eq(rss_date_rfc822("Mon, 30 Feb 2006 12:04:05 GMT"), 0);
	ck_assert_int_eq(rss_date_rfc822("Mon, 02 Foo 2006 12:04:05 GMT"), 0);
	ck_assert_int_eq(rss_date_rfc822("Mon, 02 Jan 2006 25:04:05 GMT"), 0);
	ck_assert_int_eq(rss_date_rfc822(""), 0);
	ck_assert_int_eq(rss_date_rfc822(NULL), 0);

	ck_assert_int_eq(rss_date_rfc3339("2006-01-02T12:04:05Z"), T0);
	ck_assert_int_eq(rss_date_rfc3339("2006-01-02t15:04:05+03:00"), T0);
	ck_assert_int_eq(rss_date_rfc3339("2006-01-02 12:04:05.123456z"), T0 + 123);
	ck_assert_int_eq(rss_date_rfc3339("2006-01-02T08:04:05-0400"), T0);
	ck_assert_int_eq(rss_date_rfc3339("2006-01-02"), T0 - (12 * H + 4 * 60000 + 5000));
	ck_assert_int_eq(rss_date_rfc3339("2004-02-29T00:00:00Z"), 1078012800000LL);
	ck_assert_int_eq(rss_date_rfc3339("2006-02-29T00:00:00Z"), 0);
	ck_assert_int_eq(rss_date_rfc3339("2006-01-02T12:04:05Zjunk"), 0);
	ck_assert_int_eq(rss_date_rfc3339("2006-13-02T12:04:05Z"), 0);
	ck_assert_int_eq(rss_date_rfc3339("1969-12-31T23:59:59Z"), 0);
	ck_assert_int_eq(rss_date_rfc3339("yesterday"), 0);
}
END_TEST

START_TEST(malformed_documents)
{
	static const char *const bad[] = {
		"<rss><channel><item><title>kapanmamış",
		"<rss><channel><item><title>a</titel></item></channel></rss>",
		"bu XML değil",
		"<rss><channel><item><title>&uuml;</title></item></channel></rss>",
		"<html><body><p>Sayfa</p></body></html>",
		"\xEF\xBB\xBF",
	};
	struct rss_item *it = (struct rss_item *)1;
	size_t n = 99;
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		ck_assert_int_eq(parse(bad[i], &it, &n, err), -1);
		ck_assert_ptr_null(it);
		ck_assert_uint_eq(n, 0);
		ck_assert_msg(strlen(err) > 5 && !strchr(err, '\n'), "doc %zu: err '%s'", i, err);
	}
	parse("<html><body/></html>", &it, &n, err);
	ck_assert_str_eq(err, "not an RSS or Atom document (root element <html>)");
	parse("<rss><channel>", &it, &n, err);
	ck_assert_msg(strncmp(err, "malformed XML (line 1): ", 24) == 0, "%s", err);
	ck_assert_int_eq(rss_parse("", 0, &it, &n, err, sizeof err), -1);
	ck_assert_int_eq(rss_parse(NULL, 5, &it, &n, err, sizeof err), -1);
	/* a feed without items is valid */
	ck_assert_int_eq(parse("<rss><channel><title>boş</title></channel></rss>", &it, &n, err), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(it);
}
END_TEST

START_TEST(entity_bombs_refused)
{
	static const char laughs[] =
		"<?xml version=\"1.0\"?><!DOCTYPE rss [\n"
		"<!ENTITY a \"hahahahahahahahahaha\">\n"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
		"<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
		"<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
		"<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
		"<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
		"<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
		"<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
		"<!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">\n"
		"]><rss><channel><item><title>&i;</title></item></channel></rss>";
	static const char xxe[] =
		"<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<rss><channel><item><title>&x;</title></item></channel></rss>";
	static const char pe[] =
		"<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/x\">%p;]>"
		"<rss><channel><item><title>a</title></item></channel></rss>";
	/* UTF-16 hides "<!ENTITY" from a byte scan; the parser hook still sees it */
	char utf16[512];
	const char *src = "<?xml version=\"1.0\" encoding=\"UTF-16LE\"?>"
			  "<!DOCTYPE r [<!ENTITY a \"x\">]><rss/>";
	size_t len = 2;
	struct rss_item *it;
	size_t n;
	char err[256];

	ck_assert_int_eq(parse(laughs, &it, &n, err), -1);
	ck_assert_str_eq(err, "document declares entities (refused)");
	ck_assert_int_eq(parse(xxe, &it, &n, err), -1);
	ck_assert_str_eq(err, "document declares entities (refused)");
	ck_assert_int_eq(parse(pe, &it, &n, err), -1);
	utf16[0] = (char)0xFF;
	utf16[1] = (char)0xFE;
	for (const char *p = src; *p; p++) {
		utf16[len++] = *p;
		utf16[len++] = 0;
	}
	ck_assert_int_eq(rss_parse(utf16, len, &it, &n, err, sizeof err), -1);
	ck_assert_str_eq(err, "document declares entities (refused)");
}
END_TEST

START_TEST(limits)
{
	size_t big = RSS_MAX_BYTES + 1, off = 0;
	char *doc = malloc(big + 64), *title = malloc(2 * RSS_TITLE_MAX + 64);
	struct rss_item *it;
	size_t n;
	char err[256];

	/* over 1 MiB: refused before parsing */
	memset(doc, ' ', big);
	ck_assert_int_eq(rss_parse(doc, big, &it, &n, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "1 MiB"), "%s", err);
	/* 250 items: the first 200 are kept */
	off = (size_t)sprintf(doc, "<rss><channel>");
	for (int i = 0; i < 250; i++)
		off += (size_t)sprintf(doc + off, "<item><title>haber %d</title></item>", i);
	sprintf(doc + off, "</channel></rss>");
	ck_assert_int_eq(parse(doc, &it, &n, err), 0);
	ck_assert_uint_eq(n, RSS_MAX_ITEMS);
	ck_assert_str_eq(it[199].title, "haber 199");
	rss_items_free(it, n);
	/* a long title is cut between characters: 'ş' is two bytes, the cap is even+1 */
	off = (size_t)sprintf(title, "x");
	for (int i = 0; i < RSS_TITLE_MAX; i++)
		off += (size_t)sprintf(title + off, "ş");
	sprintf(doc, "<rss><channel><item><title>%s</title></item></channel></rss>", title);
	ck_assert_int_eq(parse(doc, &it, &n, err), 0);
	ck_assert_uint_le(strlen(it[0].title), RSS_TITLE_MAX);
	ck_assert_uint_ge(strlen(it[0].title), RSS_TITLE_MAX - 1);
	ck_assert_int_eq(strlen(it[0].title) % 2, 1); /* "x" + whole "ş"s */
	rss_items_free(it, n);
	free(doc);
	free(title);
}
END_TEST

/* Expat skips the declarations after a parameter entity reference it cannot read,
 * instead of reporting them: those are refused too, and so are declarations in a
 * document that had to be transcoded first. A DTD without entities is fine. */
START_TEST(entity_declarations_anywhere_refused)
{
	static const char *const refused[] = {
		"<!DOCTYPE rss SYSTEM \"x.dtd\" [%p;<!ENTITY a \"boom\">]>"
		"<rss><channel><item><title>x&a;</title></item></channel></rss>",
		"<!DOCTYPE rss [%p;<!ENTITY a \"boom\">]><rss><channel/></rss>",
		"<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?><!DOCTYPE rss [<!ENTITY a \"x\">]>"
		"<rss><channel><item><title>&a;</title></item></channel></rss>",
	};
	static const char plain_dtd[] =
		"<!DOCTYPE rss [<!ELEMENT rss ANY><!-- yorum -->]>"
		"<rss><channel><item><title>ok</title></item></channel></rss>";
	struct rss_item *it;
	size_t n;
	char err[256];

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		ck_assert_int_eq(parse(refused[i], &it, &n, err), -1);
		ck_assert_str_eq(err, "document declares entities (refused)");
		ck_assert_ptr_null(it);
	}
	ck_assert_int_eq(parse(plain_dtd, &it, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(it[0].title, "ok");
	rss_items_free(it, n);
}
END_TEST

/* The HTML 4.01 names read after the second decoding: both ends of the sorted
 * table, each of its three sets, &apos;, case, and an unknown name left alone. */
START_TEST(html_entities_escaped_twice)
{
	static const char doc[] =
		"<rss><channel><item><title>&amp;AElig;|&amp;zwnj;|&amp;Uuml;&amp;uuml;|"
		"&amp;eacute;&amp;yuml;&amp;copy;|&amp;alpha;&amp;Omega;&amp;thetasym;&amp;hearts;"
		"|&amp;hellip;&amp;lsquo;&amp;rsquo;&amp;euro;&amp;mdash;&amp;OElig;|&amp;apos;"
		"&amp;lt;&amp;gt;|&amp;nope;&amp;Hellip;</title></item></channel></rss>";
	struct rss_item *it;
	size_t n;
	char err[256];

	ck_assert_int_eq(parse(doc, &it, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(it[0].title, "Æ|\xE2\x80\x8C|Üü|éÿ©|αΩϑ♥|…‘’€—Œ|'<>|&nope;&Hellip;");
	rss_items_free(it, n);
}
END_TEST

START_TEST(cdata_titles)
{
	static const char doc[] =
		"<rss><channel>"
		"<item><title><![CDATA[<b>Altın</b> &amp; gümüş]]> &amp; <![CDATA[petrol]]>"
		"<![CDATA[ <kırıldı> ]]></title></item>"
		"<item><title><![CDATA[]]></title></item>"
		"<item><title><![CDATA[a]]]]><![CDATA[>b]]></title></item>"
		"</channel></rss>";
	struct rss_item *it;
	size_t n;
	char err[256];

	ck_assert_int_eq(parse(doc, &it, &n, err), 0);
	ck_assert_uint_eq(n, 2); /* the empty CDATA title is no title */
	ck_assert_str_eq(it[0].title, "Altın & gümüş & petrol <kırıldı>");
	ck_assert_str_eq(it[1].title, "a]]>b");
	rss_items_free(it, n);
}
END_TEST

START_TEST(links)
{
	static const char atom_doc[] =
		"<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:x=\"http://www.w3.org/1999/xlink\">"
		"<entry><title>a</title><link rel=\"enclosure\" href=\"https://k.example/a.mp3\"/>"
		"<link rel=\"alternate\" href=\" https://k.example/a \"/>"
		"<link href=\"https://k.example/later\"/></entry>"
		"<entry><title>b</title><link href=\"\"/><link>https://k.example/b</link></entry>"
		"<entry><title>c</title><link x:href=\"https://k.example/c\"/></entry>"
		"<entry><title>d</title><link rel=\"self\" href=\"https://k.example/d\"/></entry>"
		"</feed>";
	static const char rss_doc[] =
		"<rss><channel><item><title>e</title><link/><link>\n  https://ornek.com.tr/e?a=1"
		"&amp;b=<![CDATA[2]]>\n</link></item></channel></rss>";
	struct rss_item *it;
	size_t n;
	char err[256];

	ck_assert_int_eq(parse(atom_doc, &it, &n, err), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(it[0].link, "https://k.example/a");
	ck_assert_str_eq(it[1].link, "https://k.example/b"); /* an empty href is no link */
	ck_assert_str_eq(it[2].link, "https://k.example/c");
	ck_assert_ptr_null(it[3].link);
	rss_items_free(it, n);
	ck_assert_int_eq(parse(rss_doc, &it, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(it[0].link, "https://ornek.com.tr/e?a=1&b=2");
	rss_items_free(it, n);
}
END_TEST

/* Prefixes are dropped whether declared or not; only the first element of each
 * date name counts, then the next name is tried. */
START_TEST(prefixes_and_date_order)
{
	static const char doc[] =
		"<rss><channel>"
		"<item><dc:title>a</dc:title><dc:date>2006-01-02T12:04:05Z</dc:date></item>"
		"<item><title>b</title><pubDate>dün</pubDate>"
		"<pubDate>Mon, 02 Jan 2006 12:04:05 GMT</pubDate>"
		"<updated>2006-01-02T15:04:05+03:00</updated><date>2006-01-01</date></item>"
		"<item><title>c</title><pubDate><![CDATA[Mon, 02 Jan 2006]]> 12:04:05 GMT</pubDate>"
		"</item></channel></rss>";
	struct rss_item *it;
	size_t n;
	char err[256];

	ck_assert_int_eq(parse(doc, &it, &n, err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(it[0].published_ms, T0);
	ck_assert_int_eq(it[1].published_ms, T0);
	ck_assert_int_eq(it[2].published_ms, T0);
	rss_items_free(it, n);
}
END_TEST

/* Encodings expat does not read itself go through iconv. */
START_TEST(transcoded_encodings)
{
	static const char cp1254[] = /* 0x80 is €, 0xF0 ğ, 0xFE ş */
		"<?xml version=\"1.0\" encoding=\"windows-1254\"?><rss><channel><item>"
		"<title>Da\xF0 \x80 \xFE</title></item></channel></rss>";
	static const char utf8_alias[] = /* 4-byte characters too */
		"<?xml version=\"1.0\" encoding=\"utf8\"?><rss><channel><item>"
		"<title>Ş \xF0\x9F\x93\x88</title></item></channel></rss>";
	static const char unknown[] =
		"<?xml version=\"1.0\" encoding=\"x-nonesuch\"?><rss><channel/></rss>";
	static const char invalid[] = /* 0xC3 starts a character that never comes */
		"<?xml version=\"1.0\" encoding=\"utf8\"?>\n<rss>\n<channel><item><title>\xC3"
		"</title></item></channel></rss>";
	struct rss_item *it;
	size_t n;
	char err[256];

	ck_assert_int_eq(parse(cp1254, &it, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(it[0].title, "Dağ € ş");
	rss_items_free(it, n);
	ck_assert_int_eq(parse(utf8_alias, &it, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(it[0].title, "Ş \xF0\x9F\x93\x88");
	rss_items_free(it, n);
	ck_assert_int_eq(parse(unknown, &it, &n, err), -1);
	ck_assert_str_eq(err, "malformed XML (line 1): unsupported encoding x-nonesuch");
	ck_assert_int_eq(parse(invalid, &it, &n, err), -1);
	ck_assert_str_eq(err, "malformed XML (line 3): not valid utf8");
}
END_TEST

/* Errors past the items still refuse the document; messages are one line. */
START_TEST(malformed_late)
{
	static const char *const bad[] = {
		"<rss><channel><item><title>a</title></item></channel></rss><rss/>",
		"<rss><channel><item><title>a</title></item></channel>\n\n</rs>",
		"<rss><channel><item><title>a\xFF</title></item></channel></rss>",
		"<rss><channel><item><title>a&#1;</title></item></channel></rss>",
		"<?xml version=\"1.0\" standalone=\"yes\"?><!DOCTYPE rss SYSTEM \"x.dtd\">"
		"<rss><channel><item><title>&nbsp;</title></item></channel></rss>",
	};
	struct rss_item *it;
	size_t n;
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(parse(bad[i], &it, &n, err), -1);
		ck_assert_ptr_null(it);
		ck_assert_uint_eq(n, 0);
		ck_assert_msg(strncmp(err, "malformed XML (line ", 20) == 0 && !strchr(err, '\n'),
			      "doc %zu: err '%s'", i, err);
	}
	parse(bad[1], &it, &n, err);
	ck_assert_msg(strncmp(err, "malformed XML (line 3): ", 24) == 0, "%s", err);
}
END_TEST

/* Just under 1 MiB: a 700 kB title (no headline: the item is skipped), then items
 * up to the limit; and ISO-8859-9 items, which grow when transcoded, to the
 * limit too (long titles cut between characters). */
START_TEST(huge_documents)
{
	size_t cap = RSS_MAX_BYTES, off;
	char *doc = malloc(cap + 1);
	struct rss_item *it;
	size_t n;
	char err[256];

	off = (size_t)sprintf(doc, "<rss><channel><item><title>");
	memset(doc + off, 'a', 700 * 1000);
	off += 700 * 1000;
	off += (size_t)sprintf(doc + off, "</title></item>");
	while (off + 100 < cap)
		off += (size_t)sprintf(doc + off, "<item><title>haber &lt;%zu&gt;</title></item>", off);
	off += (size_t)sprintf(doc + off, "</channel></rss>");
	ck_assert_uint_le(off, RSS_MAX_BYTES);
	ck_assert_int_eq(rss_parse(doc, off, &it, &n, err, sizeof err), 0);
	ck_assert_uint_eq(n, RSS_MAX_ITEMS);
	ck_assert_str_eq(it[0].title, "haber <700042>");
	rss_items_free(it, n);

	off = (size_t)sprintf(doc, "<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?><rss><channel>");
	while (off + 1000 < cap) {
		off += (size_t)sprintf(doc + off, "<item><title>x");
		memset(doc + off, 0xFE, 900); /* ş: two bytes in UTF-8 */
		off += 900;
		off += (size_t)sprintf(doc + off, "</title></item>");
	}
	off += (size_t)sprintf(doc + off, "</channel></rss>");
	ck_assert_int_eq(rss_parse(doc, off, &it, &n, err, sizeof err), 0);
	ck_assert_uint_eq(n, RSS_MAX_ITEMS);
	ck_assert_uint_eq(strlen(it[199].title), RSS_TITLE_MAX - 1); /* "x" + whole "ş"s */
	ck_assert(strncmp(it[199].title, "xşş", 5) == 0);
	rss_items_free(it, n);
	free(doc);
}
END_TEST

START_TEST(topic_matching)
{
	ck_assert(rss_topic_match("BİST 100 rekor kırdı", "BIST"));
	ck_assert(rss_topic_match("Borsada sert düşüş", "BIST"));
	ck_assert(rss_topic_match("Hisseler karışık seyretti", "bist"));
	ck_assert(rss_topic_match("ENDEKS YÜKSELDİ", "BIST"));
	ck_assert(rss_topic_match("Dolar/TL güne nasıl başladı", "FX"));
	ck_assert(rss_topic_match("Kur: 34,50", "FX"));
	ck_assert(!rss_topic_match("Kurumlar vergisi düzenlemesi", "FX"));
	ck_assert(rss_topic_match("BTC'de yeni zirve", "Kripto"));
	ck_assert(rss_topic_match("Ethereum değil ETH\xE2\x80\x99"
				  "de hareket",
				  "Kripto"));
	ck_assert(!rss_topic_match("Method değişikliği", "Kripto"));
	ck_assert(rss_topic_match("MERKEZ BANKASI faizi sabit tuttu", "Makro"));
	ck_assert(rss_topic_match("Merkez Bankası'nın kararı", "Makro"));
	ck_assert(rss_topic_match("Fed'in açıklaması bekleniyor", "Makro"));
	ck_assert(!rss_topic_match("Federasyon başkanı seçildi", "Makro"));
	ck_assert(rss_topic_match("Enflasyon beklentinin altında", "makro"));
	ck_assert(rss_topic_match("THYAO yolcu sayısını açıkladı", "THYAO"));
	ck_assert(rss_topic_match("Altında yeni rekor", "Altın"));
	ck_assert(!rss_topic_match("Altın yükseldi", "Kripto"));
	ck_assert(!rss_topic_match("Altın yükseldi", ""));
	ck_assert(!rss_topic_match("Altın yükseldi", NULL));
}
END_TEST

START_TEST(pick_by_topic_and_age)
{
	const int64_t now = T0;
	struct rss_item it[] = {
		{ "Altın güne yükselişle başladı", NULL, now - 10 * 60000 }, /* 0 */
		{ "Dolar/TL 34 lirayı aştı", NULL, now - 2 * H },            /* 1 */
		{ "Dolar sakin seyrediyor", NULL, now - 30 * 60000 },        /* 2: newest FX */
		{ "Borsa İstanbul'da hisseler düştü", NULL, now - 5 * H },   /* 3 */
		{ "BIST 100 endeksi rekor", NULL, now - 8 * H },             /* 4 */
		{ "Bitcoin 25 saat önce", NULL, now - 25 * H },              /* 5: too old */
		{ "Bitcoin tarihsiz", NULL, 0 },                             /* 6: undated */
		{ "Enflasyon verisi gelecek yıl", NULL, now + 30 * 24 * H }, /* 7: bogus */
		{ "Fed faiz kararı", NULL, now + 60 * 60000 },               /* 8: small skew */
	};
	size_t n = sizeof it / sizeof it[0];
	uint64_t rng = 7;
	int seen[9] = { 0 };

	ck_assert_int_eq(rss_pick(it, n, "FX", now, &rng), 2);
	/* only stale-ish BIST news: the newest of them */
	ck_assert_int_eq(rss_pick(it, n, "BIST", now, &rng), 3);
	ck_assert_int_eq(rss_pick(it, n, "Makro", now, &rng), 8);
	/* Kripto headlines are too old or undated: any fresh one instead */
	for (int i = 0; i < 300; i++) {
		int k = rss_pick(it, n, "Kripto", now, &rng);
		ck_assert(k == 0 || k == 1 || k == 2 || k == 8);
		seen[k]++;
	}
	ck_assert(seen[0] > 30 && seen[1] > 30 && seen[2] > 30 && seen[8] > 30);
	ck_assert_int_eq(rss_pick(it, n, "Kripto", now, NULL), 8); /* the newest fresh */
	ck_assert_int_eq(rss_pick(it, n, NULL, now, NULL), 8);
	/* a day later nothing is fresh and nothing matches: none */
	ck_assert_int_eq(rss_pick(it, n, "BIST", now + 20 * H, &rng), -1);
	ck_assert_int_eq(rss_pick(it, 0, "BIST", now, &rng), -1);
	ck_assert_int_eq(rss_pick(NULL, 3, "BIST", now, &rng), -1);
}
END_TEST

START_TEST(pick_is_deterministic)
{
	const int64_t now = T0;
	struct rss_item it[] = {
		{ "a", NULL, now - 1 },
		{ "b", NULL, now - 2 },
		{ "c", NULL, now - 3 },
	};
	uint64_t r1 = 99, r2 = 99;

	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(rss_pick(it, 3, "FX", now, &r1), rss_pick(it, 3, "FX", now, &r2));
}
END_TEST

static Suite *rss_suite(void)
{
	Suite *s = suite_create("rss");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, rss2_titles_and_dates);
	tcase_add_test(tc, atom_entries);
	tcase_add_test(tc, rss1_and_legacy_encoding);
	tcase_add_test(tc, external_dtd_html_entities);
	tcase_add_test(tc, dates);
	tcase_add_test(tc, malformed_documents);
	tcase_add_test(tc, entity_bombs_refused);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, entity_declarations_anywhere_refused);
	tcase_add_test(tc, html_entities_escaped_twice);
	tcase_add_test(tc, cdata_titles);
	tcase_add_test(tc, links);
	tcase_add_test(tc, prefixes_and_date_order);
	tcase_add_test(tc, transcoded_encodings);
	tcase_add_test(tc, malformed_late);
	tcase_add_test(tc, huge_documents);
	tcase_add_test(tc, topic_matching);
	tcase_add_test(tc, pick_by_topic_and_age);
	tcase_add_test(tc, pick_is_deterministic);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(rss_suite)
