// Control: the simulation on or off, the scale factor and the fleet's size, each
// with a confirmation saying what it does. A viewer sees the state, no buttons.
import { html, useState, useLoad, Problem, Loading, Page, Badge, Confirm, Field } from '../ui.js';
import { paths, get, patch, post, may } from '../api.js';
import { errorAt } from '../form.js';

export function Control({ me }) {
  const c = useLoad(() => get(paths.control()), []);
  const fleet = useLoad(() => get(paths.fleet()), []);
  const [ask, setAsk] = useState(null); // {title, text, run}
  const [scale, setScale] = useState('');
  const [size, setSize] = useState('');
  const [err, setErr] = useState(null);
  const [done, setDone] = useState('');
  const canAct = may(me, 'operator');
  if (!c.data) return html`<${Page} title="Control"><${Problem} error=${c.error} />${c.error ? '' : html`<${Loading} />`}<//>`;
  const on = !!c.data.simulation_active;
  const workers = fleet.data ? (fleet.data.workers || []).length : null;
  const run = (fn, what) => { setAsk(null); setErr(null); setDone(''); fn().then((r) => { if (r) c.set({ ...c.data, ...r }); else c.reload(); fleet.reload(); setDone(what); }, setErr); };
  const sim = () => setAsk({ title: on ? 'Stop the simulation?' : 'Start the simulation?',
    text: on ? 'Scheduled chatter stops in every chat within a second. Replies to humans still run.' : 'The bots start talking in their chats on their own schedule.',
    confirm: on ? 'Stop' : 'Start', run: () => run(() => patch(paths.control(), { simulation_active: !on }), on ? 'Simulation stopped.' : 'Simulation started.') });
  const doScale = (e) => { e.preventDefault(); const v = Number(scale);
    setAsk({ title: `Set the scale factor to ${scale}?`, text: 'Every delay and the hourly window are divided by it: at 60 an hour runs in a minute. Keep 1 in production.',
      confirm: 'Set', run: () => run(() => patch(paths.control(), { scale_factor: isNaN(v) ? scale : v }), 'Scale factor set.') }); };
  const doResize = (e) => { e.preventDefault();
    setAsk({ title: `Resize the fleet to ${size} workers?`, text: 'The supervisor drains the workers, moves the queues to their new owners and starts the new fleet: a pause of a few seconds, no job lost or run twice.',
      confirm: 'Resize', run: () => run(() => post(paths.resize(), { workers: Number(size) }), 'Resize asked; the dashboard shows the new fleet.') }); };
  return html`<${Page} title="Control">
    <${Problem} error=${err && !err.field ? err : null} />
    ${done ? html`<p class="saved" role="status">${done}</p>` : ''}
    <div class="grid">
      <div class="card" data-card="simulation"><h2>Simulation <${Badge} kind=${on ? 'ok' : 'off'}>${on ? 'running' : 'stopped'}<//></h2>
        <p class="meaning">Scheduled chatter runs only while it is on; replies to humans always run.</p>
        ${canAct ? html`<button type="button" class=${on ? 'danger' : 'primary'} onClick=${sim}>${on ? 'Stop the simulation' : 'Start the simulation'}</button>` : ''}</div>
      <div class="card" data-card="scale"><h2>Scale factor: ${c.data.scale_factor ?? 1}</h2>
        ${canAct ? html`<form novalidate onSubmit=${doScale}><${Field} label="New scale factor" name="scale_factor" range="0.1 .. 1000"
            meaning="divides every delay and the hourly window; 60 runs an hour in a minute" error=${errorAt(err, 'scale_factor')}>
          ${(id, d) => html`<input id=${id} aria-describedby=${d} inputmode="decimal" value=${scale} onInput=${(e) => setScale(e.target.value)} />`}<//>
          <button type="submit" disabled=${!scale}>Set</button></form>` : html`<p class="meaning">divides every delay and the hourly window</p>`}</div>
      <div class="card" data-card="resize"><h2>Fleet: ${workers ?? '—'} workers</h2>
        ${canAct ? html`<form novalidate onSubmit=${doResize}><${Field} label="Workers" name="workers" meaning="how many worker processes share the bots (bot id mod N)" error=${errorAt(err, 'workers')}>
          ${(id, d) => html`<input id=${id} aria-describedby=${d} inputmode="numeric" value=${size} onInput=${(e) => setSize(e.target.value)} />`}<//>
          <button type="submit" disabled=${!size}>Resize</button></form>` : ''}</div>
    </div>
    <${Confirm} open=${!!ask} title=${ask ? ask.title : ''} confirm=${ask ? ask.confirm : ''} onConfirm=${() => ask.run()} onCancel=${() => setAsk(null)}>${ask ? ask.text : ''}<//>
  <//>`;
}
