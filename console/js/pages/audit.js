// Audit (admin): every state-changing call, who made it, when, from where, and
// the values before and after (of an object, the keys that changed), newest
// first; filtered by actor and action.
import { html, useState, useLoad, Problem, Loading, Table, Page, stamp } from '../ui.js';
import { paths, get, items } from '../api.js';

const show = (v) => (v === null || v === undefined ? '—' : html`<pre class="json small">${JSON.stringify(v, null, 1)}</pre>`);
// Of two objects, only the keys whose values differ: what the change was.
function changed(a) {
  const obj = (x) => x && typeof x === 'object' && !Array.isArray(x);
  if (!obj(a.before) || !obj(a.after)) return [a.before, a.after];
  const b = {}, f = {};
  for (const k of new Set([...Object.keys(a.before), ...Object.keys(a.after)]))
    if (JSON.stringify(a.before[k]) !== JSON.stringify(a.after[k])) { b[k] = a.before[k]; f[k] = a.after[k]; }
  return [b, f];
}
const newest = (l) => [...l].sort((x, y) => (y.id ?? 0) - (x.id ?? 0) || String(y.at).localeCompare(String(x.at)));

export function Audit() {
  const [f, setF] = useState({ actor: '', action: '' });
  const [query, setQuery] = useState({});
  const l = useLoad(() => get(paths.audit({ ...query, limit: 200 })), [JSON.stringify(query)]);
  return html`<${Page} title="Audit">
    <form class="filters" onSubmit=${(e) => { e.preventDefault(); setQuery(f); }} aria-label="Filter the audit">
      <div><label for="a-actor">Who</label><input id="a-actor" placeholder="user:alice" value=${f.actor} onInput=${(e) => setF({ ...f, actor: e.target.value })} /></div>
      <div><label for="a-action">What</label><input id="a-action" placeholder="bot.update" value=${f.action} onInput=${(e) => setF({ ...f, action: e.target.value })} /></div>
      <button type="submit">Filter</button>
    </form>
    <${Problem} error=${l.error} />
    ${!l.data ? (l.error ? '' : html`<${Loading} what="the audit" />`) : html`<${Table} label="Audit" rows=${newest(items(l.data))} cols=${[
      { label: 'When', cell: (a) => stamp(a.at) }, { label: 'Who', cell: (a) => a.actor },
      { label: 'What', cell: (a) => html`<code>${a.action}</code>` }, { label: 'On', cell: (a) => a.target || '—' },
      { label: 'Before', cell: (a) => show(changed(a)[0]) }, { label: 'After', cell: (a) => show(changed(a)[1]) },
      { label: 'From', cell: (a) => a.addr || '—' },
    ]} />`}
  <//>`;
}
