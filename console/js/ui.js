// ui: the small pieces every page uses: html (htm bound to Preact), data loading,
// form fields with their meaning and error, tables, a confirmation dialog,
// badges, times. No page builds markup by string: everything goes through htm, so
// text from the API is always text, never markup.
import { h, render } from '../vendor/preact.mjs';
import htm from '../vendor/htm.mjs';
import { useState, useEffect, useRef, useCallback } from '../vendor/hooks.mjs';
import { ApiError } from './api.js';

export const html = htm.bind(h);
export { render, useState, useEffect, useRef, useCallback };

// Load with fn() now and again on reload(); {data, error, loading, reload, set}.
export function useLoad(fn, deps) {
  const [st, setSt] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const reload = useCallback(() => {
    const n = ++seq.current;
    setSt((s) => ({ ...s, loading: true }));
    fn().then((data) => n === seq.current && setSt({ data, error: null, loading: false }),
      (error) => n === seq.current && setSt((s) => ({ data: s.data, error, loading: false })));
  }, deps);
  useEffect(reload, [reload]);
  return { ...st, reload, set: (data) => setSt((s) => ({ ...s, data })) };
}

export const Problem = ({ error }) => error ? html`
  <p class="problem" role="alert">${error instanceof ApiError && error.status
    ? `${error.status}: ` : ''}${error.message || String(error)}</p>` : null;

export const Loading = ({ what }) => html`<p class="muted" aria-busy="true">Loading ${what || ''}…</p>`;

// A labelled control with its meaning beside it and the API's error under it.
// name is the field's path as the API names it (persona.style), so an ApiError's
// field lands here; data-field lets a test find it.
// scope keeps ids apart when two forms of a page have a field of one name.
export function Field({ label, name, meaning, error, children, range, scope }) {
  const fid = 'f-' + (scope ? scope + '-' : '') + name.replace(/[^a-z0-9_-]/gi, '-');
  return html`<div class=${'field' + (error ? ' has-error' : '')} data-field=${name}>
    <label for=${fid}>${label}</label>
    <div class="control">${children(fid, error ? fid + '-err' : fid + '-help')}</div>
    <p class="meaning" id=${fid + '-help'}>${meaning}${range ? html` <span class="range">${range}</span>` : ''}</p>
    ${error ? html`<p class="field-error" id=${fid + '-err'} role="alert">${error}</p>` : ''}
  </div>`;
}

export const Badge = ({ kind, children }) => html`<span class=${'badge ' + (kind || '')}>${children}</span>`;

// Times from the API are ISO strings or epoch milliseconds.
const toDate = (t) => (t === null || t === undefined || t === '' ? null
  : new Date(typeof t === 'number' && t < 1e12 ? t * 1000 : t));
export function ago(t) {
  const d = toDate(t);
  if (!d || isNaN(d)) return '—';
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 0) return 'in ' + dur(-s * 1000);
  return dur(s * 1000) + ' ago';
}
export function dur(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return '—';
  const s = ms / 1000;
  if (s < 1) return Math.round(ms) + ' ms';
  if (s < 90) return (s < 10 ? s.toFixed(1) : Math.round(s)) + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  if (s < 172800) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' d';
}
export const clock = (t) => {
  const d = toDate(t);
  return d && !isNaN(d) ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '';
};
export const stamp = (t) => {
  const d = toDate(t);
  return d && !isNaN(d) ? d.toISOString().replace('T', ' ').slice(0, 19) : '—';
};
export const num = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'));

// A persona's colour, the same for a bot everywhere (hue from its id).
export const colour = (botId) => `hsl(${(Number(botId) * 137.508) % 360}, 55%, 42%)`;

// The confirmation a consequential action asks for: a native <dialog>, so focus
// and Escape behave as the browser's own.
export function Confirm({ open, title, children, confirm, onConfirm, onCancel }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} class="confirm" aria-labelledby="confirm-title"
      onCancel=${(e) => { e.preventDefault(); onCancel(); }}>
    <h2 id="confirm-title">${title}</h2>
    <div>${children}</div>
    <div class="actions">
      <button type="button" onClick=${onCancel}>Cancel</button>
      <button type="button" class="primary" data-confirm onClick=${onConfirm}>${confirm || 'Confirm'}</button>
    </div>
  </dialog>`;
}

// A table from rows and columns [{label, cell(row), cls?(row)}]; rowCls marks a
// row as wrong or warning.
export const Table = ({ cols, rows, rowCls, empty, label }) => html`
  <div class="table-wrap"><table aria-label=${label}>
    <thead><tr>${cols.map((c) => html`<th scope="col">${c.label}</th>`)}</tr></thead>
    <tbody>${rows.length ? rows.map((r) => html`<tr class=${rowCls ? rowCls(r) : ''}>
      ${cols.map((c) => html`<td data-label=${c.label}>${c.cell(r)}</td>`)}</tr>`)
      : html`<tr><td colspan=${cols.length} class="muted">${empty || 'Nothing here.'}</td></tr>`}
    </tbody></table></div>`;

export const Page = ({ title, children, actions }) => html`
  <section class="page"><header class="page-head"><h1>${title}</h1>
    ${actions ? html`<div class="page-actions">${actions}</div>` : ''}</header>${children}</section>`;
