import { useEffect, useRef } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import type { DemoPanel } from '../panel';
import { clock, countersReset, type ActivityState } from '../features/activity';

const selectActivity = (state: { activity: ActivityState }) => state.activity;

function Counter({ id, label, value, tone, hint }: { id: string; label: string; value: number | string; tone?: string; hint?: string }) {
  return (
    <div className={`counter ${tone ? `counter-${tone}` : ''}`} title={hint}>
      <span className="counter-value" data-testid={`count-${id}`}>{value}</span>
      <span className="counter-label">{label}</span>
    </div>
  );
}

function ActivityPanel() {
  const { counters, server, events } = useSelector(selectActivity);
  const log = useRef<HTMLOListElement>(null);
  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [events.length]);
  return (
    <>
      <h3 className="section-title">In this browser</h3>
      <div className="counters">
        <Counter id="requests" label="requests sent" value={counters.requests} />
        <Counter id="401" label="401s" value={counters.unauthorized} tone="warn" />
        <Counter id="refreshes" label="refreshes" value={counters.refreshes} tone="accent" />
        <Counter id="replays" label="replays" value={counters.replays} />
      </div>
      <h3 className="section-title">On the server <span className="muted">(GET /stats)</span></h3>
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
        {events.length === 0 && <li className="log-empty">Nothing yet. Press “Load everything”, “Load from every client” or run a scenario.</li>}
        {events.map((event) => (
          <li key={event.seq} className={`log-${event.kind}`}>
            <time>{clock(event.at)}</time>
            <span>
              {event.client && <span className={`client-tag client-${event.client.replace(/\W+/g, '-').toLowerCase()}`}>{event.client}</span>}
              {event.text}
            </span>
          </li>
        ))}
      </ol>
    </>
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
  subtitle: 'Each request, its 401, the refresh and the replay',
  column: 'side',
  order: 10,
  Component: ActivityPanel,
  Actions: ResetButton,
};
