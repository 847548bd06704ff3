// api: every path of the admin API the console uses, and the one fetch wrapper.
// The paths are here and nowhere else so they can be aligned with docs/API.md in
// one place. The session is the API's HttpOnly cookie (the browser sends it; the
// console never sees it); a state-changing request carries the session's CSRF
// token in CSRF_HEADER, as the API requires. An error answer is an RFC 9457
// problem: thrown as ApiError with its status, title, detail and the field it
// names, so a form shows it at the field.

const V1 = '/api/v1';
export const CSRF_HEADER = 'X-CSRF-Token';
const q = (params) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {}))
    if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  const t = s.toString();
  return t ? '?' + t : '';
};
const id = (x) => encodeURIComponent(String(x));

export const paths = {
  login: () => `${V1}/login`, // {name, password, totp?} -> {name, role, csrf, expires_at}
  logout: () => `${V1}/logout`,
  me: () => `${V1}/me`, // {actor: "user:NAME", role, via}
  stream: (chat) => `${V1}/stream${q({ chat })}`,
  fleet: () => `${V1}/fleet`, // the supervisor's /status (docs/OPERATIONS.md)
  resize: () => `${V1}/fleet/resize`,
  queues: () => `${V1}/queues`, // {total: {high, normal, low, leased, delayed}, workers: [...]}
  // {workers, providers: [{provider, model, calls: {ok, 429, 5xx, timeout, error},
  //  prompt_tokens, completion_tokens, daily_tokens}],
  //  days: [{date, providers: {name: tokens}, bots: {id: tokens}, chats: {id: tokens}}], days_error}
  spend: () => `${V1}/spend`,
  // {workers: [{worker, telegram: "closed", llm: {NAME: "open"}}]}
  breakers: () => `${V1}/breakers`,
  control: () => `${V1}/control`, // GET; PATCH {simulation_active?, scale_factor?}
  bots: (f) => `${V1}/bots${q(f)}`,
  bot: (b) => `${V1}/bots/${id(b)}`, // with its stances, holdings and memories
  // PUT stances/{topic} and holdings/{symbol}, POST memories; DELETE each by its key
  botPart: (b, part) => `${V1}/bots/${id(b)}/${part}`,
  botPartItem: (b, part, key) => `${V1}/bots/${id(b)}/${part}/${id(key)}`,
  chats: (f) => `${V1}/chats${q(f)}`,
  chat: (c) => `${V1}/chats/${id(c)}`,
  member: (c, b) => `${V1}/chats/${id(c)}/bots/${id(b)}`, // PUT adds, DELETE removes
  messages: (f) => `${V1}/messages${q(f)}`,
  // {minutes, per_minute: [{minute: "2026-12-07T10:04Z", sent, failed, unknown, p50_ms, p95_ms}]}
  // every minute of the window, oldest first; p50_ms/p95_ms null when none was sent
  messageStats: (f) => `${V1}/stats/messages${q(f)}`,
  settings: () => `${V1}/settings`, // {settings: [{key, value, default, source, range, description}]}
  setting: (k) => `${V1}/settings/${id(k)}`,
  dead: (f) => `${V1}/dead${q(f)}`,
  deadOne: (d) => `${V1}/dead/${id(d)}`,
  deadRetryOne: (d) => `${V1}/dead/${id(d)}/retry`,
  deadRetry: () => `${V1}/dead/retry`, // many: {ids: [...]}
  users: () => `${V1}/users`,
  user: (name) => `${V1}/users/${id(name)}`,
  keys: () => `${V1}/keys`,
  key: (k) => `${V1}/keys/${id(k)}`,
  audit: (f) => `${V1}/audit${q(f)}`,
};

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  // The field a problem names, as the API writes it ("/persona/style" or
  // "persona.style" or an errors[] entry), as a dotted path; '' when none.
  get field() {
    const p = this.problem;
    const raw = p.field || p.path || p.pointer || (p.errors && p.errors[0] &&
      (p.errors[0].field || p.errors[0].path || p.errors[0].pointer)) || '';
    return String(raw).replace(/^#?\//, '').replace(/\//g, '.');
  }
}

// The CSRF token comes with the login's answer. /me does not repeat it, so a
// reload of the page finds it in sessionStorage (this tab only; gone with it).
let csrf = sessionStorage.getItem('piyasa.csrf') || '';
let onUnauthorized = () => {};
export const setCsrf = (t) => {
  csrf = t || '';
  if (csrf) sessionStorage.setItem('piyasa.csrf', csrf);
  else sessionStorage.removeItem('piyasa.csrf');
};
export const hasCsrf = () => !!csrf;
export const setOnUnauthorized = (f) => { onUnauthorized = f; };

// One request; the decoded JSON (null for 204), or an ApiError thrown.
export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers[CSRF_HEADER] = csrf;
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, { title: 'The API cannot be reached', detail: String(e.message || e) });
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { detail: text }; }
  if (!res.ok) {
    if (res.status === 401 && path !== paths.login()) onUnauthorized();
    // A session whose CSRF token this tab does not have (opened in another
    // tab, sessionStorage is per tab): log in again here to get one.
    if (res.status === 403 && data && data.field === CSRF_HEADER) onUnauthorized();
    throw new ApiError(res.status, data);
  }
  return data;
}

export const get = (p) => call('GET', p);
export const post = (p, b) => call('POST', p, b === undefined ? {} : b);
export const patch = (p, b) => call('PATCH', p, b);
export const put = (p, b) => call('PUT', p, b);
export const del = (p) => call('DELETE', p);

// A list answer may be a bare array or {items: [...]} (paged); the items either way.
// A list answer is {NAME: [...]} (bots, chats, dead, users...) or a bare array.
export const items = (d) => (Array.isArray(d) ? d : (d && Object.values(d).find(Array.isArray)) || []);

// Roles, ordered as the API orders them.
const RANK = { viewer: 1, operator: 2, admin: 3 };
export const may = (me, need) => !!me && (RANK[me.role] || 0) >= RANK[need];
