import { useState, type FormEvent } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import type { RootState } from '../store';
import { loginRequested } from '../features/session';
import { MODE_LABELS, dpopMode, mode, switchDpop, switchMode, type SessionMode } from '../mode';
import { Logo } from './Logo';

export function LoginPage() {
  const dispatch = useDispatch();
  const { submitting, notice, loginError } = useSelector((state: RootState) => state.session);
  const [username, setUsername] = useState('demo');
  const [password, setPassword] = useState('demo');

  const submit = (event: FormEvent) => {
    event.preventDefault();
    dispatch(loginRequested({ username, password }));
  };

  return (
    <main className="login" data-testid="login-page">
      <section className="login-card">
        <div className="brand brand-large">
          <Logo /> <span>Acme Console</span>
        </div>
        <h1>Sign in</h1>
        <p className="muted">A small app that stays signed in with short-lived tokens, one refresh at a time.</p>
        {notice && (
          <div className={`notice notice-${notice.tone}`} role="alert" data-testid="session-notice">
            <strong>{notice.title}</strong>
            {notice.detail && <span>{notice.detail}</span>}
            {notice.unfinished > 0 && (
              <span data-testid="unfinished-requests">
                {notice.unfinished === 1 ? '1 request' : `${notice.unfinished} requests`} could not finish and were not sent again.
              </span>
            )}
            {notice.technical && <code>{notice.technical}</code>}
          </div>
        )}
        <form onSubmit={submit}>
          <label>
            Username
            <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />
          </label>
          <label>
            Password
            <input
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          <fieldset className="mode" data-testid="mode-switch">
            <legend>Where the refresh token lives</legend>
            {(Object.keys(MODE_LABELS) as SessionMode[]).map((option) => (
              <label key={option} className="mode-option">
                <input
                  type="radio"
                  name="mode"
                  value={option}
                  data-testid={`mode-${option}`}
                  checked={mode === option}
                  onChange={() => switchMode(option)}
                />
                <span>
                  <b>{MODE_LABELS[option].title}</b> <span className="muted">{MODE_LABELS[option].detail}</span>
                </span>
              </label>
            ))}
          </fieldset>
          <label className="mode-option dpop-switch">
            <input type="checkbox" data-testid="dpop-switch" checked={dpopMode} onChange={(event) => switchDpop(event.target.checked)} />
            <span>
              <b>DPoP</b>{' '}
              <span className="muted">
                bind the tokens to a key made in this browser: a stolen token is useless without it (or open ?dpop=1)
              </span>
            </span>
          </label>
          {loginError && (
            <p className="form-error" role="alert">
              {loginError}
            </p>
          )}
          <button className="button primary wide" type="submit" disabled={submitting}>
            {submitting ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p className="hint">
          Demo credentials: <code>demo</code> / <code>demo</code>
        </p>
      </section>
    </main>
  );
}
