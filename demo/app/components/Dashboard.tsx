import { useEffect, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { auth, refreshWindowOpensAt, tokenInfo } from '../auth';
import { ActivityDock } from '../panels/ActivityPanel';
import { dpopMode, mode } from '../mode';
import { panels, type DemoPanel } from '../panel';
import { logoutRequested } from '../features/session';
import type { RootState } from '../store';
import { Logo } from './Logo';

function useNow(intervalMs: number): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

const duration = (seconds: number) => (seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`);

function SessionBadge() {
  const { status, expiresAt } = useSelector((state: RootState) => auth.selectState(state));
  const now = useNow(1000);
  const info = tokenInfo(auth.getAccessToken());
  const seconds = expiresAt === null ? null : Math.max(0, Math.round((expiresAt - now) / 1000));
  const windowOpensAt = refreshWindowOpensAt(info, expiresAt);
  const windowIn = windowOpensAt === null ? null : Math.round((windowOpensAt - now) / 1000);
  const labels: Record<typeof status, string> = {
    authenticated: 'Signed in',
    refreshing: 'Refreshing token…',
    restoring: 'Restoring session…',
    unavailable: 'Signed in · refresh unavailable',
    unauthenticated: 'Signed out',
  };
  const label = labels[status];
  return (
    <div className="session" data-testid="session-badge" data-status={status}>
      <span className={`pill pill-${status}`}>{label}</span>
      <span className="session-meta">
        token gen <b data-testid="token-gen">{info?.gen ?? '–'}</b>
        {seconds !== null && <> · expires in {duration(seconds)}</>}
        {windowIn !== null && (
          <span
            data-testid="refresh-window"
            title="From then on a request refreshes the token before it is sent (the known expiry, expirySkewMs)"
          >
            {windowIn > 0 ? <> · refreshed before use in {duration(windowIn)}</> : <> · refreshed before next use</>}
          </span>
        )}
      </span>
    </div>
  );
}

function PanelCard({ panel }: { panel: DemoPanel }) {
  const { Component, Actions } = panel;
  return (
    <section className="card" data-testid={`panel-${panel.id}`}>
      <header className="card-header">
        <div>
          <h2>{panel.title}</h2>
          {panel.subtitle && <p className="muted">{panel.subtitle}</p>}
        </div>
        {Actions && <Actions />}
      </header>
      <Component />
    </section>
  );
}

export function Dashboard() {
  const dispatch = useDispatch();
  const user = tokenInfo(auth.getAccessToken())?.sub ?? '';
  const column = (name: DemoPanel['column']) =>
    panels.filter((panel) => panel.column === name).map((panel) => <PanelCard key={panel.id} panel={panel} />);
  return (
    <div className="app" data-testid="dashboard">
      <header className="topbar">
        <div className="brand">
          <Logo /> <span>Acme Console</span>
        </div>
        <SessionBadge />
        <span
          className="mode-pill"
          data-testid="session-mode"
          data-mode={mode}
          title="Where the refresh token lives (chosen on the sign-in page)"
        >
          refresh token: {mode === 'cookie' ? 'HttpOnly cookie' : 'localStorage'}
        </span>
        <span
          className={`mode-pill ${dpopMode ? 'mode-pill-dpop' : ''}`}
          data-testid="token-type"
          data-dpop={dpopMode ? 'on' : 'off'}
          title="DPoP binds the tokens to a key in this browser (chosen on the sign-in page, or ?dpop=1)"
        >
          {dpopMode ? 'DPoP-bound tokens' : 'Bearer tokens'}
        </span>
        <div className="user">
          <span className="avatar">{user.slice(0, 1).toUpperCase()}</span>
          <span>{user}</span>
          <button className="button ghost" data-testid="logout" onClick={() => dispatch(logoutRequested())}>
            Log out
          </button>
        </div>
      </header>
      <div className="columns">
        <div className="column-main">{column('main')}</div>
        <aside className="column-side">{column('side')}</aside>
      </div>
      <ActivityDock />
    </div>
  );
}
