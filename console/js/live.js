// live: the API's Server-Sent Events stream (/api/v1/stream), with a poll in its
// place while it is down. EventSource reconnects by itself and sends
// Last-Event-ID, so the API replays what was missed; the console only shows
// whether it is live. `message` events carry a chat's message (new or a status
// change: {id, chat_id, bot_id, status, text, telegram_message_id,
// reply_to_message_id, created_at, sent_at}), `fleet` events the fleet every
// second ({phase, count, workers: [{index, pid, state, restarts}], queue_depth}).
import { paths, get } from './api.js';
import { html, useEffect, useRef, useState } from './ui.js';

const POLL_MS = 2000; // the fallback's pace, while the stream is down
const GRACE_MS = 3000; // how long a broken stream may take to come back before polling

// Subscribe while a component is mounted: onMessage(msg), onFleet(fleet).
// poll() is the fallback's fetch, its answer given to onSnapshot.
// Returns the state: 'live', 'connecting' or 'polling'.
export function useStream({ chat, onMessage, onFleet, onSnapshot, poll }) {
  const [state, setState] = useState('connecting');
  // the handlers of the latest render (they close over the page's state)
  const h = useRef({});
  h.current = { onMessage, onFleet, onSnapshot, poll };
  useEffect(() => {
    let es = null, timer = null, grace = null, closed = false;
    const stopPoll = () => { clearInterval(timer); timer = null; };
    const startPoll = () => {
      if (timer || !h.current.poll || closed) return;
      setState('polling');
      const tick = () => h.current.poll().then((s) => s && h.current.onSnapshot && h.current.onSnapshot(s), () => {});
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
      es.addEventListener('message', (e) => { const m = parse(e); if (m && h.current.onMessage) h.current.onMessage(m); });
      es.addEventListener('fleet', (e) => { const f = parse(e); if (f && h.current.onFleet) h.current.onFleet(f); });
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
