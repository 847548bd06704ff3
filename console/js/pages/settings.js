// Settings: every fleet-wide knob, grouped as docs/PERSONAS.md lists them, with
// its value, its default, its meaning and its valid range. A change is checked
// by the API (a bad value is refused with the reason at the setting, the old
// value stays) and announced to the workers, which apply it within a second.
import { html, useState, useLoad, Problem, Loading, Page, Badge, clock } from '../ui.js';
import { paths, get, put, items, may } from '../api.js';

// The groups, in the order of docs/PERSONAS.md's table; a key the API has and
// this list has not goes to "Other", so a new setting is never hidden.
const GROUPS = [
  ['Simulation', ['simulation_active', 'scale_factor']],
  ['Pace and caps', ['max_msgs_per_min', 'bot_hourly_msg_limit', 'prime_hours', 'prime_hours_boost']],
  ['Replies', ['reply_probability', 'reply_to_bots_probability', 'mention_probability', 'short_reaction_probability', 'human_reply_probability']],
  ['Length and typing', ['message_length_profile', 'typing_enabled', 'typing_speed_wpm', 'typing_interval_seconds']],
  ['Persona refresh', ['persona_refresh_interval', 'persona_refresh_minutes']],
  ['News', ['news_feed_urls', 'news_trigger_probability', 'news_refresh_minutes']],
  ['Duplicates and consistency', ['dedup_enabled', 'dedup_window_hours', 'dedup_max_attempts', 'semantic_dedup_enabled', 'semantic_dedup_threshold', 'embedding_model', 'consistency_guard_enabled']],
  ['Humaniser', ['opening_phrase_probability', 'hesitation_probability', 'contraction_probability', 'filler_probability', 'typo_probability',
    'human_opening_phrase_probability', 'human_hesitation_probability', 'human_contraction_probability', 'human_filler_probability', 'human_typo_probability', 'voice_profile_enabled']],
  ['Memory', ['memorize_interval']],
];

// Changed on the Control page, which asks for a confirmation first.
const CONTROLLED = new Set(['simulation_active', 'scale_factor']);
const j = (v) => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v));
function norm(s, key) {
  const range = s.range || (s.min !== undefined ? { min: s.min, max: s.max } : null);
  return { key: s.key || key, value: s.value, dflt: s.default ?? s.dflt, meaning: s.description || s.help || s.meaning || '',
    range: range && (range.min !== undefined) ? `${range.min} .. ${range.max}` : (typeof range === 'string' ? range : ''),
    isDefault: s.source ? s.source === 'default' : !!s.is_default };
}

function Setting({ s, canEdit, onSaved }) {
  const bool = typeof s.value === 'boolean';
  const [text, setText] = useState(bool ? '' : j(s.value));
  const [err, setErr] = useState('');
  const [applied, setApplied] = useState(null);
  const save = (value) => {
    setErr('');
    put(paths.setting(s.key), { value }).then((r) => { setApplied({ at: Date.now(), notified: r && r.notified }); onSaved(s.key, r && r.value !== undefined ? r.value : value); },
      (e) => setErr(e.problem.detail || e.message));
  };
  const submit = (e) => {
    e.preventDefault();
    let v;
    try { v = JSON.parse(text); } catch (_) { v = text; } // a bare word is a string; the API decides
    save(v);
  };
  const id = 's-' + s.key;
  return html`<div class=${'setting' + (err ? ' has-error' : '')} data-setting=${s.key}>
    <div class="setting-head"><label for=${id}><code>${s.key}</code></label>
      ${s.isDefault ? html`<${Badge}>default<//>` : html`<${Badge} kind="set">set<//>`}
      ${applied ? html`<span class="saved" role="status">applied at ${clock(applied.at)}${typeof applied.notified === 'number'
        ? ` (${applied.notified} worker${applied.notified === 1 ? '' : 's'} told; each reloads within 1 s)` : ' (workers reload within 1 s)'}</span>` : ''}</div>
    <p class="meaning" id=${id + '-help'}>${s.meaning} <span class="muted">default <code>${j(s.dflt)}</code>${s.range ? html`, range ${s.range}` : ''}</span></p>
    ${CONTROLLED.has(s.key) ? html`<p class="meaning"><code>${j(s.value)}</code>: changed on <a href="#/control">Control</a>, with a confirmation.</p>`
      : bool ? html`<input type="checkbox" id=${id} aria-describedby=${id + '-help'} checked=${s.value} disabled=${!canEdit}
        onChange=${(e) => save(e.target.checked)} />`
      : html`<form class="setting-form" novalidate onSubmit=${submit}>
        <input id=${id} aria-describedby=${id + '-help'} value=${text} disabled=${!canEdit} onInput=${(e) => setText(e.target.value)} />
        ${canEdit ? html`<button type="submit">Apply</button>` : ''}</form>`}
    ${err ? html`<p class="field-error" role="alert">${err}</p>` : ''}
  </div>`;
}

export function Settings({ me }) {
  const l = useLoad(() => get(paths.settings()), []);
  const canEdit = may(me, 'operator');
  if (!l.data) return html`<${Page} title="Settings"><${Problem} error=${l.error} />${l.error ? '' : html`<${Loading} what="settings" />`}<//>`;
  const raw = items(l.data);
  const all = raw.map((s) => norm(s, s.key));
  const known = new Set(GROUPS.flatMap((g) => g[1]));
  const groups = [...GROUPS.map(([t, keys]) => [t, keys.map((k) => all.find((s) => s.key === k)).filter(Boolean)]),
    ['Other', all.filter((s) => !known.has(s.key))]].filter((g) => g[1].length);
  const onSaved = (key, value) => l.set(raw.map((s) => (s.key === key ? { ...s, value, source: 'set' } : s)));
  return html`<${Page} title="Settings">
    <p class="muted">Fleet-wide; stored in PostgreSQL; every worker applies a change within a second, no restart (docs/PERSONAS.md).</p>
    <${Problem} error=${l.error} />
    <nav class="toc" aria-label="Setting groups">${groups.map(([t]) => html`<a href=${'#/settings'} onClick=${(e) => { e.preventDefault(); document.getElementById('g-' + t.replace(/\W+/g, '-')).scrollIntoView(); }}>${t}</a>`)}</nav>
    ${groups.map(([t, list]) => html`<fieldset class="settings-group" id=${'g-' + t.replace(/\W+/g, '-')}><legend>${t}</legend>
      ${list.map((s) => html`<${Setting} key=${s.key} s=${s} canEdit=${canEdit} onSaved=${onSaved} />`)}</fieldset>`)}
  <//>`;
}
