import { useEffect, useRef, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import type { DemoPanel } from '../panel';
import { clock, countersReset, type ActivityEvent, type ActivityState } from '../features/activity';

const selectActivity = (state: { activity: ActivityState }) => state.activity;

function Counter({ id, label, value, tone, hint }: { id: string; label: string; value: number | string; tone?: string; hint?: string }) {
  return (
    <div className={`counter ${tone ? `counter-${tone}` : ''}`} title={hint}>
      <span className="counter-value" data-testid={`count-${id}`}>
        {value}
      </span>
      <span className="counter-label">{label}</span>
    </div>
  );
}

function LogLine({ event }: { event: ActivityEvent }) {
  return (
    <li className={`log-${event.kind}`}>
      <time>{clock(event.at)}</time>
      <span>
        {event.client && <span className={`client-tag client-${event.client.replace(/\W+/g, '-').toLowerCase()}`}>{event.client}</span>}
        {event.text}
      </span>
    </li>
  );
}

/** Keeps a scrolling list at its newest line. */
function useFollow(length: number) {
  const ref = useRef<HTMLOListElement>(null);
  useEffect(() => {
    ref.current?.scrollTo({ top: ref.current.scrollHeight });
  }, [length]);
  return ref;
}

function ActivityPanel() {
  const { counters, server, events } = useSelector(selectActivity);
  const log = useFollow(events.length);
  return (
    <>
      <h3 className="section-title">In this browser</h3>
      <div className="counters">
        <Counter id="requests" label="requests sent" value={counters.requests} />
        <Counter id="401" label="401s" value={counters.unauthorized} tone="warn" />
        <Counter
          id="refreshes"
          label={counters.attempts > counters.refreshes ? `refreshes (${counters.attempts} attempts)` : 'refreshes'}
          value={counters.refreshes}
          tone="accent"
          hint="Refreshes started; a transient failure (5xx, network) is retried after a backoff, so one refresh can take several attempts."
        />
        <Counter id="replays" label="replays" value={counters.replays} />
      </div>
      <h3 className="section-title">
        On the server <span className="muted">(GET /stats)</span>
      </h3>
      <div className="counters">
        <Counter id="server-api" label="API requests" value={server?.apiRequests ?? '–'} />
        <Counter id="server-401" label="API 401s" value={server?.api401 ?? '–'} tone="warn" />
        <Counter id="server-refresh" label="refresh calls" value={server?.refreshCalls ?? '–'} tone="accent" />
        <Counter
          id="server-old-token"
          label="old token after refresh"
          value={server?.requestsWithReplacedToken ?? '–'}
          tone="warn"
          hint="API requests that reached the server after a refresh had replaced their token. Requests started during a refresh wait and never count here; one sent just before it can still arrive after it (a late 401, replayed without a second refresh)."
        />
      </div>
      <h3 className="section-title">Activity</h3>
      <ol className="log" ref={log} data-testid="activity-log">
        {events.length === 0 && (
          <li className="log-empty">Nothing yet. Press “Load everything”, “Load from every client” or run a scenario.</li>
        )}
        {events.map((event) => (
          <LogLine key={event.seq} event={event} />
        ))}
      </ol>
      <p className="footnote" data-testid="console-note">
        The browser's console shows a red <code>401 (Unauthorized)</code> line for each rejected request: those are the 401s this demo
        provokes on purpose, one per “←&nbsp;401” line above. The package handles them; they are not errors of the page.
      </p>
    </>
  );
}

/**
 * The activity on a phone: a bar fixed at the bottom of the screen with the counters and the
 * newest lines, so a scenario can be watched while its Run button is on screen. It opens into the
 * whole log. Hidden where the activity panel has its own column.
 */
export function ActivityDock() {
  const { counters, server, events } = useSelector(selectActivity);
  const [open, setOpen] = useState(false);
  const shown = open ? events : events.slice(-3);
  const log = useFollow(shown.length + (open ? 1 : 0) + (events[events.length - 1]?.seq ?? 0));
  return (
    <section className={`dock ${open ? 'dock-open' : ''}`} data-testid="activity-dock" aria-label="Live activity">
      <button className="dock-bar" onClick={() => setOpen(!open)} aria-expanded={open} data-testid="activity-dock-toggle">
        <span className="dock-title">Activity</span>
        <span className="dock-counts">
          <b data-testid="dock-401">{counters.unauthorized}</b> 401s · <b data-testid="dock-refreshes">{counters.refreshes}</b>{' '}
          {counters.refreshes === 1 ? 'refresh' : 'refreshes'}· <b>{counters.replays}</b> replays · server{' '}
          <b>{server?.refreshCalls ?? '–'}</b> refresh calls
        </span>
        <span className="dock-chevron" aria-hidden="true">
          {open ? '▾' : '▴'}
        </span>
      </button>
      <ol className="dock-log" ref={log} data-testid="activity-dock-log">
        {shown.length === 0 && <li className="log-empty">Nothing yet.</li>}
        {shown.map((event) => (
          <LogLine key={event.seq} event={event} />
        ))}
      </ol>
    </section>
  );
}

function ResetButton() {
  const dispatch = useDispatch();
  return (
    <button className="button small ghost" onClick={() => dispatch(countersReset())} title="Zero these counters and the server's /stats">
      Reset
    </button>
  );
}

export const panel: DemoPanel = {
  id: 'activity',
  title: 'Live activity',
  subtitle: 'Each request, its 401, each refresh attempt and the replay',
  column: 'side',
  order: 10,
  Component: ActivityPanel,
  Actions: ResetButton,
};
