// Users and keys (admin): people with their role, TOTP and last login; add,
// change a role, disable. API keys for scripts: add (the key is shown once,
// here, and never again), revoke.
import { html, useState, useLoad, Problem, Loading, Table, Page, Badge, Field, Confirm, ago } from '../ui.js';
import { paths, get, post, patch, del, items } from '../api.js';
import { errorAt } from '../form.js';

const ROLES = ['viewer', 'operator', 'admin'];

function RolePick({ id, value, onChange, label }) {
  return html`<select id=${id} aria-label=${label} value=${value} onChange=${(e) => onChange(e.target.value)}>
    ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select>`;
}

function UsersPart() {
  const l = useLoad(() => get(paths.users()), []);
  const [f, setF] = useState({ name: '', password: '', role: 'viewer' });
  const [err, setErr] = useState(null);
  const [ask, setAsk] = useState(null);
  const add = (e) => { e.preventDefault(); setErr(null); post(paths.users(), f).then(() => { setF({ name: '', password: '', role: 'viewer' }); l.reload(); }, setErr); };
  const change = (u, body) => patch(paths.user(u.name), body).then(l.reload, setErr);
  return html`<h2>Users</h2><${Problem} error=${l.error || (err && !err.field ? err : null)} />
    ${!l.data ? (l.error ? '' : html`<${Loading} what="users" />`) : html`<${Table} label="Users" rows=${items(l.data)} rowCls=${(u) => (u.disabled ? 'off' : '')} cols=${[
      { label: 'Name', cell: (u) => u.name },
      { label: 'Role', cell: (u) => html`<${RolePick} label=${'Role of ' + u.name} value=${u.role} onChange=${(r) => setAsk({ ...u, newRole: r })} />` },
      { label: 'TOTP', cell: (u) => (u.totp ? 'on' : 'off') },
      { label: 'Last login', cell: (u) => ago(u.last_login_at) },
      { label: '', cell: (u) => html`<button type="button" class="small" onClick=${() => setAsk(u)}>${u.disabled ? 'Enable' : 'Disable'}</button>` },
    ]} />`}
    <form class="inline-form" novalidate onSubmit=${add} aria-label="Add a user">
      <${Field} scope="user" label="Name" name="name" meaning="a-z, 0-9, _ . - (up to 64)" error=${errorAt(err, 'name')}>
        ${(id, d) => html`<input id=${id} aria-describedby=${d} autocomplete="off" value=${f.name} onInput=${(e) => setF({ ...f, name: e.target.value })} />`}<//>
      <${Field} scope="user" label="Password" name="password" meaning="at least 8 characters" error=${errorAt(err, 'password')}>
        ${(id, d) => html`<input id=${id} aria-describedby=${d} type="password" autocomplete="new-password" value=${f.password} onInput=${(e) => setF({ ...f, password: e.target.value })} />`}<//>
      <${Field} scope="user" label="Role" name="role" meaning="viewer reads; operator runs the fleet; admin also manages users and keys" error=${errorAt(err, 'role')}>
        ${(id) => html`<${RolePick} id=${id} value=${f.role} onChange=${(r) => setF({ ...f, role: r })} />`}<//>
      <button type="submit" class="primary">Add user</button></form>
    <${Confirm} open=${!!ask} onCancel=${() => { setAsk(null); l.reload(); }}
      title=${!ask ? '' : ask.newRole ? `Make ${ask.name} ${ask.newRole === 'admin' ? 'an' : 'a'} ${ask.newRole}?` : (ask.disabled ? 'Enable ' : 'Disable ') + ask.name + '?'}
      confirm=${!ask ? '' : ask.newRole ? 'Change the role' : ask.disabled ? 'Enable' : 'Disable'}
      onConfirm=${() => { change(ask, ask.newRole ? { role: ask.newRole } : { disabled: !ask.disabled }); setAsk(null); }}>
      ${!ask ? '' : ask.newRole ? `${ask.name} will be able to do what ${ask.newRole === 'admin' ? 'an' : 'a'} ${ask.newRole} may, and no more, from their next request.`
        : !ask.disabled ? 'Their sessions end and they cannot log in until enabled again.' : 'They can log in again.'}<//>`;
}

function KeysPart() {
  const l = useLoad(() => get(paths.keys()), []);
  const [f, setF] = useState({ name: '', role: 'viewer' });
  const [err, setErr] = useState(null);
  const [shown, setShown] = useState(null);
  const [ask, setAsk] = useState(null);
  const add = (e) => { e.preventDefault(); setErr(null); post(paths.keys(), f).then((k) => { setShown(k); setF({ name: '', role: 'viewer' }); l.reload(); }, setErr); };
  const revoke = () => { const k = ask; setAsk(null); del(paths.key(k.id)).then(l.reload, setErr); };
  return html`<h2>API keys</h2><${Problem} error=${l.error || (err && !err.field ? err : null)} />
    ${shown ? html`<div class="card once" role="status"><p><b>${shown.name}</b>: copy the key now, it is not shown again.</p>
      <input readonly aria-label="The new key" value=${shown.key} onFocus=${(e) => e.target.select()} />
      <button type="button" onClick=${() => setShown(null)}>Done</button></div>` : ''}
    ${!l.data ? (l.error ? '' : html`<${Loading} what="keys" />`) : html`<${Table} label="API keys" rows=${items(l.data)} rowCls=${(k) => (k.revoked_at ? 'off' : '')} cols=${[
      { label: 'Name', cell: (k) => k.name }, { label: 'Key', cell: (k) => html`<code>${k.hint}…</code>` },
      { label: 'Role', cell: (k) => k.role }, { label: 'Last used', cell: (k) => ago(k.last_used_at) },
      { label: '', cell: (k) => (k.revoked_at ? html`<${Badge} kind="off">revoked<//>` : html`<button type="button" class="danger small" onClick=${() => setAsk(k)}>Revoke</button>`) },
    ]} />`}
    <form class="inline-form" novalidate onSubmit=${add} aria-label="Add an API key">
      <${Field} scope="key" label="Key name" name="name" meaning="what the key is for (deploy, grafana...)" error=${errorAt(err, 'name')}>
        ${(id, d) => html`<input id=${id} aria-describedby=${d} value=${f.name} onInput=${(e) => setF({ ...f, name: e.target.value })} />`}<//>
      <${Field} scope="key" label="Key role" name="role" meaning="what a script holding it may do" error=${errorAt(err, 'role')}>
        ${(id) => html`<${RolePick} id=${id} value=${f.role} onChange=${(r) => setF({ ...f, role: r })} />`}<//>
      <button type="submit" class="primary">Add key</button></form>
    <${Confirm} open=${!!ask} title=${ask ? 'Revoke ' + ask.name + '?' : ''} confirm="Revoke" onConfirm=${revoke} onCancel=${() => setAsk(null)}>
      A script using it is refused from now on.<//>`;
}

export const Users = () => html`<${Page} title="Users and keys"><${UsersPart} /><${KeysPart} /><//>`;
