// Login: name and password, and the TOTP code when the API says the user has one
// (the field appears then, or can be filled at once). The session cookie is the
// API's; the answer gives who we are and the CSRF token.
import { html, useState } from '../ui.js';
import { paths, post } from '../api.js';

export function Login({ onIn }) {
  const [f, setF] = useState({ name: '', password: '', totp: '' });
  const [needTotp, setNeedTotp] = useState(false);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setErr('');
    try {
      const body = { name: f.name, password: f.password };
      if (f.totp) body.totp = f.totp;
      const r = await post(paths.login(), body);
      onIn(r, r.csrf);
    } catch (x) {
      const p = x.problem || {};
      if (p.totp_required || x.field === 'totp' || /totp/i.test(p.type || '')) {
        setNeedTotp(true);
        setErr(f.totp ? 'That code is not right (or has expired).' : 'Enter the 6-digit code of your authenticator.');
      } else if (x.status === 429) {
        setErr('Too many attempts: wait a moment. ' + (p.detail || ''));
      } else setErr(x.status === 401 ? 'Wrong name or password.' : x.message);
    } finally { setBusy(false); }
  };
  return html`<section class="login">
    <h1>piyasa</h1>
    <p class="muted">The fleet's console. Log in with your account (an admin makes
      one with <code>piyasactl user add</code>).</p>
    <form onSubmit=${submit} aria-label="Log in">
      <label for="l-name">Name</label>
      <input id="l-name" name="name" autocomplete="username" required value=${f.name} onInput=${set('name')} />
      <label for="l-pass">Password</label>
      <input id="l-pass" name="password" type="password" autocomplete="current-password" required
        value=${f.password} onInput=${set('password')} />
      ${needTotp ? html`<label for="l-totp">Authenticator code</label>
        <input id="l-totp" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6"
          autocomplete="one-time-code" value=${f.totp} onInput=${set('totp')} />` : ''}
      ${err ? html`<p class="problem" role="alert">${err}</p>` : ''}
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Logging in…' : 'Log in'}</button>
      ${!needTotp ? html`<button type="button" class="link" onClick=${() => setNeedTotp(true)}>I have an authenticator code</button>` : ''}
    </form>
  </section>`;
}
