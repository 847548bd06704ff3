// Live chat: a chat as its members see it. Each message as it is written (the
// stream), the persona's name in its colour, a reply with the message it answers
// quoted above it, humans marked, a message that ended `unknown` or `failed`
// marked, older messages loaded when scrolled to the top, a filter by bot.
import { html, useState, useEffect, useRef, useLoad, Problem, Page, Badge, colour, clock, stamp } from '../ui.js';
import { paths, get, items } from '../api.js';
import { useStream, LiveBadge } from '../live.js';

const PAGE = 50;

// One message as the page shows it. The list's rows carry the bot's name
// (`bot`), a human's Telegram name (metadata) and the message answered
// (`reply_to`: {id, bot_id, text}); the stream's rows only ids, so names come
// from the chat's bots (names) and the answered message from the page's own
// (by its Telegram id).
export function norm(m, names) {
  const bot = m.bot_id ?? null, meta = m.metadata || {};
  const r = m.reply_to && typeof m.reply_to === 'object' ? m.reply_to : null;
  return {
    id: m.id, bot, human: bot === null, tg: m.telegram_message_id ?? null,
    name: bot === null ? meta.first_name || (meta.username ? '@' + meta.username : 'a human')
      : (typeof m.bot === 'string' && m.bot) || (names && names.get(bot)) || 'bot ' + bot,
    known: bot !== null || !!(meta.first_name || meta.username),
    text: m.text ?? '', status: m.status || 'sent', at: m.sent_at || m.created_at,
    replyTg: m.reply_to_message_id ?? null,
    reply: r && { id: r.id, bot: r.bot_id ?? null, human: r.bot_id == null, text: r.text || '',
      name: r.bot_id == null ? 'a human' : (names && names.get(r.bot_id)) || 'bot ' + r.bot_id },
    reactions: m.reactions || [], reason: m.error || '',
  };
}

function Quote({ of }) {
  if (!of) return null;
  return html`<blockquote class="quote" style=${{ borderColor: of.human ? '#666' : colour(of.bot) }}>
    <b>${of.name}</b> ${of.text.length > 140 ? of.text.slice(0, 140) + '…' : of.text}</blockquote>`;
}

function Message({ m, byTg }) {
  // the page's own copy of the answered message is the better one (its name)
  const parent = (m.replyTg !== null && byTg.get(m.replyTg)) || m.reply;
  const bad = m.status === 'failed' || m.status === 'unknown';
  return html`<li class=${'msg' + (m.human ? ' human' : '') + (bad ? ' bad' : '') + (parent || m.replyTg !== null ? ' reply' : '')}
      data-id=${m.id} data-status=${m.status}>
    <div class="msg-head">
      <b class="author" style=${m.human ? {} : { color: colour(m.bot) }}>${m.name}</b>
      ${m.human ? html`<${Badge} kind="human">human<//>` : ''}
      <time datetime=${m.at} title=${stamp(m.at)}>${clock(m.at)}</time>
      ${m.status !== 'sent' && m.status !== 'received' ? html`<${Badge} kind=${bad ? 'bad' : 'warn'}>${m.status}<//>` : ''}
    </div>
    ${parent ? html`<${Quote} of=${parent} />` : m.replyTg !== null ? html`<blockquote class="quote muted">a reply to an older message</blockquote>` : ''}
    <p class="text">${m.text}</p>
    ${bad && m.reason ? html`<p class="reason">${m.reason}</p>` : ''}
    ${m.reactions.length ? html`<p class="reactions">${m.reactions.map((r) => html`<span>${r.emoji || r}${r.count > 1 ? ' ' + r.count : ''}</span>`)}</p>` : ''}
  </li>`;
}

export function LiveChat({ params }) {
  const chats = useLoad(() => get(paths.chats({ limit: 500 })), []);
  const chatList = items(chats.data);
  const chatId = params.id || (chatList[0] && String(chatList[0].id));
  const [bot, setBot] = useState('');
  const [msgs, setMsgs] = useState([]); // oldest first
  const [err, setErr] = useState(null);
  const [more, setMore] = useState(true);
  const list = useRef(null), atBottom = useRef(true), loading = useRef(false);

  const chatOne = useLoad(() => (chatId ? get(paths.chat(chatId)) : Promise.resolve(null)), [chatId]);
  const members = chatOne.data ? items(chatOne.data.bots || []) : [];
  const names = new Map(members.map((b) => [b.id, b.name]));
  const fetchPage = (before) => get(paths.messages({ chat: chatId, bot: bot || undefined, before, limit: PAGE }))
    .then((d) => items(d).map((m) => norm(m, names)).sort((a, b) => a.id - b.id));
  useEffect(() => {
    if (!chatId) return;
    setMsgs([]); setMore(true); atBottom.current = true;
    fetchPage().then((l) => { setMsgs(l); setMore(l.length === PAGE); }, setErr);
  }, [chatId, bot, chatOne.data]);

  const upsert = (raw) => {
    const m = norm(raw, names);
    if (bot && String(m.bot) !== bot) return;
    // the stream does not name a human: the list's row does (one request, rare)
    if (!m.known) get(paths.messages({ chat: chatId, before: m.id + 1, limit: 1 })).then((d) => {
      const full = items(d)[0];
      if (full && full.id === m.id) setMsgs((l) => l.map((x) => (x.id === m.id ? { ...x, ...norm(full, names), status: x.status } : x)));
    }, () => {});
    setMsgs((l) => {
      const i = l.findIndex((x) => x.id === m.id);
      // a status change: keep what the list knew (names, the answered message)
      if (i >= 0) { const c = l.slice(); c[i] = { ...c[i], status: m.status, at: m.at || c[i].at, reason: m.reason || c[i].reason, tg: m.tg ?? c[i].tg }; return c; }
      return [...l, m].sort((a, b) => a.id - b.id);
    });
  };
  const state = useStream({
    chat: chatId,
    onMessage: (m) => (!m.chat_id || String(m.chat_id) === String(chatId)) && upsert(m),
    // while the stream is down: the newest page, merged (names and replies kept)
    poll: () => fetchPage().then((l) => {
      setMsgs((old) => {
        const byId = new Map(old.map((x) => [x.id, x]));
        for (const m of l) byId.set(m.id, { ...byId.get(m.id), ...m });
        return [...byId.values()].sort((a, b) => a.id - b.id);
      });
      return null;
    }),
  });

  // Keep the newest in view while the reader is at the bottom.
  useEffect(() => { const el = list.current; if (el && atBottom.current) el.scrollTop = el.scrollHeight; }, [msgs]);
  const onScroll = () => {
    const el = list.current;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop > 60 || !more || loading.current || !msgs.length) return;
    loading.current = true;
    const h0 = el.scrollHeight;
    fetchPage(msgs[0].id).then((older) => {
      setMore(older.length === PAGE);
      setMsgs((l) => [...older.filter((o) => !l.some((x) => x.id === o.id)), ...l]);
      requestAnimationFrame(() => { el.scrollTop += el.scrollHeight - h0; loading.current = false; });
    }, (e) => { setErr(e); loading.current = false; });
  };

  const chat = chatList.find((c) => String(c.id) === String(chatId));
  const byTg = new Map(msgs.filter((m) => m.tg !== null).map((m) => [m.tg, m]));
  return html`<${Page} title=${chat ? chat.title || 'Chat ' + chat.id : 'Live chat'} actions=${html`<${LiveBadge} state=${state} />`}>
    <${Problem} error=${chats.error || err} />
    <div class="chat-tools">
      <label for="chat-pick">Chat</label>
      <select id="chat-pick" value=${chatId || ''} onChange=${(e) => { location.hash = '#/chat/' + e.target.value; }}>
        ${chatList.map((c) => html`<option value=${c.id}>${c.title || c.id}</option>`)}
      </select>
      <label for="bot-filter">Bot</label>
      <select id="bot-filter" value=${bot} onChange=${(e) => setBot(e.target.value)}>
        <option value="">everyone</option>
        ${members.map((b) => html`<option value=${b.id}>${b.name || b.id}</option>`)}
      </select>
    </div>
    ${!chatId && !chats.loading ? html`<p>No chat yet: add one on <a href="#/chats">Chats</a>.</p>` : ''}
    <ol class="messages" ref=${list} onScroll=${onScroll} aria-live="polite" aria-label="Messages" tabindex="0">
      ${more && msgs.length ? html`<li class="muted more">scroll up for older messages</li>` : ''}
      ${msgs.map((m) => html`<${Message} key=${m.id} m=${m} byTg=${byTg} />`)}
    </ol>
  <//>`;
}
