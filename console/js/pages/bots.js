// Bots: the table (enabled, owner worker, messages today, last message, capped,
// breaker), adding a bot with its token (the API checks it with getMe), and a
// bot's page: persona, emotion, speed and active hours with each field's meaning
// (docs/PERSONAS.md) and the API's errors at the field; enable/disable; its
// stances, holdings and memories.
import { html, useState, useLoad, Problem, Loading, Table, Page, Badge, Confirm, Field, ago, num, colour } from '../ui.js';
import { paths, get, post, put, patch, del, items, may } from '../api.js';
import { ObjectForm, errorAt } from '../form.js';

const n = (path, label, meaning, range) => ({ path, label, meaning, kind: 'number', range });
const t = (path, label, meaning) => ({ path, label, meaning, kind: 'text' });

// The persona's fields as docs/PERSONAS.md "A persona" describes them.
export const PERSONA_GROUPS = [
  { title: 'Persona', fields: [
    t('persona_profile.tone', 'Tone', 'how the bot talks; also picks the voice: young/genç adds slang, professional/profesyonel/kurumsal none'),
    t('persona_profile.risk_profile', 'Risk profile', 'the appetite for risk the prompt gives the bot'),
    { path: 'persona_profile.watchlist', label: 'Watchlist', kind: 'list', meaning: 'symbols, comma-separated: messages about them are the ones it prefers to answer' },
    { path: 'persona_profile.never_do', label: 'Never does', kind: 'lines', meaning: 'one per line: what the prompt forbids' },
    { path: 'persona_profile.style.emojis', label: 'Emojis', kind: 'bool', dflt: true, meaning: 'off strips every emoji from its messages' },
    { path: 'persona_profile.style.length', label: 'Preferred length', kind: 'select', options: ['short', 'medium', 'long'], meaning: 'doubles the weight of that message length' },
    t('persona_profile.style.disclaimer', 'Disclaimer', 'a line the bot may add (empty: none)'),
  ] },
  { title: 'Emotion', fields: [
    t('emotion_profile.tone', 'Mood', 'the prompt\'s mood'),
    n('emotion_profile.empathy', 'Empathy', 'above 0.7 the bot favours answering negative messages', '0 .. 1'),
    t('emotion_profile.energy', 'Energy', 'high/yüksek types 15 % faster, low/sakin 15 % slower'),
    t('emotion_profile.signature_emoji', 'Signature emoji', 'appears now and then'),
    { path: 'emotion_profile.signature_phrases', label: 'Signature phrases', kind: 'lines', meaning: 'one per line; appear now and then' },
    { path: 'emotion_profile.anecdotes', label: 'Anecdotes', kind: 'lines', meaning: 'one per line; stories the bot may tell' },
  ] },
  { title: 'Speed', fields: [
    n('speed_profile.delay.base_delay_seconds', 'Base delay', 'seconds between its messages before the multiplier (empty: the chat\'s pace)', 's'),
    n('speed_profile.delay.delay_multiplier', 'Delay multiplier', 'below 1 the bot speaks more often'),
    n('speed_profile.delay.jitter_min', 'Jitter min', 'the delay is multiplied by a random factor between min and max'),
    n('speed_profile.delay.jitter_max', 'Jitter max', 'upper end of that factor'),
    n('speed_profile.delay.min_seconds', 'Delay floor', 'never sooner than this', 's'),
    n('speed_profile.delay.max_seconds', 'Delay ceiling', 'never later than this', 's'),
    n('speed_profile.typing.wpm_min', 'Typing speed min', 'words per minute, lower end', 'wpm'),
    n('speed_profile.typing.wpm_max', 'Typing speed max', 'words per minute, upper end', 'wpm'),
    n('speed_profile.typing.typing_multiplier', 'Typing multiplier', 'below 1 types faster'),
    n('speed_profile.typing.min_seconds', 'Typing floor', 'the typing indicator shows at least this long', 's'),
    n('speed_profile.typing.max_seconds', 'Typing ceiling', 'and at most this long', 's'),
  ] },
  { title: 'Active hours', fields: [
    { path: 'active_hours', label: 'Active hours', kind: 'list', meaning: 'HH:MM-HH:MM, comma-separated, in each chat\'s time zone; may wrap midnight; empty: always' },
  ] },
];

const breaker = (b) => { const s = String((b.breaker && (b.breaker.state || b.breaker)) || 'closed'); return s === 'closed' ? '' : html`<${Badge} kind="bad">${s}<//>`; };

function AddBot({ onAdded }) {
  const [f, setF] = useState({ name: '', token: '' });
  const [err, setErr] = useState(null);
  const add = (e) => {
    e.preventDefault(); setErr(null);
    post(paths.bots(), f).then((b) => { setF({ name: '', token: '' }); onAdded(b); }, setErr);
  };
  return html`<form class="inline-form" novalidate onSubmit=${add} aria-label="Add a bot">
    <${Field} scope="newbot" label="Name" name="name" meaning="the persona's display name" error=${errorAt(err, 'name')}>
      ${(id, d) => html`<input id=${id} aria-describedby=${d} value=${f.name} onInput=${(e) => setF({ ...f, name: e.target.value })} />`}<//>
    <${Field} scope="newbot" label="Token" name="token" meaning="from @BotFather; checked with Telegram (getMe) and never shown again" error=${errorAt(err, 'token')}>
      ${(id, d) => html`<input id=${id} aria-describedby=${d} type="password" autocomplete="off" value=${f.token} onInput=${(e) => setF({ ...f, token: e.target.value })} />`}<//>
    ${err && !err.field ? html`<p class="problem" role="alert">${err.message}</p>` : ''}
    <button type="submit" class="primary">Add bot</button>
  </form>`;
}

// The columns; those the API does not give (no row has the field) are left out.
function cols(rows, n) {
  const has = (k) => rows.some((b) => b[k] !== undefined);
  return [
    { label: 'Bot', cell: (b) => html`<a href=${'#/bots/' + b.id} style=${{ color: colour(b.id) }}>${b.name || b.username}</a>${b.username ? html` <span class="muted">@${b.username}</span>` : ''}` },
    { label: 'Enabled', cell: (b) => (b.enabled === false ? html`<${Badge} kind="off">off<//>` : 'yes') },
    { label: 'Worker', cell: (b) => b.worker ?? (n ? b.id % n : '—') },
    { label: 'Chats', cell: (b) => (Array.isArray(b.chats) ? b.chats.length : '—') },
    has('messages_today') && { label: 'Today', cell: (b) => num(b.messages_today) },
    has('last_message_at') && { label: 'Last message', cell: (b) => ago(b.last_message_at) },
    has('capped') && { label: 'Capped', cell: (b) => (b.capped ? html`<${Badge} kind="warn">capped<//>` : '') },
    has('breaker') && { label: 'Breaker', cell: breaker },
  ].filter(Boolean);
}

export function Bots({ me }) {
  const list = useLoad(() => get(paths.bots({ limit: 1000 })), []);
  // A bot's owner is bot_id % N (DESIGN.md), when the API does not say it.
  const fleet = useLoad(() => get(paths.fleet()), []);
  const n = fleet.data && fleet.data.count;
  const [adding, setAdding] = useState(false);
  const rows = items(list.data);
  return html`<${Page} title="Bots" actions=${may(me, 'operator') ? html`<button type="button" onClick=${() => setAdding(!adding)} aria-expanded=${adding}>Add a bot</button>` : ''}>
    ${adding ? html`<${AddBot} onAdded=${(b) => { setAdding(false); location.hash = '#/bots/' + b.id; }} />` : ''}
    <${Problem} error=${list.error} />
    ${!list.data ? (list.error ? '' : html`<${Loading} what="bots" />`) : html`<${Table} label="Bots" rows=${rows}
      rowCls=${(b) => (b.enabled === false ? 'off' : b.capped ? 'warn' : '')} cols=${cols(rows, n)} />`}
  <//>`;
}

// A list of a bot's stances, holdings or memories, with delete and add.
// The rows come with the bot (GET /bots/{id}); a change reloads the bot.
// A stance (by topic) or a holding (by symbol) is put under its key, which is
// not in the body; a memory is posted and gets an id.
function Part({ bot, rows, part, cols, fields, canEdit, keyOf, keyField, onChange }) {
  const [err, setErr] = useState(null);
  const [draft, setDraft] = useState({});
  const remove = (r) => del(paths.botPartItem(bot, part, keyOf(r))).then(onChange, setErr);
  const save = () => {
    if (!keyField) return post(paths.botPart(bot, part), draft);
    const { [keyField]: key, ...body } = draft;
    return put(paths.botPartItem(bot, part, key || ''), body);
  };
  const add = (e) => { e.preventDefault(); setErr(null); save().then(() => { setDraft({}); onChange(); }, setErr); };
  return html`<div class="part" data-part=${part}>
    <${Table} label=${part} rows=${rows} cols=${canEdit ? [...cols, { label: '', cell: (r) => html`<button type="button" class="danger small" onClick=${() => remove(r)} aria-label=${'Delete ' + keyOf(r)}>Delete</button>` }] : cols} />
    ${canEdit ? html`<form class="inline-form" novalidate onSubmit=${add} aria-label=${'Add to ' + part}>
      ${fields.map(([k, label, meaning, num_]) => html`<${Field} scope=${part} label=${label} name=${k} meaning=${meaning} error=${errorAt(err, k)}>
        ${(id, d) => html`<input id=${id} aria-describedby=${d} value=${draft[k] ?? ''} inputmode=${num_ ? 'decimal' : undefined}
          onInput=${(e) => setDraft({ ...draft, [k]: num_ && e.target.value !== '' && !isNaN(Number(e.target.value)) ? Number(e.target.value) : e.target.value })} />`}<//>`)}
      ${err && !err.field ? html`<p class="problem" role="alert">${err.message}</p>` : ''}
      <button type="submit">Add or replace</button></form>` : ''}
  </div>`;
}

export function BotPage({ me, params }) {
  const b = useLoad(() => get(paths.bot(params.id)), [params.id]);
  const [tab, setTab] = useState('persona');
  const [ask, setAsk] = useState(null);
  const [err, setErr] = useState(null);
  const canEdit = may(me, 'operator');
  if (b.error && !b.data) return html`<${Page} title="Bot"><${Problem} error=${b.error} /><//>`;
  if (!b.data) return html`<${Loading} what="the bot" />`;
  const bot = b.data;
  const save = (v) => patch(paths.bot(bot.id), {
    persona_profile: v.persona_profile, emotion_profile: v.emotion_profile,
    speed_profile: v.speed_profile, active_hours: v.active_hours,
  }).then((nb) => nb && b.set({ ...bot, ...nb })); // the answer has no stances etc.
  const toggle = () => { setAsk(null); setErr(null); patch(paths.bot(bot.id), { enabled: !bot.enabled }).then(() => b.reload(), setErr); };
  const tabs = [['persona', 'Persona'], ['stances', 'Stances'], ['holdings', 'Holdings'], ['memories', 'Memories']];
  return html`<${Page} title=${bot.name || bot.username} actions=${html`
      ${bot.enabled === false ? html`<${Badge} kind="off">disabled<//>` : html`<${Badge} kind="ok">enabled<//>`}
      ${canEdit ? html`<button type="button" onClick=${() => setAsk('toggle')}>${bot.enabled === false ? 'Enable' : 'Disable'}</button>` : ''}`}>
    <${Problem} error=${err} />
    <p class="muted">${[bot.username && '@' + bot.username, 'token ' + (bot.token_hint || '(hidden)') + '…',
      bot.worker !== undefined && 'worker ' + bot.worker, bot.last_message_at && 'last message ' + ago(bot.last_message_at),
      Array.isArray(bot.chats) && 'in ' + bot.chats.length + ' chat' + (bot.chats.length === 1 ? '' : 's')].filter(Boolean).join(' · ')}</p>
    <div role="tablist" class="tabs" aria-label="Bot sections">
      ${tabs.map(([k, l]) => html`<button type="button" role="tab" aria-selected=${tab === k} onClick=${() => setTab(k)}>${l}</button>`)}
    </div>
    ${tab === 'persona' ? html`<${ObjectForm} groups=${PERSONA_GROUPS} value=${bot} onSave=${save} readOnly=${!canEdit} saveLabel="Save persona" />` : ''}
    ${tab === 'stances' ? html`<${Part} bot=${bot.id} rows=${bot.stances || []} onChange=${b.reload} part="stances" canEdit=${canEdit} keyOf=${(r) => r.topic} keyField="topic"
      cols=${[{ label: 'Topic', cell: (r) => r.topic }, { label: 'Stance', cell: (r) => r.stance_text }, { label: 'Confidence', cell: (r) => r.confidence }, { label: 'Cooling down until', cell: (r) => r.cooldown_until || '—' }]}
      fields=${[['topic', 'Topic', 'one of the chat\'s topics'], ['stance_text', 'Stance', 'what the bot holds; the guard checks drafts against it'], ['confidence', 'Confidence', '0 .. 1', true]]} />` : ''}
    ${tab === 'holdings' ? html`<${Part} bot=${bot.id} rows=${bot.holdings || []} onChange=${b.reload} part="holdings" canEdit=${canEdit} keyOf=${(r) => r.symbol} keyField="symbol"
      cols=${[{ label: 'Symbol', cell: (r) => r.symbol }, { label: 'Average price', cell: (r) => r.avg_price }, { label: 'Size', cell: (r) => r.size }, { label: 'Note', cell: (r) => r.note }]}
      fields=${[['symbol', 'Symbol', 'e.g. BTC, THYAO'], ['avg_price', 'Average price', 'what it paid', true], ['size', 'Size', 'how much it holds', true], ['note', 'Note', 'free text for the prompt']]} />` : ''}
    ${tab === 'memories' ? html`<${Part} bot=${bot.id} rows=${bot.memories || []} onChange=${b.reload} part="memories" canEdit=${canEdit} keyOf=${(r) => r.id}
      cols=${[{ label: 'Type', cell: (r) => r.memory_type }, { label: 'Memory', cell: (r) => r.content }, { label: 'Relevance', cell: (r) => r.relevance_score }, { label: 'Used', cell: (r) => r.usage_count }]}
      fields=${[['memory_type', 'Type', 'personal_fact, past_event, ...'], ['content', 'Memory', 'the 8 most relevant go into the prompt']]} />` : ''}
    <${Confirm} open=${ask === 'toggle'} title=${(bot.enabled === false ? 'Enable ' : 'Disable ') + (bot.name || bot.username) + '?'}
      confirm=${bot.enabled === false ? 'Enable' : 'Disable'} onConfirm=${toggle} onCancel=${() => setAsk(null)}>
      ${bot.enabled === false ? 'It will speak again in its chats.' : 'It stops speaking and answering in every chat until enabled again.'}
    <//>
  <//>`;
}
