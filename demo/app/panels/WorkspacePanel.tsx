import { useDispatch, useSelector } from 'react-redux';
import type { DemoPanel } from '../panel';
import {
  ENDPOINTS, ENDPOINT_KEYS, loadEverything, loadEverythingEpic, requestEpic, requestsSlice,
  type EndpointKey, type RequestEntry, type RequestsState,
} from '../features/requests';

const stateLabel: Record<RequestEntry['state'], string> = {
  waiting: 'Waiting for token',
  'in-flight': 'Loading…',
  ok: 'Loaded',
  failed: 'Failed',
};

function history(entry: RequestEntry): string {
  const gens = entry.gens.map((gen) => `gen ${gen ?? '?'}`).join(' → ');
  if (entry.unauthorized > 0 && entry.attempts > 1) return `401 with ${gens.split(' → ')[0]}, replayed with ${gens.split(' → ').slice(1).join(', ')}`;
  if (entry.unauthorized > 0) return `401 with ${gens}`;
  return gens ? `sent with ${gens}` : 'not sent';
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

function LoadEverythingButton() {
  const dispatch = useDispatch();
  return (
    <button className="button primary" data-testid="load-everything" onClick={() => dispatch(loadEverything())}>
      Load everything
    </button>
  );
}

export const panel: DemoPanel = {
  id: 'workspace',
  title: 'Workspace',
  subtitle: `${ENDPOINT_KEYS.length} API calls at once, each through auth.authorized()`,
  column: 'main',
  order: 10,
  Component: WorkspacePanel,
  Actions: LoadEverythingButton,
  reducers: { requests: requestsSlice.reducer },
  epics: [loadEverythingEpic, requestEpic],
};
