import { useDispatch, useSelector } from 'react-redux';
import type { DemoPanel } from '../panel';
import {
  ENDPOINTS,
  ENDPOINT_KEYS,
  loadEverything,
  loadEverythingEpic,
  requestEpic,
  requestsSlice,
  type EndpointKey,
  type RequestEntry,
  type RequestsState,
} from '../features/requests';
import { loadFromEveryClient } from '../features/clients';

const stateLabel: Record<RequestEntry['state'], string> = {
  waiting: 'Waiting for token',
  'in-flight': 'Loading…',
  ok: 'Loaded',
  failed: 'Failed',
};

/** How the request went, token by token: "401 with gen 1, replayed with gen 2". */
function history(entry: RequestEntry): string {
  const [first, ...replays] = entry.gens.map((gen) => `gen ${gen ?? '?'}`);
  if (first === undefined) return entry.waited ? 'waiting for the refresh, not sent' : 'not sent';
  const sent = entry.waited ? `waited for the refresh, sent with ${first}` : `sent with ${first}`;
  if (entry.unauthorized === 0) return sent;
  const rejected = entry.waited ? `${sent}: 401` : `401 with ${first}`;
  return replays.length > 0 ? `${rejected}, replayed with ${replays.join(', ')}` : rejected;
}

function Tile({ endpoint }: { endpoint: EndpointKey }) {
  const entry = useSelector((state: { requests: RequestsState }) => {
    const id = state.requests.latest[endpoint];
    return id === undefined ? undefined : state.requests.byId[id];
  });
  const { label, path } = ENDPOINTS[endpoint];
  return (
    <article className={`tile tile-${entry?.state ?? 'idle'}`} data-testid={`tile-${endpoint}`} data-state={entry?.state ?? 'idle'}>
      <header>
        <h3>{label}</h3>
        <span className={`badge badge-${entry?.state ?? 'idle'}`}>{entry ? stateLabel[entry.state] : 'Not loaded'}</span>
      </header>
      <code className="path">GET {path.split('?')[0]}</code>
      <p className="tile-body">{entry?.summary ?? entry?.error ?? (entry ? ' ' : 'Press “Load everything”.')}</p>
      {entry && <p className="tile-meta">{history(entry)}</p>}
    </article>
  );
}

function WorkspacePanel() {
  return (
    <div className="tiles">
      {ENDPOINT_KEYS.map((endpoint) => (
        <Tile key={endpoint} endpoint={endpoint} />
      ))}
    </div>
  );
}

function LoadButtons() {
  const dispatch = useDispatch();
  return (
    <div className="card-actions">
      <button
        className="button secondary"
        data-testid="load-every-client"
        title="These five epics, the RTK Query panel and the fetch widget, in one click"
        onClick={() => {
          dispatch(loadEverything());
          loadFromEveryClient.emit();
        }}
      >
        Load from every client
      </button>
      <button className="button primary" data-testid="load-everything" onClick={() => dispatch(loadEverything())}>
        Load everything
      </button>
    </div>
  );
}

export const panel: DemoPanel = {
  id: 'workspace',
  title: 'Workspace',
  subtitle: `${ENDPOINT_KEYS.length} API calls at once, each through auth.authorized()`,
  column: 'main',
  order: 10,
  Component: WorkspacePanel,
  Actions: LoadButtons,
  reducers: { requests: requestsSlice.reducer },
  epics: [loadEverythingEpic, requestEpic],
};
