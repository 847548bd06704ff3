// live: the API's Server-Sent Events stream (/api/v1/stream), with a poll in its
// place while it is down. EventSource reconnects by itself and sends
// Last-Event-ID, so the API replays what was missed; the console only shows
// whether it is live. `message` events carry a chat's message (new or a status
// change), `snapshot` events the fleet and queues every second.
import { paths, get } from './api.js';
import { html, useEffect, useState } from './ui.js';

const POLL_MS = 2000; // the fallback's pace, while the stream is down
const GRACE_MS = 3000; // how long a broken stream may take to come back before polling

// Subscribe while a component is mounted: onMessage(msg), onSnapshot(snap).
// poll() is the fallback's fetch, returning a snapshot (or null for none).
// Returns the state: 'live', 'connecting' or 'polling'.
export function useStream({ chat, onMessage, onSnapshot, poll }) {
  const [state, setState] = useState('connecting');
  useEffect(() => {
    let es = null, timer = null, grace = null, closed = false;
    const stopPoll = () => { clearInterval(timer); timer = null; };
    const startPoll = () => {
      if (timer || !poll || closed) return;
      setState('polling');
      const tick = () => poll().then((s) => s && onSnapshot && onSnapshot(s), () => {});
      tick();
      timer = setInterval(tick, POLL_MS);
    };
    const parse = (e) => { try { return JSON.parse(e.data); } catch (_) { return null; } };
    if (typeof EventSource === 'undefined') {
      startPoll();
    } else {
      es = new EventSource(paths.stream(chat), { withCredentials: true });
      es.onopen = () => { clearTimeout(grace); grace = null; stopPoll(); setState('live'); };
      es.onerror = () => {
        if (grace || timer) return;
        setState('connecting');
        grace = setTimeout(() => { grace = null; if (es.readyState !== 1) startPoll(); }, GRACE_MS);
      };
      es.addEventListener('message', (e) => { const m = parse(e); if (m && onMessage) onMessage(m); });
      es.addEventListener('snapshot', (e) => { const s = parse(e); if (s && onSnapshot) onSnapshot(s); });
    }
    return () => { closed = true; if (es) es.close(); stopPoll(); clearTimeout(grace); };
  }, [chat]);
  return state;
}

// The dashboard's poll: what a snapshot carries, from the resources themselves.
export async function pollSnapshot() {
  const [fleet, queues] = await Promise.all([get(paths.fleet()), get(paths.queues())]);
  return { fleet, queues, at: Date.now() };
}

export function LiveBadge({ state }) {
  const text = { live: 'live', connecting: 'reconnecting…', polling: 'stream down: polling every 2 s' }[state];
  return html`<span class=${'badge ' + (state === 'live' ? 'ok' : 'warn')} role="status" data-live=${state}>${text}</span>`;
}
