// Dashboard: the fleet, the queues, throughput and enqueue-to-sent latency over
// the last hour, breakers, LLM spend against the budgets, dead letters today.
// Live from the stream's snapshots (a poll while the stream is down); what is
// wrong is shown as wrong: a crash loop, a stale heartbeat, an open breaker, a
// budget past 80 %, dead letters today.
import { html, useState, useEffect, useLoad, Problem, Table, Badge, Page, dur, num, ago } from '../ui.js';
import { paths, get, items } from '../api.js';
import { useStream, pollSnapshot, LiveBadge } from '../live.js';
import { Chart } from '../chart.js';

const STATS_MS = 10000; // the per-minute stats asked again
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

// The charts' series from the API's per-minute stats of the last hour (counted
// by PostgreSQL, so thousands of bots cost the browser nothing), with the
// stream's sends since that answer added to their minute: [xs, sent, p50, p95].
function series(stats, bumps) {
  const xs = [], sent = [], p50 = [], p95 = [];
  for (const r of items(stats && stats.per_minute)) {
    const t = Date.parse(r.minute) / 1000;
    if (isNaN(t)) continue;
    xs.push(t); sent.push((r.sent || 0) + (bumps.get(t) || 0));
    p50.push(r.p50_ms ?? null); p95.push(r.p95_ms ?? null);
  }
  const now = Math.floor(Date.now() / 60000) * 60; // a minute begun since the answer
  if (xs.length && now > xs[xs.length - 1] && bumps.get(now)) {
    xs.push(now); sent.push(bumps.get(now)); p50.push(null); p95.push(null);
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
  const stats = useLoad(() => get(paths.messageStats({ minutes: 60 })), []);
  // sends the stream showed since the last stats answer, by minute (epoch s)
  const [bumps, setBumps] = useState(() => new Map());
  useEffect(() => { if (stats.data) setBumps(new Map()); }, [stats.data]);
  const first = useLoad(pollSnapshot, []);
  useEffect(() => { if (first.data && !snap) setSnap(first.data); }, [first.data]);
  const state = useStream({
    onSnapshot: (s) => setSnap((old) => ({ ...old, ...s })),
    // the stream's fleet event: states and restarts at once; heartbeats, crash
    // loops, leased and delayed come with the slower poll below
    onFleet: (f) => setSnap((old) => old && ({ ...old, fleet: mergeFleet(old.fleet, f),
      queues: { ...old.queues, total: { ...queueTotals(old.queues), ...(f.queue_depth || {}) } } })),
    onMessage: (m) => {
      if (m.status !== 'sent' || !m.bot_id) return;
      const at = Date.parse(m.sent_at || '') || Date.now(), t = Math.floor(at / 60000) * 60;
      setBumps((b) => new Map(b).set(t, (b.get(t) || 0) + 1));
    },
    poll: pollSnapshot,
  });
  // spend and breakers are the workers' counters in shared memory: cheap to ask
  useEffect(() => {
    const t = setInterval(() => { spend.reload(); breakers.reload(); }, DETAIL_MS);
    const u = setInterval(() => stats.reload(), STATS_MS);
    return () => { clearInterval(t); clearInterval(u); };
  }, []);
  useEffect(() => {
    if (state !== 'live') return undefined; // polling already, or about to
    const t = setInterval(() => pollSnapshot().then((s) => setSnap((old) => ({ ...old, ...s })), () => {}), DETAIL_MS);
    return () => clearInterval(t);
  }, [state]);
  const [xs, sent, p50, p95] = series(stats.data, bumps);
  const deadN = dead.data ? items(dead.data).length : null;
  const deadToday = deadN === DEAD_MAX ? DEAD_MAX + '+' : deadN;
  return html`<${Page} title="Dashboard" actions=${html`<${LiveBadge} state=${state} />`}>
    <${Problem} error=${first.error} />
    <div class="grid">
      ${snap ? html`<${Fleet} fleet=${snap.fleet} /><${Queues} queues=${snap.queues} />` : ''}
      <${Chart} name="sent" title="Messages sent per minute, last hour" unit="msgs" data=${[xs, sent]}
        series=${[{ label: 'sent', stroke: '#2a6f97' }]} />
      <${Chart} name="latency" title="Enqueue to sent, last hour (p50, p95)" unit="ms" data=${[xs, p50, p95]}
        series=${[{ label: 'p50', stroke: '#2a9d8f', dots: true }, { label: 'p95', stroke: '#e76f51', dots: true }]} />
      ${missing(breakers) ? html`<${Missing} title="Breakers" card="breakers" />` : html`<${Breakers} data=${breakers.data} />`}
      ${missing(spend) ? html`<${Missing} title="LLM spend" card="spend" />` : html`<${Spend} data=${spend.data} />`}
      <div class=${'card' + (deadToday ? ' bad' : '')} data-card="dead"><h2>Dead letters today</h2>
        <p class="stat-n">${typeof deadToday === 'string' ? deadToday : num(deadToday)}</p><a href="#/dead">Open the dead letters</a></div>
    </div>
    <${Problem} error=${[spend, breakers, dead, stats].map((l) => l.error).find((e) => e && e.status !== 404)} />
  <//>`;
}
