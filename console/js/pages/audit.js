// Audit (admin): every state-changing call, who made it, when, from where, and
// the values before and after, newest first; filtered by actor and action.
import { html, useState, useLoad, Problem, Loading, Table, Page, stamp } from '../ui.js';
import { paths, get, items } from '../api.js';

const show = (v) => (v === null || v === undefined ? '—' : html`<pre class="json small">${JSON.stringify(v, null, 1)}</pre>`);

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
    ${!l.data ? (l.error ? '' : html`<${Loading} what="the audit" />`) : html`<${Table} label="Audit" rows=${items(l.data)} cols=${[
      { label: 'When', cell: (a) => stamp(a.at) }, { label: 'Who', cell: (a) => a.actor },
      { label: 'What', cell: (a) => html`<code>${a.action}</code>` }, { label: 'On', cell: (a) => a.target || '—' },
      { label: 'Before', cell: (a) => show(a.before) }, { label: 'After', cell: (a) => show(a.after) },
      { label: 'From', cell: (a) => a.addr || '—' },
    ]} />`}
  <//>`;
}
