// form: a form described as a list of fields, each with the path of its value in
// the object the API takes (emotion_profile.empathy), its meaning and its kind.
// The console does not validate what the API validates: the form is sent as it
// is (novalidate) and the API's problem, which names the field's path, is shown
// at that field; nothing is saved when it refuses.
import { html, useState, Field } from './ui.js';

export const getPath = (o, path) => path.split('.').reduce((v, k) => (v == null ? undefined : v[k]), o);
export function setPath(o, path, value) {
  const keys = path.split('.'), copy = structuredClone(o || {});
  let v = copy;
  for (const k of keys.slice(0, -1)) v = v[k] = v[k] && typeof v[k] === 'object' ? v[k] : {};
  v[keys[keys.length - 1]] = value;
  return copy;
}

// How a kind shows a value and reads it back.
const KINDS = {
  text: { show: (v) => v ?? '', read: (s) => s },
  // empty: the key is left out (the worker's default), not sent as null
  number: { show: (v) => (v === undefined || v === null ? '' : String(v)), read: (s) => (s.trim() === '' ? undefined : Number.isNaN(Number(s)) ? s : Number(s)) },
  list: { show: (v) => (Array.isArray(v) ? v.join(', ') : v ?? ''), read: (s) => s.split(',').map((x) => x.trim()).filter(Boolean) },
  lines: { show: (v) => (Array.isArray(v) ? v.join('\n') : v ?? ''), read: (s) => s.split('\n').map((x) => x.trim()).filter(Boolean) },
};

// An API error's field against a field's path: the API may prefix it
// (bots[0].emotion_profile.empathy) or name a part of it (active_hours[1]).
export const errorAt = (err, path) => {
  if (!err || !err.field) return '';
  const f = err.field.replace(/\[(\d+)\]/g, '.$1');
  return f === path || f.endsWith('.' + path) || f.startsWith(path + '.') || f.includes('.' + path + '.')
    ? err.problem.detail || err.message : '';
};

function Input({ fd, value, onChange, id, describedby, disabled }) {
  if (fd.kind === 'bool')
    return html`<input type="checkbox" id=${id} aria-describedby=${describedby} checked=${value === undefined ? !!fd.dflt : !!value} disabled=${disabled}
      onChange=${(e) => onChange(e.target.checked)} />`;
  if (fd.kind === 'select')
    return html`<select id=${id} aria-describedby=${describedby} value=${value ?? ''} disabled=${disabled} onChange=${(e) => onChange(e.target.value || undefined)}>
      <option value="">(not set)</option>${fd.options.map((o) => html`<option value=${o}>${o}</option>`)}</select>`;
  const k = KINDS[fd.kind] || KINDS.text;
  if (fd.kind === 'lines')
    return html`<textarea id=${id} aria-describedby=${describedby} rows="3" disabled=${disabled}
      value=${k.show(value)} onInput=${(e) => onChange(k.read(e.target.value))}></textarea>`;
  return html`<input id=${id} aria-describedby=${describedby} disabled=${disabled}
    type="text" inputmode=${fd.kind === 'number' ? 'decimal' : undefined}
    value=${k.show(value)} onChange=${(e) => onChange(k.read(e.target.value))} />`;
}

// fields: [{path, label, meaning, kind, options?, range?}] in groups [{title, fields}].
// value: the object; onSave(value) returns a promise (an ApiError to show).
export function ObjectForm({ groups, value, onSave, readOnly, saveLabel }) {
  const [draft, setDraft] = useState(value);
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setErr(null); setSaved(false);
    try { await onSave(draft); setSaved(true); } catch (x) { setErr(x); } finally { setBusy(false); }
  };
  const placed = err && groups.some((g) => g.fields.some((f) => errorAt(err, f.path)));
  return html`<form class="object-form" novalidate onSubmit=${submit}>
    ${groups.map((g) => html`<fieldset><legend>${g.title}</legend>
      ${g.fields.map((fd) => html`<${Field} label=${fd.label} name=${fd.path} meaning=${fd.meaning} range=${fd.range}
          error=${errorAt(err, fd.path)}>
        ${(id, describedby) => html`<${Input} fd=${fd} id=${id} describedby=${describedby} disabled=${readOnly}
          value=${getPath(draft, fd.path)} onChange=${(v) => { setSaved(false); setDraft(setPath(draft, fd.path, v)); }} />`}
      <//>`)}
    </fieldset>`)}
    ${err && !placed ? html`<p class="problem" role="alert">${err.message}</p>` : ''}
    ${err && placed ? html`<p class="problem" role="alert">Not saved: ${err.message}</p>` : ''}
    ${!readOnly ? html`<div class="actions">
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Saving…' : saveLabel || 'Save'}</button>
      ${saved ? html`<span class="saved" role="status">Saved.</span>` : ''}</div>` : ''}
  </form>`;
}
