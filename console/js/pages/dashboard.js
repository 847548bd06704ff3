// Dashboard: the fleet, the queues, throughput and enqueue-to-sent latency over
// the last hour, breakers, LLM spend against the budgets, dead letters today.
// Live from the stream's snapshots (a poll while the stream is down); what is
// wrong is shown as wrong: a crash loop, a stale heartbeat, an open breaker, a
// budget past 80 %, dead letters today.
import { html, useState, useEffect, useLoad, Problem, Table, Badge, Page, dur, num, ago } from '../ui.js';
import { paths, get, items } from '../api.js';
import { useStream, pollSnapshot, LiveBadge } from '../live.js';
import { Chart } from '../chart.js';

const HOUR = 3600;
const STALE_MS = 5000; // a heartbeat older than this is a worker in trouble
const DETAIL_MS = 5000; // while live: what the stream's fleet event leaves out

// A fleet event's workers over the last full status (same index: its fields win).
function mergeFleet(old, f) {
  const byIndex = new Map(workersOf(old).map((w) => [w.index, w]));
  return { ...old, ...f, workers: (f.workers || []).map((w) => ({ ...byIndex.get(w.index), ...w })) };
}

const workersOf = (f) => items(f && (f.workers || f));
const queueTotals = (q) => (q ? q.totals || q.total || q : {});
const wrongWorker = (w) => w.crash_loop || w.crashloop || (w.heartbeat_age_ms || 0) > STALE_MS;
const stateOf = (b) => String((b && (b.state || b)) || 'closed').toLowerCase();
const breakerKind = (s) => (s === 'open' ? 'bad' : s.startsWith('half') ? 'warn' : 'ok');

// The last hour's sent messages, newest first, in the API's pages (up to 5000).
async function lastHour() {
  const since = new Date(Date.now() - HOUR * 1000).toISOString(), all = [];
  let before;
  for (let i = 0; i < 5; i++) {
    const page = items(await get(paths.messages({ since, status: 'sent', limit: 1000, before })));
    all.push(...page);
    if (page.length < 1000) break;
    before = page[page.length - 1].id;
  }
  return all;
}

// Per-minute buckets of the last hour from sent messages: [xs, sent, p50, p95].
function series(msgs) {
  const now = Math.floor(Date.now() / 60000) * 60, xs = [], sent = [], p50 = [], p95 = [];
  const lat = new Map();
  for (let t = now - HOUR + 60; t <= now; t += 60) lat.set(t, []);
  for (const m of msgs) {
    const at = Date.parse(m.sent_at || m.created_at || m.at);
    if (isNaN(at)) continue;
    const b = Math.floor(at / 60000) * 60;
    if (!lat.has(b)) continue;
    const enq = Date.parse(m.enqueued_at || '');
    lat.get(b).push(isNaN(enq) ? null : at - enq);
  }
  for (const [t, l] of lat) {
    xs.push(t); sent.push(l.length);
    const v = l.filter((x) => x !== null).sort((a, b) => a - b);
    p50.push(v.length ? v[Math.floor(v.length * 0.5)] : null);
    p95.push(v.length ? v[Math.min(v.length - 1, Math.floor(v.length * 0.95))] : null);
  }
  return [xs, sent, p50, p95];
}

function Fleet({ fleet }) {
  const ws = workersOf(fleet);
  const loops = ws.filter((w) => w.crash_loop || w.crashloop).length;
  return html`<div class="card" data-card="fleet">
    <h2>Fleet <${Badge} kind=${loops ? 'bad' : 'ok'}>${ws.length} workers${loops ? `, ${loops} in a crash loop` : ''}<//></h2>
    <${Table} label="Workers" rows=${ws} rowCls=${(w) => (wrongWorker(w) ? 'bad' : String(w.state || '').toUpperCase() === 'READY' ? '' : 'warn')}
      empty="No worker reported (is the supervisor running?)" cols=${[
        { label: 'Worker', cell: (w) => w.index ?? w.slot },
        { label: 'State', cell: (w) => html`${w.state}${w.crash_loop || w.crashloop ? html` <${Badge} kind="bad">crash loop<//>` : ''}` },
        { label: 'PID', cell: (w) => w.pid || '—' },
        { label: 'Restarts', cell: (w) => num(w.restarts) },
        { label: 'Heartbeat', cell: (w) => dur(w.heartbeat_age_ms) },
        { label: 'Up', cell: (w) => (w.up_s !== undefined ? dur(w.up_s * 1000) : '—') },
      ]} />
  </div>`;
}

function Queues({ queues }) {
  const t = queueTotals(queues);
  const cell = (k, label, bad) => html`<div class=${'stat' + (bad ? ' bad' : '')} data-queue=${k}>
    <span class="stat-n">${num(t[k])}</span><span class="stat-l">${label}</span></div>`;
  const oldest = t.oldest_age_ms ?? (t.oldest_age_s !== undefined ? t.oldest_age_s * 1000 : null);
  return html`<div class="card" data-card="queues"><h2>Queues</h2>
    <div class="stats">
      ${cell('high', 'high')}${cell('normal', 'normal')}${cell('low', 'low')}
      ${cell('delayed', 'delayed')}${cell('leased', 'leased')}
      ${oldest !== null && oldest !== undefined ? html`<div class=${'stat' + (oldest > 60000 ? ' bad' : '')} data-queue="oldest">
        <span class="stat-n">${dur(oldest)}</span><span class="stat-l">oldest waiting</span></div>` : ''}
    </div></div>`;
}

// A card whose resource the API does not offer (404) says so, quietly: an API
// older or newer than the console is not an alarm.
const Missing = ({ title, card }) => html`<div class="card" data-card=${card}><h2>${title}</h2>
  <p class="muted">Not offered by this API.</p></div>`;
const missing = (l) => l.error && l.error.status === 404;

// The breakers per worker, folded per provider and for Telegram: the worst
// state, and which workers have it (each worker keeps its own breakers).
const RANK = { closed: 0, 'half-open': 1, half_open: 1, open: 2 };
function Breakers({ data }) {
  if (!data) return null;
  const seen = new Map(); // name -> {state, workers: []}
  const note = (name, state, w) => {
    const s = String(state || 'closed').toLowerCase(), o = seen.get(name) || { state: 'closed', workers: [] };
    if ((RANK[s] ?? 1) > (RANK[o.state] ?? 1)) o.state = s;
    if (s !== 'closed') o.workers.push(w);
    seen.set(name, o);
  };
  for (const w of items(data.workers || data)) {
    note('Telegram API', w.telegram, w.worker);
    for (const [p, st] of Object.entries(w.llm || {})) note('LLM ' + p, st, w.worker);
  }
  const rows = [...seen].map(([what, o]) => ({ what, ...o }));
  const open = rows.filter((r) => r.state !== 'closed').length;
  return html`<div class=${'card' + (open ? ' bad' : '')} data-card="breakers"><h2>Breakers <${Badge} kind=${open ? 'bad' : 'ok'}>${open ? open + ' not closed' : 'all closed'}<//></h2>
    <ul class="breakers">${rows.map((r) => html`<li><${Badge} kind=${breakerKind(r.state)}>${r.state}<//> ${r.what}${r.workers.length
      ? html` <span class="muted">in worker${r.workers.length > 1 ? 's' : ''} ${r.workers.join(', ')}</span>` : ''}</li>`)}</ul></div>`;
}

// Tokens per provider today (UTC), as the fleet's budgets count them in Redis,
// against the provider's daily budget (the fleet's); the running workers'
// own counts when Redis did not answer.
function Spend({ data }) {
  if (!data) return null;
  const provs = items(data.providers || []);
  const today = (data.days || [])[0];
  return html`<div class="card" data-card="spend"><h2>LLM spend</h2>
    ${provs.map((p) => {
      const counted = today && today.providers ? today.providers[p.provider] : undefined;
      const used = counted !== undefined ? counted : (p.prompt_tokens || 0) + (p.completion_tokens || 0);
      const budget = p.daily_tokens || 0;
      const share = budget ? used / budget : 0, c = p.calls || {};
      const failed = (c['429'] || 0) + (c['5xx'] || 0) + (c.timeout || 0) + (c.error || 0);
      return html`<div class=${'budget' + (share >= 0.8 ? ' bad' : '')} data-provider=${p.provider}>
        <label>${p.provider} <span class="muted">${p.model || ''}: ${num(used)} tokens${budget ? ` of ${num(budget)} a day` : ', no daily budget'}</span></label>
        ${budget ? html`<meter min="0" max="1" low="0.6" high="0.8" optimum="0" value=${Math.min(share, 1)}
          aria-label=${p.provider + ' budget used'}>${Math.round(share * 100)} %</meter>` : ''}
        <p class="muted small">${num(c.ok)} calls answered${failed ? html`, <span class="warn-text">${num(failed)} failed (429 ${c['429'] || 0}, 5xx ${c['5xx'] || 0}, timeout ${c.timeout || 0})</span>` : ''}</p>
      </div>`;
    })}
    <p class="muted small">${today ? `Today (${today.date}, UTC), the whole fleet.` : 'Since the running workers started (Redis did not answer).'}</p></div>`;
}

export function Dashboard() {
  const [snap, setSnap] = useState(null);
  const spend = useLoad(() => get(paths.spend()), []);
  const breakers = useLoad(() => get(paths.breakers()), []);
  const today = new Date(); today.setHours(0, 0, 0, 0);
  const DEAD_MAX = 500; // the API's page; more shows as "500+"
  const dead = useLoad(() => get(paths.dead({ since: today.toISOString(), state: 'all', limit: DEAD_MAX })), []);
  const hist = useLoad(() => lastHour(), []);
  const [msgs, setMsgs] = useState([]);
  useEffect(() => { if (hist.data) setMsgs(items(hist.data)); }, [hist.data]);
  const first = useLoad(pollSnapshot, []);
  useEffect(() => { if (first.data && !snap) setSnap(first.data); }, [first.data]);
  const state = useStream({
    onSnapshot: (s) => setSnap((old) => ({ ...old, ...s })),
    // the stream's fleet event: states and restarts at once; heartbeats, crash
    // loops, leased and delayed come with the slower poll below
    onFleet: (f) => setSnap((old) => old && ({ ...old, fleet: mergeFleet(old.fleet, f),
      queues: { ...old.queues, total: { ...queueTotals(old.queues), ...(f.queue_depth || {}) } } })),
    onMessage: (m) => { if (m.status === 'sent') setMsgs((l) => [...l.filter((x) => x.id !== m.id).slice(-4999), m]); },
    poll: pollSnapshot,
  });
  // spend and breakers are the workers' counters in shared memory: cheap to ask
  useEffect(() => {
    const t = setInterval(() => { spend.reload(); breakers.reload(); }, DETAIL_MS);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    if (state !== 'live') return undefined; // polling already, or about to
    const t = setInterval(() => pollSnapshot().then((s) => setSnap((old) => ({ ...old, ...s })), () => {}), DETAIL_MS);
    return () => clearInterval(t);
  }, [state]);
  const [xs, sent, p50, p95] = series(msgs);
  const deadN = dead.data ? items(dead.data).length : null;
  const deadToday = deadN === DEAD_MAX ? DEAD_MAX + '+' : deadN;
  return html`<${Page} title="Dashboard" actions=${html`<${LiveBadge} state=${state} />`}>
    <${Problem} error=${first.error} />
    <div class="grid">
      ${snap ? html`<${Fleet} fleet=${snap.fleet} /><${Queues} queues=${snap.queues} />` : ''}
      <${Chart} title="Messages sent per minute, last hour" unit="msgs" data=${[xs, sent]}
        series=${[{ label: 'sent', stroke: '#2a6f97' }]} />
      <${Chart} title=${'Enqueue to sent, last hour' + (p50.some((v) => v !== null) || !sent.some((v) => v) ? '' : ' (the API gives no enqueue times)')} unit="ms" data=${[xs, p50, p95]}
        series=${[{ label: 'p50', stroke: '#2a9d8f' }, { label: 'p95', stroke: '#e76f51' }]} />
      ${missing(breakers) ? html`<${Missing} title="Breakers" card="breakers" />` : html`<${Breakers} data=${breakers.data} />`}
      ${missing(spend) ? html`<${Missing} title="LLM spend" card="spend" />` : html`<${Spend} data=${spend.data} />`}
      <div class=${'card' + (deadToday ? ' bad' : '')} data-card="dead"><h2>Dead letters today</h2>
        <p class="stat-n">${typeof deadToday === 'string' ? deadToday : num(deadToday)}</p><a href="#/dead">Open the dead letters</a></div>
    </div>
    <${Problem} error=${[spend, breakers, dead, hist].map((l) => l.error).find((e) => e && e.status !== 404)} />
  <//>`;
}
