import { useDispatch, useSelector } from 'react-redux';
import type { DemoPanel } from '../panel';
import {
  SCENARIOS,
  controlEpic,
  controlRequested,
  scenarioEpic,
  scenarioStarted,
  scenariosSlice,
  serverControls,
  type ControlId,
  type ScenarioId,
} from '../features/scenarios';

function ScenariosPanel() {
  const dispatch = useDispatch();
  const running = useSelector((state: { scenarios: { running: ScenarioId | null } }) => state.scenarios.running);
  return (
    <>
      <p className="panel-note">
        Each run zeroes the counters, here and on the server. A scenario about the server's 401s first renews a token that is about to enter
        its refresh window (else the package would refresh before sending, and no 401 would happen); the log says when it does.
      </p>
      <div className="scenarios">
        {(Object.keys(SCENARIOS) as ScenarioId[]).map((id) => (
          <article className="scenario" key={id}>
            <h3>{SCENARIOS[id].title}</h3>
            <p>{SCENARIOS[id].description}</p>
            <p className="expect">
              <span>Expect</span> {SCENARIOS[id].expect}
            </p>
            <button
              className="button secondary"
              data-testid={`scenario-${id}`}
              disabled={running !== null}
              onClick={() => dispatch(scenarioStarted({ id }))}
            >
              {running === id ? 'Running…' : 'Run'}
            </button>
          </article>
        ))}
      </div>
      <div className="controls">
        <span className="controls-label">Server controls</span>
        {(Object.keys(serverControls) as ControlId[]).map((id) => (
          <button key={id} className="button small" data-testid={`control-${id}`} onClick={() => dispatch(controlRequested({ id }))}>
            {serverControls[id].label}
          </button>
        ))}
      </div>
    </>
  );
}

export const panel: DemoPanel = {
  id: 'scenarios',
  title: 'Scenarios',
  subtitle: 'Make the server misbehave, then watch the activity panel',
  column: 'main',
  order: 20,
  Component: ScenariosPanel,
  reducers: { scenarios: scenariosSlice.reducer },
  epics: [scenarioEpic, controlEpic],
};
