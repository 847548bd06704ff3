// Chats: the table, adding a chat, and a chat's page: topics, time zone and
// language, enabled, and its members (add or remove a bot).
import { html, useState, useLoad, Problem, Loading, Table, Page, Badge, Field, Confirm, colour } from '../ui.js';
import { paths, get, post, put, patch, del, items, may } from '../api.js';
import { ObjectForm, errorAt } from '../form.js';

const CHAT_GROUPS = [{ title: 'Chat', fields: [
  { path: 'title', label: 'Title', kind: 'text', meaning: 'the group\'s name, as shown here' },
  { path: 'topics', label: 'Topics', kind: 'list', meaning: 'comma-separated; what the bots open conversations about (default BIST, FX, Kripto, Makro)' },
  { path: 'time_zone', label: 'Time zone', kind: 'text', meaning: 'IANA name (Europe/Istanbul): prime hours and the bots\' active hours are read in it' },
  { path: 'language', label: 'Language', kind: 'text', meaning: 'tr by default; another language makes the prompt ask for it' },
] }];

export function Chats({ me }) {
  const l = useLoad(() => get(paths.chats({ limit: 500 })), []);
  const [f, setF] = useState(null);
  const [err, setErr] = useState(null);
  const add = (e) => { e.preventDefault(); setErr(null); post(paths.chats(), { ...f, id: Number(f.id) || f.id }).then(() => { setF(null); l.reload(); }, setErr); };
  return html`<${Page} title="Chats" actions=${may(me, 'operator') ? html`<button type="button" onClick=${() => setF(f ? null : { id: '', title: '' })} aria-expanded=${!!f}>Add a chat</button>` : ''}>
    ${f ? html`<form class="inline-form" novalidate onSubmit=${add} aria-label="Add a chat">
      <${Field} scope="newchat" label="Telegram chat id" name="id" meaning="the group's id, negative for groups (-100...)" error=${errorAt(err, 'id')}>
        ${(id, d) => html`<input id=${id} aria-describedby=${d} inputmode="numeric" value=${f.id} onInput=${(e) => setF({ ...f, id: e.target.value })} />`}<//>
      <${Field} scope="newchat" label="Title" name="title" meaning="the group's name" error=${errorAt(err, 'title')}>
        ${(id, d) => html`<input id=${id} aria-describedby=${d} value=${f.title} onInput=${(e) => setF({ ...f, title: e.target.value })} />`}<//>
      ${err && !err.field ? html`<p class="problem" role="alert">${err.message}</p>` : ''}
      <button type="submit" class="primary">Add chat</button></form>` : ''}
    <${Problem} error=${l.error} />
    ${!l.data ? (l.error ? '' : html`<${Loading} what="chats" />`) : html`<${Table} label="Chats" rows=${items(l.data)} rowCls=${(c) => (c.enabled === false ? 'off' : '')} cols=${[
      { label: 'Chat', cell: (c) => html`<a href=${'#/chats/' + c.id}>${c.title || c.id}</a>` },
      { label: 'Id', cell: (c) => c.id },
      { label: 'Topics', cell: (c) => (c.topics || []).join(', ') },
      { label: 'Time zone', cell: (c) => c.time_zone },
      { label: 'Bots', cell: (c) => (Array.isArray(c.bots) ? c.bots.length : c.bots ?? '—') },
      { label: 'Enabled', cell: (c) => (c.enabled === false ? html`<${Badge} kind="off">off<//>` : 'yes') },
      { label: '', cell: (c) => html`<a href=${'#/chat/' + c.id}>live</a>` },
    ]} />`}
  <//>`;
}

export function ChatPage({ me, params }) {
  const c = useLoad(() => get(paths.chat(params.id)), [params.id]);
  const bots = useLoad(() => get(paths.bots({ limit: 500 })), []);
  const [pick, setPick] = useState('');
  const [err, setErr] = useState(null);
  const [ask, setAsk] = useState(false);
  const canEdit = may(me, 'operator');
  if (!c.data) return html`<${Page} title="Chat"><${Problem} error=${c.error} />${c.error ? '' : html`<${Loading} />`}<//>`;
  const chat = c.data, members = (chat.bots || []).filter((b) => !b.status || b.status === 'member');
  const others = items(bots.data).filter((b) => !members.some((x) => (x.id ?? x.bot_id) === b.id));
  const save = (v) => patch(paths.chat(chat.id), { title: v.title, topics: v.topics, time_zone: v.time_zone, language: v.language }).then((n) => n && c.set({ ...chat, ...n }));
  const addMember = () => pick && put(paths.member(chat.id, pick), {}).then(() => { setPick(''); c.reload(); }, setErr);
  const remove = (b) => del(paths.member(chat.id, b)).then(c.reload, setErr);
  const toggle = () => { setAsk(false); setErr(null); patch(paths.chat(chat.id), { enabled: chat.enabled === false }).then(() => c.reload(), setErr); };
  return html`<${Page} title=${chat.title || 'Chat ' + chat.id} actions=${html`<a href=${'#/chat/' + chat.id}>Live chat</a>
      ${canEdit ? html`<button type="button" onClick=${() => setAsk(true)}>${chat.enabled === false ? 'Enable' : 'Disable'}</button>` : ''}`}>
    ${chat.enabled === false ? html`<p><${Badge} kind="off">disabled<//> No bot speaks here until it is enabled.</p>` : ''}
    <${ObjectForm} groups=${CHAT_GROUPS} value=${chat} onSave=${save} readOnly=${!canEdit} />
    <h2>Members</h2>
    <${Problem} error=${err} />
    <${Table} label="Members" rows=${members} cols=${[
      { label: 'Bot', cell: (b) => html`<a href=${'#/bots/' + (b.id ?? b.bot_id)} style=${{ color: colour(b.id ?? b.bot_id) }}>${b.name || b.username}</a>` },
      ...(canEdit ? [{ label: '', cell: (b) => html`<button type="button" class="danger small" onClick=${() => remove(b.id ?? b.bot_id)}>Remove</button>` }] : []),
    ]} />
    ${canEdit ? html`<div class="inline-form"><label for="add-member">Add a bot</label>
      <select id="add-member" value=${pick} onChange=${(e) => setPick(e.target.value)}>
        <option value="">choose…</option>${others.map((b) => html`<option value=${b.id}>${b.name || b.username}</option>`)}</select>
      <button type="button" onClick=${addMember} disabled=${!pick}>Add</button></div>` : ''}
    <${Confirm} open=${ask} title=${(chat.enabled === false ? 'Enable' : 'Disable') + ' this chat?'} onConfirm=${toggle} onCancel=${() => setAsk(false)}
      confirm=${chat.enabled === false ? 'Enable' : 'Disable'}>${chat.enabled === false ? 'Its bots speak in it again.' : 'Every bot stops speaking in it.'}<//>
  <//>`;
}
