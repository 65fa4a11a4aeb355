/**
 * DPoP mode's card (only in DPoP mode: `?dpop=1`, or the box on the sign-in page): the key the
 * tokens are bound to, the server's nonce as the clients last learned it, and two buttons:
 * - "Replay as a thief" sends the current access token without a proof, as Bearer and with the DPoP
 *   scheme, as someone who read it (an XSS, a log) would: the API answers 401 both times;
 * - "Rotate the server's nonce": the next proof of each client carries the old nonce, gets the
 *   nonce challenge and is retried once with the new one, without a refresh.
 * The activity panel tells each proof (jti, htm and htu, nonce, the last characters of `ath`) and
 * its answer. The token itself is never shown.
 */
import { useDispatch, useSelector } from 'react-redux';
import { dpop } from '../auth';
import {
  dpopExchangesEpic,
  dpopKeyEpic,
  dpopSlice,
  nonceRotateEpic,
  nonceRotateRequested,
  thiefEpic,
  thiefRequested,
  type DpopState,
} from '../features/dpop';
import type { DemoPanel } from '../panel';

const selectDpop = (state: { dpop: DpopState }) => state.dpop;

function DpopPanel() {
  const { jkt, nonce, proofs, nonceChallenges, thief401, thief } = useSelector(selectDpop);
  return (
    <div className="dpop" data-testid="dpop-panel">
      <p className="panel-note">
        The tokens are bound to a P-256 key made in this browser (kept in IndexedDB, its private half not extractable); every request
        carries a fresh proof signed with it, and the server verifies each one.
      </p>
      <dl className="dpop-facts">
        <dt>Key thumbprint (cnf.jkt)</dt>
        <dd>
          <code data-testid="dpop-jkt">{jkt ? `…${jkt}` : '–'}</code>
        </dd>
        <dt>Server nonce</dt>
        <dd>
          <code data-testid="dpop-nonce">{nonce ? `${nonce}…` : '–'}</code>
        </dd>
        <dt>Proofs sent</dt>
        <dd data-testid="dpop-proofs">{proofs}</dd>
        <dt>Nonce challenges</dt>
        <dd data-testid="dpop-challenges">{nonceChallenges}</dd>
        <dt>Thief's 401s</dt>
        <dd data-testid="dpop-thief-401">{thief401}</dd>
      </dl>
      {thief.length > 0 && (
        <ul className="dpop-thief" data-testid="dpop-thief-results">
          {thief.map((result, index) => (
            <li key={index}>
              {result.scheme === 'Bearer' ? 'Bearer' : 'DPoP, no proof'} (ath …{result.ath}) ← <b>{result.status}</b> {result.error}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function DpopButtons() {
  const dispatch = useDispatch();
  const running = useSelector((state: { dpop: DpopState }) => state.dpop.thiefRunning);
  return (
    <div className="card-actions">
      <button
        className="button small ghost"
        data-testid="dpop-rotate-nonce"
        title="The server replaces its nonce: each client's next proof is challenged and retried"
        onClick={() => dispatch(nonceRotateRequested())}
      >
        Rotate nonce
      </button>
      <button
        className="button small secondary"
        data-testid="dpop-thief"
        disabled={running}
        title="Send the current access token without a proof, as a thief would"
        onClick={() => dispatch(thiefRequested())}
      >
        Replay as a thief
      </button>
    </div>
  );
}

export const panel: DemoPanel | undefined = dpop && {
  id: 'dpop',
  title: 'DPoP',
  subtitle: 'Tokens bound to a key in this browser (RFC 9449)',
  column: 'side',
  order: 15,
  Component: DpopPanel,
  Actions: DpopButtons,
  reducers: { dpop: dpopSlice.reducer },
  epics: [dpopExchangesEpic, dpopKeyEpic, thiefEpic, nonceRotateEpic],
};
