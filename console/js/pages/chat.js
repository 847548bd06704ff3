// Live chat: a chat as its members see it. Each message as it is written (the
// stream), the persona's name in its colour, a reply with the message it answers
// quoted above it, humans marked, a message that ended `unknown` or `failed`
// marked, older messages loaded when scrolled to the top, a filter by bot.
import { html, useState, useEffect, useRef, useLoad, Problem, Page, Badge, colour, clock, stamp } from '../ui.js';
import { paths, get, items } from '../api.js';
import { useStream, LiveBadge } from '../live.js';

const PAGE = 50;

// One message, whatever the API calls its fields.
export function norm(m) {
  const bot = m.bot_id ?? (m.bot && m.bot.id) ?? null;
  const reply = m.reply_to && typeof m.reply_to === 'object' ? m.reply_to : null;
  return {
    id: m.id, bot, human: bot === null || m.human === true,
    name: m.bot_name || (m.bot && (m.bot.name || m.bot.username)) || m.author || m.from_name || m.username
      || (bot === null ? 'human' : 'bot ' + bot),
    text: m.text ?? m.body ?? '', status: m.status || 'sent',
    at: m.sent_at || m.created_at || m.at, replyId: reply ? reply.id : (m.reply_to_id ?? m.reply_to ?? null),
    reply: reply && norm(reply), reactions: m.reactions || [], reason: m.error || m.reason || '',
  };
}

function Quote({ of }) {
  if (!of) return null;
  return html`<blockquote class="quote" style=${{ borderColor: of.human ? '#666' : colour(of.bot) }}>
    <b>${of.name}</b> ${of.text.length > 140 ? of.text.slice(0, 140) + '…' : of.text}</blockquote>`;
}

function Message({ m, byId }) {
  const parent = m.reply || (m.replyId !== null ? byId.get(m.replyId) : null);
  const bad = m.status === 'failed' || m.status === 'unknown';
  return html`<li class=${'msg' + (m.human ? ' human' : '') + (bad ? ' bad' : '') + (parent || m.replyId ? ' reply' : '')}
      data-id=${m.id} data-status=${m.status}>
    <div class="msg-head">
      <b class="author" style=${m.human ? {} : { color: colour(m.bot) }}>${m.name}</b>
      ${m.human ? html`<${Badge} kind="human">human<//>` : ''}
      <time datetime=${m.at} title=${stamp(m.at)}>${clock(m.at)}</time>
      ${m.status !== 'sent' ? html`<${Badge} kind=${bad ? 'bad' : 'warn'}>${m.status}<//>` : ''}
    </div>
    ${parent ? html`<${Quote} of=${parent} />` : m.replyId ? html`<blockquote class="quote muted">a reply to an older message</blockquote>` : ''}
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

  const fetchPage = (before) => get(paths.messages({ chat: chatId, bot: bot || undefined, before, limit: PAGE }))
    .then((d) => items(d).map(norm).sort((a, b) => a.id - b.id));
  useEffect(() => {
    if (!chatId) return;
    setMsgs([]); setMore(true); atBottom.current = true;
    fetchPage().then((l) => { setMsgs(l); setMore(l.length === PAGE); }, setErr);
  }, [chatId, bot]);

  const upsert = (raw) => {
    const m = norm(raw);
    if (bot && String(m.bot) !== bot) return;
    setMsgs((l) => {
      const i = l.findIndex((x) => x.id === m.id);
      if (i >= 0) { const c = l.slice(); c[i] = { ...c[i], ...m, reply: m.reply || c[i].reply }; return c; }
      return [...l, m].sort((a, b) => a.id - b.id);
    });
  };
  const state = useStream({ chat: chatId, onMessage: (m) => (!m.chat_id || String(m.chat_id) === String(chatId)) && upsert(m) });

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
  const members = chat ? items(chat.members || chat.bots || []) : [];
  const byId = new Map(msgs.map((m) => [m.id, m]));
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
        ${members.map((b) => html`<option value=${b.id ?? b.bot_id}>${b.name || b.username || b.id}</option>`)}
      </select>
    </div>
    ${!chatId && !chats.loading ? html`<p>No chat yet: add one on <a href="#/chats">Chats</a>.</p>` : ''}
    <ol class="messages" ref=${list} onScroll=${onScroll} aria-live="polite" aria-label="Messages" tabindex="0">
      ${more && msgs.length ? html`<li class="muted more">scroll up for older messages</li>` : ''}
      ${msgs.map((m) => html`<${Message} key=${m.id} m=${m} byId=${byId} />`)}
    </ol>
  <//>`;
}
