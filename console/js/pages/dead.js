// Dead letters: the jobs that ran out of attempts or could not run, searched by
// bot, chat, reason and time; one shown with its job and reason; retried one or
// many (each goes back to its owner's queue) or deleted, with a confirmation.
import { html, useState, useLoad, Problem, Loading, Table, Page, Confirm, Badge, stamp, ago } from '../ui.js';
import { paths, get, post, del, items, may } from '../api.js';

const PAGE = 100;

export function DeadLetters({ me }) {
  const [f, setF] = useState({ bot: '', chat: '', reason: '', since: '', state: 'open' });
  const [query, setQuery] = useState({});
  const l = useLoad(() => get(paths.dead({ ...query, limit: PAGE })), [JSON.stringify(query)]);
  const [sel, setSel] = useState(new Set());
  const [open, setOpen] = useState(null);
  const [ask, setAsk] = useState(null); // {what: 'retry'|'delete', ids}
  const [msg, setMsg] = useState('');
  const [err, setErr] = useState(null);
  const canAct = may(me, 'operator');
  const rows = items(l.data);
  const search = (e) => { e.preventDefault(); setSel(new Set()); setQuery({ ...f, since: f.since ? new Date(f.since).toISOString() : '' }); };
  const toggle = (id) => { const s = new Set(sel); s.has(id) ? s.delete(id) : s.add(id); setSel(s); };
  const act = async () => {
    const { what, ids } = ask;
    setAsk(null); setErr(null);
    try {
      if (what === 'retry') {
        const r = await (ids.length === 1 ? post(paths.deadRetryOne(ids[0])) : post(paths.deadRetry(), { ids }));
        const res = (r && r.results) || ids.map((id) => ({ id, queued: true }));
        const bad = res.filter((x) => !x.queued);
        setMsg(`${res.length - bad.length} sent back to their queues` + (bad.length ? `; not retried: ${bad.map((x) => `${x.id} (${x.error})`).join(', ')}` : '.'));
      } else {
        for (const id of ids) await del(paths.deadOne(id));
        setMsg(`${ids.length} deleted.`);
      }
      setSel(new Set()); l.reload();
    } catch (e) { setErr(e); l.reload(); }
  };
  const field = (k, label, type) => html`<div><label for=${'d-' + k}>${label}</label>
    <input id=${'d-' + k} type=${type || 'text'} value=${f[k]} onInput=${(e) => setF({ ...f, [k]: e.target.value })} /></div>`;
  const cols = [
    ...(canAct ? [{ label: html`<span class="sr">Select</span>`, cell: (d) => html`<input type="checkbox" aria-label=${'Select dead letter ' + d.id}
      checked=${sel.has(d.id)} onChange=${() => toggle(d.id)} />` }] : []),
    { label: 'When', cell: (d) => html`<span title=${stamp(d.died_at || d.failed_at)}>${ago(d.died_at || d.failed_at)}</span>` },
    { label: 'Kind', cell: (d) => d.kind || (d.job && d.job.kind) },
    { label: 'Bot', cell: (d) => d.bot_id ?? (d.job && d.job.bot_id) ?? '—' },
    { label: 'Chat', cell: (d) => d.chat_id ?? (d.job && d.job.chat_id) ?? '—' },
    { label: 'Reason', cell: (d) => html`<span class="reason">${d.reason}</span>${d.retried_at ? html` <${Badge}>retried ${ago(d.retried_at)}<//>` : ''}` },
    { label: '', cell: (d) => html`<button type="button" class="small" aria-expanded=${open === d.id} onClick=${() => setOpen(open === d.id ? null : d.id)}>${open === d.id ? 'Hide' : 'Show'}</button>
      ${canAct ? html` <button type="button" class="small" onClick=${() => setAsk({ what: 'retry', ids: [d.id] })}>Retry</button>` : ''}` },
  ];
  const one = useLoad(() => (open === null ? Promise.resolve(null) : get(paths.deadOne(open))), [open]);
  const shown = one.data && one.data.id === open ? one.data : null;
  return html`<${Page} title="Dead letters">
    <form class="filters" onSubmit=${search} aria-label="Search dead letters">
      ${field('bot', 'Bot id')}${field('chat', 'Chat id')}${field('reason', 'Reason contains')}${field('since', 'Since', 'datetime-local')}
      <div><label for="d-state">Which</label><select id="d-state" value=${f.state} onChange=${(e) => setF({ ...f, state: e.target.value })}>
        <option value="open">not retried</option><option value="retried">retried</option><option value="all">all</option></select></div>
      <button type="submit">Search</button>
    </form>
    ${canAct && sel.size ? html`<div class="bulk" role="region" aria-label="Selected">
      ${sel.size} selected: <button type="button" onClick=${() => setAsk({ what: 'retry', ids: [...sel] })}>Retry</button>
      <button type="button" class="danger" onClick=${() => setAsk({ what: 'delete', ids: [...sel] })}>Delete</button></div>` : ''}
    ${msg ? html`<p class="saved" role="status">${msg}</p>` : ''}
    <${Problem} error=${err || l.error} />
    ${!l.data ? (l.error ? '' : html`<${Loading} what="dead letters" />`) : html`<${Table} label="Dead letters" rows=${rows} cols=${cols} empty="No dead letter matches." />`}
    ${l.data && l.data.total > rows.length ? html`<p class="muted">${rows.length} of ${l.data.total} shown: narrow the search.</p>` : ''}
    ${shown ? html`<section class="card" aria-label="Dead letter" data-dead=${shown.id}><h2>Dead letter ${shown.id}</h2>
      <p><b>Reason:</b> ${shown.reason}</p><p class="muted">attempts ${shown.attempts ?? (shown.job && shown.job.attempts) ?? '—'} · failed ${stamp(shown.died_at || shown.failed_at)}</p>
      <pre class="json">${JSON.stringify(shown.job || shown, null, 2)}</pre></section>` : ''}
    <${Confirm} open=${!!ask} title=${ask ? (ask.what === 'retry' ? 'Retry ' : 'Delete ') + ask.ids.length + ' dead letter' + (ask.ids.length > 1 ? 's' : '') + '?' : ''}
      confirm=${ask && ask.what === 'delete' ? 'Delete' : 'Retry'} onConfirm=${act} onCancel=${() => setAsk(null)}>
      ${ask && ask.what === 'retry' ? 'Each job goes back to its owner\'s queue with fresh attempts; its outbox row keeps it from being sent twice.' : 'They are gone for good.'}
    <//>
  <//>`;
}
