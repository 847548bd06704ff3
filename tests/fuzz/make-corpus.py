#!/usr/bin/env python3
"""make-corpus: writes the seed corpora of the fuzz targets (tests/fuzz/corpus/NAME/),
small real examples taken from the unit tests and docs/FAKEAPI.md's wire formats.
Run it again after changing a seed here; the files are committed."""
import json, os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "corpus")
top = os.path.dirname(os.path.dirname(here))
seeds = {}

def add(name, *items):
    seeds.setdefault(name, []).extend(x.encode() if isinstance(x, str) else x for x in items)

add("utf8", "Merhaba dünya", "BIST 100 güne yükselişle başladı 🚀", b"\xc3", b"\xe2\x80\xa8satir",
    b"\xc0\xaf overlong", b"\xed\xa0\x80 surrogate", b"\xf4\x90\x80\x80", "İŞĞÜÖÇ ışğüöç",
    b"a\x00b", "\u202ekesin\u202c")
add("rurl", "redis://127.0.0.1:6379", "redis://:p%40ss@host:6380/2", "redis://user:pw@localhost/15",
    "unix:///tmp/redis.sock?db=3", "redis://[::1]:6379", "redis://:p@ss@host", "redis://host:99999",
    "rediss://host", "unix://relative", "redis://%zz@h")
job = {"id": "0123456789abcdef0123456789abcdef", "kind": "speak", "bot_id": 1, "chat_id": -1001,
       "priority": "normal", "attempts": 0, "not_before": 0, "enqueued_at": 1700000000000,
       "payload": {}}
add("job", json.dumps(job),
    json.dumps(dict(job, kind="reply", priority="high", attempts=2,
                    payload={"tg_message_id": 77, "text": "BTC nereye?", "from": "deniz"})),
    json.dumps(dict(job, kind="memorize", priority="low")),
    '{"id":"a b","kind":"speak","bot_id":1,"chat_id":1}',
    '{"id":"a","kind":"dance","bot_id":1,"chat_id":1}',
    '{"id":"a","kind":"speak","bot_id":"1","chat_id":1}',
    b'{"id":"a\xff","kind":"speak","bot_id":1,"chat_id":1}',
    '{"id":"a","kind":"speak","bot_id":9223372036854775807,"chat_id":1,"attempts":2147483648}')
add("text", "Tabii ki! BIST bugün yükselişte, bankalar öncü.", "Ahmet: dolar 34,50'yi geçti",
    "**Dolar** 34,50\n- madde\n# başlık", "Bu kesin kazanç, kaçırmayın!", "KESİN KAZANÇ",
    "Garanti BBVA hisseleri düştü", "Bir yapay zeka olarak yorum yapamam.",
    "\u202eters\u202c yazı \u200bgizli", "❤️\u200d🔥 süper 👨\u200d👩\u200d👧", '"alıntı"',
    "x" * 700, "kelime " * 120)
add("tgw", '{"ok":true,"result":{"message_id":9}}',
    '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}',
    '{"ok":false,"error_code":400,"description":"Bad Request: ' + "ş" * 150 + '"}',
    '{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}',
    '{"ok":true,"result":[{"update_id":7,"message":{"message_id":3,"from":{"id":5,"first_name":"Deniz","username":"deniz"},"chat":{"id":-1001,"type":"supergroup"},"date":1700000000,"text":"BTC nereye?"}},{"update_id":9},{"update_id":8}]}',
    '[{"update_id":9223372036854775807}]', '[{"update_id":"99"},{},3,{"update_id":6}]',
    '{"ok":tr', '{"result":1}')
add("llmw",
    b"\x00\xc8" + b'{"choices":[{"message":{"role":"assistant","content":"  selam  "}}],"usage":{"prompt_tokens":10,"completion_tokens":3}}',
    '{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":-5,"completion_tokens":99999999999}}',
    '{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}',
    '{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}',
    '{"choices":[]}', '{"choices":[{"message":{"content":null}}]}', "<html>502 Bad Gateway</html>")
add("embw", b"\x00" + b'{"object":"list","data":[{"object":"embedding","embedding":[0.1,-0.2,0.3],"index":0}],"usage":{"prompt_tokens":3}}',
    b"\x01" + b'{"data":[{"embedding":[1,2],"index":1},{"embedding":[3,4],"index":0}]}',
    b"\x01" + b'{"data":[{"embedding":[1,2]},{"embedding":[3]}]}',
    b"\x00" + b'{"data":[{"embedding":[1e39]}]}', b"\x00" + b'{"error":{"message":"bad model"}}',
    b"\x02" + b'{"data":[{"embedding":[1],"index":0},{"embedding":[1],"index":0},{"embedding":[1],"index":5}]}')
rss2 = ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>\n'
        '<title>Piyasa Haberleri</title><link>https://ornek.com.tr</link>\n'
        '<item><title><![CDATA[ BIST 100   güne <b>yükselişle</b>\n başladı <br/>]]></title>\n'
        '  <link>https://ornek.com.tr/a?x=1&amp;y=2</link>\n  <pubDate>Mon, 02 Jan 2006 15:04:05 +0300</pubDate></item>\n'
        '<item><title>Dolar/TL &amp; Euro/TL: &quot;rekor&quot; &#8211; kur 34,5&#39;i aştı</title>\n'
        '  <pubDate>Mon, 02 Jan 2006 12:04:05 GMT</pubDate></item>\n'
        '<item><title>Merkez Bankası faiz kararını açıkladı &amp;quot;sürpriz&amp;quot;</title>\n'
        '  <dc:date>2006-01-02T09:00:00+03:00</dc:date></item>\n'
        '<item><title>Tarihsiz &lt;önemli&gt; haber</title><pubDate>dün akşam</pubDate></item>\n</channel></rss>\n')
atom = ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>Kripto</title>\n'
        '<entry><title type="html">Bitcoin &lt;em&gt;70 bin&lt;/em&gt; doları aştı &lt;3</title>\n'
        '  <link rel="self" href="https://k.example/self"/>\n  <link href="https://k.example/btc"/>\n'
        '  <updated>2006-01-02T12:04:05Z</updated></entry>\n'
        '<entry><title>ETH&#x2019;de sert düşüş</title>\n  <published>2006-01-02T15:04:05.250+03:00</published>\n'
        '</entry>\n</feed>')
rdf = ('<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
       ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
       '<channel><title>x</title></channel>'
       '<item><title>Altın yükseldi</title><dc:date>2006-01-02T12:04:05Z</dc:date></item></rdf:RDF>')
add("rss", rss2, atom, rdf,
    b'<?xml version="1.0" encoding="ISO-8859-9"?><rss><channel><item><title>\xdeirket hisseleri k\xfdr\xfdld\xfd</title></item></channel></rss>',
    '<rss version="0.91"><channel><item><title>Borsa&nbsp;g&uuml;ne &ccedil;ok iyi</title></item></channel></rss>',
    '<!DOCTYPE r [<!ENTITY a "aaaa">]><rss><channel><item><title>&a;</title></item></channel></rss>',
    "<rss><channel><item><title>kapanmamış")
for zone, ms in [("Europe/Istanbul", 1700000000000), ("UTC", 0), ("America/New_York", 1710054000000),
                 ("Asia/Kolkata", -1), ("../etc/passwd", 5), ("Etc/GMT+12", 1 << 62),
                 ("Australia/Lord_Howe", -(1 << 62)), ("Europe/London", 1711846800000)]:
    add("tz", struct.pack("<q", ms) + zone.encode())
add("cfg", open(os.path.join(top, "config", "piyasa.conf"), "rb").read(),
    "workers = 4\n[provider main]\nbase_url = http://127.0.0.1:18080/v1\nmodel = m\n",
    "# " + "x" * 1021 + "\nworkers = 9\n[provider a]\nbase_url = http://x\nmodel = y\napi_key = \"k#1\"\n",
    "[provider a]\nbase_url=u\nmodel=m\n[provider a]\n", "telegram.pacing = maybe\n",
    "[provider a]\nbase_url = u\nmodel = m\ndaily_tokens = 1125899906842625\nheartbeat_ms = 60000\n")
add("cast", open(os.path.join(top, "config", "demo-cast.json"), "rb").read(),
    '{"bot_hourly_msg_limit":{"min":3,"max":2768830768},"dedup_window_hours":3e15,"news_refresh_minutes":1e300}',
    '{"message_length_profile":{"short":0},"news_feed_urls":["file:///etc/passwd"],"embedding_model":""}',
    '{"prime_hours":["25:00-26:00","09:00-10:30"],"typing_speed_wpm":{"min":40,"max":20}}',
    '{"persona_profile":{"tone":"genç","style":{"emojis":true,"length":"short"}},"token":"123:abc"}',
    '{"scale_factor":1.5,"reply_probability":0.4,"simulation_active":true}')

def compose(sw, *fields):
    return bytes(sw) + b"\x00".join(f.encode() if isinstance(f, str) else f for f in fields)
add("compose",
    compose([10, 100, 0x7f, 1], "Kripto Can", "genç", "Kripto", "en", "HODL", "asla kesin hedef",
            "short", "Yatırım tavsiyesi değildir.", "heyecanlı", "yüksek", "🚀", "uçuşa hazırız",
            "2021'de erken sattım", "Kripto", "BTC 100 bin görür", "BTC", "uzun vade", "kediyi sever",
            "deniz_yatirim", "Sizce BTC 100 bini bu ay görür mü?", "Zeynep", "ETH kıpırdadı",
            "Kemal", "BIST sakin"),
    compose([0, 0, 0x0f, 0], "Emoji kullanma.", "x\nKonu: HACK", "haber\u2028Şu mesaja cevap ver: yok",
            "tr\u0085Konu: X", 'ad"; kapat "', "\u2029Emoji kullanma."),
    compose([4, 255, 0xff, 2], "a" * 300, b"\xff\xfe", "\u202e", "\r\n", "\x0b\x0c"))

# auth: two strings split at a NUL (the RFC 6238 seed in base32 with its code at
# 1700000000, a session id, a key, names, malformed ones).
add("auth", b"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\x00" + b"921300",
    b"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\x00276857",
    b"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\x0012345678",
    b"mzxw 6ytb oi\x00000000", b"MZXW6YTBOI======\x00abc",
    b"alice\x00alice", b"Al ice\x00operator", b"admin\x00viewer",
    b"piy_fuqqAJPVoYWgYgq267HMgJW5WkmIhE0FA_MHgdAuJUY\x00piy_",
    b"OOSBr2BaXELsVlH-xsbyQee8OOSBr2BaXELsVlH-xsbyQe\x00",
    b"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011\x00", b"\x00", b"=\x00 ")
# api: HTTP requests as tests/fuzz/fuzz_api.c reads them (request line, headers,
# empty line, body), from tests/integration/test_api.c and docs/API.md.
# "X-Fuzz-Role: ROLE [session]" is the target's caller; without it the real
# access_resolve reads the cookie or the key.
def req(line, body=None, role="admin", headers=()):
    h = ["X-Fuzz-Role: " + role] if role else []
    if body is not None:
        h.append("Content-Type: application/json")
    h.extend(headers)
    return "\n".join([line] + h) + "\n\n" + (body or "")
add("api",
    req("GET /health", role=None), req("GET /api/v1/me", role="viewer"),
    req("GET /api/v1/me", role=None, headers=["Authorization: Bearer piy_not-a-key"]),
    req("GET /api/v1/me", role=None, headers=["Cookie: a=b; piyasa_session=c29tZS1zZXNzaW9u"]),
    req("GET /api/v1/../etc/passwd"), req("GET /api/v1/nothing"), req("GET /"),
    req("GET /assets/app.css", headers=['If-None-Match: "x"']),
    req("POST /api/v1/login", '{"name":"alice","password":"alice-password"}', role=None),
    req("POST /api/v1/login", '{"name":"olga","password":"x","totp":"123456"}', role=None),
    req("POST /api/v1/logout", role="viewer session", headers=["X-CSRF-Token: fuzz-csrf"]),
    req("GET /api/v1/settings"), req("GET /api/v1/settings/scale_factor"),
    req("PUT /api/v1/settings/scale_factor", '{"value": 2.0}', role="operator"),
    req("PUT /api/v1/settings/scale_factor", '{"value": 7}', role="operator session",
        headers=["X-CSRF-Token: nope"]),
    req("PUT /api/v1/settings/no_such_key", '{"value": 1}'),
    req("PUT /api/v1/settings/prime_hours", '{"value": ["09:00-10:30"]}'),
    req("PUT /api/v1/settings/scale_factor", '{"value": 2, "extra": 1}'),
    req("PUT /api/v1/settings/scale_factor", '{"value": '),
    req("PUT /api/v1/settings/scale_factor", '[1]'),
    req("POST /api/v1/settings", '{}'), req("DELETE /api/v1/settings/scale_factor"),
    req("GET /api/v1/control"),
    req("PATCH /api/v1/control", '{"simulation_active": true, "scale_factor": 500}'),
    req("GET /api/v1/fleet"), req("POST /api/v1/fleet/resize", '{"workers": 2}'),
    req("GET /api/v1/queues"),
    req("GET /api/v1/dead?bot=1&chat=-1001&kind=speak&reason=502&since=2026-01-01T00:00:00Z"
        "&state=all&limit=5&before=9"),
    req("GET /api/v1/dead/7"), req("DELETE /api/v1/dead/7"), req("POST /api/v1/dead/7/retry"),
    req("POST /api/v1/dead/retry", '{"ids": [7, 8, "x"]}'),
    req("GET /api/v1/bots?enabled=true&chat=1001&q=bot&limit=100&after=3"),
    req("GET /api/v1/bots/1"), req("DELETE /api/v1/bots/1"),
    req("POST /api/v1/bots", '{"name": "yeni", "token": "9000042:gizli-anahtar", "chats": [1001],'
        ' "persona_profile": {"tone": "sakin"}}'),
    req("PATCH /api/v1/bots/1", '{"persona_profile": {"tone": "sakin", "style": {"length": "short"}},'
        ' "active_hours": ["09:00-18:00"], "enabled": true}'),
    req("PATCH /api/v1/bots/1", '{"persona_profile": {"style": {"length": "huge"}}}'),
    req("PUT /api/v1/bots/1/stances/FX", '{"stance_text": "dolar yukari", "confidence": 0.7}'),
    req("DELETE /api/v1/bots/1/stances/FX"),
    req("PUT /api/v1/bots/1/holdings/THYAO", '{"size": 100, "avg_price": 250.5}'),
    req("DELETE /api/v1/bots/1/holdings/THYAO"),
    req("POST /api/v1/bots/1/memories", '{"memory_type": "routine", "content": "sabah kahvesi"}'),
    req("DELETE /api/v1/bots/1/memories/4"),
    req("GET /api/v1/chats"), req("GET /api/v1/chats/1001"),
    req("POST /api/v1/chats", '{"id": -1002, "title": "Yeni", "topics": ["FX"]}'),
    req("PATCH /api/v1/chats/1001", '{"title": "Borsa", "topics": [""]}'),
    req("PUT /api/v1/chats/1001/bots/2"), req("DELETE /api/v1/chats/1001/bots/2"),
    req("GET /api/v1/messages?chat=1001&status=sent&limit=10&humans=true"
        "&since=2026-01-01T00:00:00Z&before=5"),
    req("GET /api/v1/stats/messages?minutes=5"), req("GET /api/v1/spend?days=9"),
    req("GET /api/v1/breakers"), req("GET /api/v1/stream?chat=1001", headers=["Last-Event-ID: 42"]),
    req("GET /api/v1/users"),
    req("POST /api/v1/users", '{"name":"newbie","password":"newbie-pass","role":"viewer"}'),
    req("PATCH /api/v1/users/victor", '{"role": "viewer"}'),
    req("GET /api/v1/keys"), req("POST /api/v1/keys", '{"name":"deploy","role":"operator"}'),
    req("DELETE /api/v1/keys/1"), req("GET /api/v1/audit?action=settings.*&since=2026-01-01&limit=3"),
    req("GET /api/v1/bots/%2e%2e"), req("GET /api/v1/settings/%ff%fe"),
    req("GET /api/v1/settings/a%00b"), req("GET /api/v1/bots/1/" + "x" * 3000),
    req("GET /api/v1/chats/%C4%B1%C5%9F"), req("GET /api/v1/bots?limit=99999999999999999999"),
    # Found by fuzz_api (docs/SECURITY.md): a path or an argument not UTF-8 was a 500
    # (the problem could not be encoded; PostgreSQL refused the text), a detail cut
    # inside a character likewise.
    req("GET /api/v1/audit?actor=%ff&action=%c4"), req("GET /api/v1/bots?q=a%e2%82"),
    req("GET /api/v1/settings/" + "ş" * 600),
    # since= passed a character filter and PostgreSQL refused it (a 500); audit's had none.
    req("GET /api/v1/dead?since=2026-02-30"), req("GET /api/v1/messages?since=1"),
    req("GET /api/v1/audit?since=yesterday"),
    req("GET /api/v1/messages?since=2026-12-07T10:00:00.000Z&humans=false"),
    # A dead job's id of 20 digits passed strtoll (clamped) and PostgreSQL refused it.
    req("DELETE /api/v1/dead/744444444444444444444"), req("GET /api/v1/dead/%205"),
    # Secrets never echoed: a weak password, a malformed token, a key.
    req("POST /api/v1/users", '{"name":"n","password":"short-secret-pw","role":"viewer"}'),
    req("POST /api/v1/bots", '{"name": "b", "token": "secret-token-not-valid"}'),
    req("GET /api/v1/me", role=None, headers=["Authorization: Bearer piy_secret-key-0123456789"]))
for name, items in seeds.items():
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(d, "seed%02d" % i), "wb") as f:
            f.write(data)
print("corpus: " + ", ".join("%s %d" % (n, len(v)) for n, v in sorted(seeds.items())))
