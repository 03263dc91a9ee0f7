// live.js — follow a resource: an event stream (EventSource) and, when the
// node has none or it fails, polling.

/**
 * Starts following. opts:
 *   stream: {url, events: [names]} or null
 *   onEvent(name, data, lastEventId) for each stream event (data parsed JSON)
 *   onReset(): the stream lost events (`reset`): reread the whole state
 *   poll: async () => {} run every `interval` ms while not streaming (null: none)
 *   onStatus(state, detail): 'live' | 'polling' | 'connecting' | 'off'
 * A node without the stream answers it with something other than
 * text/event-stream, and polling takes over. Returns {stop()}.
 */
export function follow({ stream, onEvent, onReset = () => {}, poll, interval = 1000, onStatus = () => {} }) {
  let es = null;
  let timer = null;
  let stopped = false;
  let polling = false;

  function startPolling(why) {
    if (stopped || timer) return;
    if (!poll) { onStatus('off', why); return; }
    onStatus('polling', why);
    const tick = async () => {
      if (stopped) return;
      if (!polling) {
        polling = true;
        try { await poll(); } catch { /* the pane shows it; go on polling */ }
        polling = false;
      }
      if (!stopped) timer = setTimeout(tick, interval);
    };
    timer = setTimeout(tick, 0);
  }

  function start() {
    if (!stream) { startPolling('no event stream'); return; }
    onStatus('connecting');
    let opened = false;
    es = new EventSource(stream.url);
    es.onopen = () => { opened = true; onStatus('live'); };
    es.onerror = () => {
      if (stopped || !es) return;
      // Refused (not 200 text/event-stream) or never opened: poll instead.
      if (es.readyState === EventSource.CLOSED || !opened) {
        es.close();
        es = null;
        startPolling('the event stream is not available; polling');
      } else {
        onStatus('connecting', 'reconnecting');
      }
    };
    es.addEventListener('reset', () => onReset());
    es.addEventListener('close', () => {
      // The node is stopping: do not reconnect in a loop; poll (it fails
      // visibly while the node is down).
      if (es) es.close();
      es = null;
      startPolling('the node closed the event stream');
    });
    for (const name of stream.events) {
      es.addEventListener(name, (e) => {
        let data;
        try { data = JSON.parse(e.data); } catch { data = e.data; }
        onEvent(name, data, e.lastEventId);
      });
    }
  }

  start();
  return {
    stop() {
      stopped = true;
      if (es) es.close();
      es = null;
      clearTimeout(timer);
      timer = null;
    },
  };
}

/** Renders a follow status into a small badge element. */
export function statusBadge(el) {
  return (state, detail) => {
    el.dataset.state = state;
    el.textContent = { live: '● live', polling: '◌ polling', connecting: '… connecting', off: '○ not live' }[state] || state;
    el.title = detail || (state === 'live' ? 'updates arrive as server-sent events' : '');
  };
}
