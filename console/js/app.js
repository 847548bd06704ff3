// app: the console's shell: who is logged in, the navigation, and which page the
// URL's fragment names (#/bots/3). Pages are modules under pages/; each gets
// {me, params} and asks the API for what it shows. What a role may not do is
// not offered: the nav and the pages ask may(me, role) before they show a link
// or a button (the API refuses it anyway).
import { html, render, useState, useEffect, Loading } from './ui.js';
import { paths, get, post, setCsrf, setOnUnauthorized, may } from './api.js';
import { Login } from './pages/login.js';
import { Dashboard } from './pages/dashboard.js';
import { LiveChat } from './pages/chat.js';
import { Bots, BotPage } from './pages/bots.js';
import { Chats, ChatPage } from './pages/chats.js';
import { Settings } from './pages/settings.js';
import { DeadLetters } from './pages/dead.js';
import { Users } from './pages/users.js';
import { Audit } from './pages/audit.js';
import { Control } from './pages/control.js';

// route pattern, page, title, role needed, shown in the nav
const ROUTES = [
  ['/', Dashboard, 'Dashboard', 'viewer', true],
  ['/chat', LiveChat, 'Live chat', 'viewer', true],
  ['/chat/:id', LiveChat, 'Live chat', 'viewer', false],
  ['/bots', Bots, 'Bots', 'viewer', true],
  ['/bots/:id', BotPage, 'Bot', 'viewer', false],
  ['/chats', Chats, 'Chats', 'viewer', true],
  ['/chats/:id', ChatPage, 'Chat', 'viewer', false],
  ['/settings', Settings, 'Settings', 'viewer', true],
  ['/dead', DeadLetters, 'Dead letters', 'viewer', true],
  ['/control', Control, 'Control', 'viewer', true],
  ['/users', Users, 'Users and keys', 'admin', true],
  ['/audit', Audit, 'Audit', 'admin', true],
];

function match(path) {
  for (const [pat, page, title, role] of ROUTES) {
    const a = pat.split('/'), b = path.split('/');
    if (a.length !== b.length) continue;
    const params = {};
    if (a.every((s, i) => (s.startsWith(':') ? ((params[s.slice(1)] = decodeURIComponent(b[i])), true) : s === b[i])))
      return { page, title, role, params };
  }
  return null;
}

// The login's answer is {name, role}; /me's {actor: "user:NAME", role, via}.
const who = (m) => ({ ...m, name: m.name || String(m.actor || '').replace(/^user:/, '') });

const here = () => (location.hash.replace(/^#/, '') || '/').split('?')[0];

function Nav({ me, path, onLogout }) {
  const [open, setOpen] = useState(false);
  const links = ROUTES.filter((r) => r[4] && may(me, r[3]));
  const current = (p) => (p === '/' ? path === '/' : path === p || path.startsWith(p + '/'));
  return html`<nav class="nav" aria-label="Console">
    <a class="brand" href="#/">piyasa</a>
    <button type="button" class="nav-toggle" aria-expanded=${open} aria-controls="nav-links"
      onClick=${() => setOpen(!open)}>Menu</button>
    <ul id="nav-links" class=${open ? 'open' : ''} onClick=${() => setOpen(false)}>
      ${links.map(([p, , t]) => html`<li><a href=${'#' + p} aria-current=${current(p) ? 'page' : undefined}>${t}</a></li>`)}
    </ul>
    <div class="who"><span data-me>${me.name}</span> <span class="badge">${me.role}</span>
      <button type="button" onClick=${onLogout}>Log out</button></div>
  </nav>`;
}

function App() {
  const [me, setMe] = useState(undefined); // undefined: asking; null: logged out
  const [path, setPath] = useState(here());
  useEffect(() => {
    const on = () => setPath(here());
    addEventListener('hashchange', on);
    setOnUnauthorized(() => setMe(null));
    get(paths.me()).then((m) => {
      if (m.csrf) setCsrf(m.csrf);
      setMe(who(m));
    }, () => setMe(null));
    return () => removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    const r = match(path);
    document.title = (r ? r.title : 'Not found') + ' · piyasa';
  }, [path]);
  if (me === undefined) return html`<main id="main"><${Loading} what="the console" /></main>`;
  if (me === null)
    return html`<main id="main"><${Login} onIn=${(m, csrf) => { setCsrf(csrf); setMe(who(m)); }} /></main>`;
  const logout = () => post(paths.logout()).catch(() => {}).then(() => { setCsrf(''); setMe(null); location.hash = '#/'; });
  const r = match(path);
  let body;
  if (!r) body = html`<section class="page"><h1>Not found</h1><p>No page at ${path}. <a href="#/">Dashboard</a></p></section>`;
  else if (!may(me, r.role)) body = html`<section class="page"><h1>${r.title}</h1><p>This page is for the ${r.role} role.</p></section>`;
  else body = html`<${r.page} me=${me} params=${r.params} key=${path} />`;
  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
    <${Nav} me=${me} path=${path} onLogout=${logout} />
    <main id="main" tabindex="-1">${body}</main>`;
}

render(html`<${App} />`, document.getElementById('app'));
