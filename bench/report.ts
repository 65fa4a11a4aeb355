/** Turns measured rows into markdown tables; every figure comes from the run that prints it. */
import type { MemoryResult, OverheadResult, ReleaseResult } from './costs';
import { idealRow, type Row, type ScenarioSpec } from './scenarios';
import type { ServerSettings } from './serverProcess';
import type { BudgetRow, SizeRow } from './size';

export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((row) => row.map(String));
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...cells.map((row) => `| ${row.join(' | ')} |`)].join(
    '\n',
  );
}

const COUNTS = ['refreshCalls', 'reuseDetections', 'apiRequests', 'api401', 'ok', 'errors', 'hung', 'sentWithReplacedToken'] as const;

/** Which counts differ from the ideal row: empty when the client behaved ideally. */
export function deviations(row: Row, ideal: Row): Array<(typeof COUNTS)[number]> {
  return COUNTS.filter((key) => row[key] !== ideal[key]);
}

const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

export function scenarioTable(spec: ScenarioSpec, rows: Row[], settings: ServerSettings): string {
  const ideal = idealRow(spec, settings);
  const line = (row: Row, isIdeal = false) =>
    row.skipped
      ? [row.client, `skipped: ${row.skipped}`, ...Array<string>(12).fill('')]
      : [
          isIdeal ? '*ideal*' : row.client,
          ...COUNTS.map((key) => row[key]),
          isIdeal
            ? `≥ ${row.wallMs} (latency floor)`
            : row.hung
              ? `> ${(row.hangBoundMs ?? row.wallMs).toFixed(0)} (bound)`
              : `${ms(row.wallMs)}${row.runs ? ` (runs: ${row.runs.join(', ')})` : ''}`,
          isIdeal ? '' : row.ratio === undefined ? '–' : `${row.ratio.toFixed(2)}×`,
          isIdeal ? '' : row.clientCpuMs === undefined ? '–' : ms(row.clientCpuMs),
          isIdeal ? '' : deviations(row, ideal).length === 0 ? 'yes' : 'no',
        ];
  return table(
    [
      'client',
      'refresh calls',
      'reuse detections',
      'server saw',
      '401s',
      'ok',
      'errors',
      'hung',
      'sent with replaced token',
      'wall ms',
      'wall vs valid token',
      'client CPU ms',
      'ideal counts',
    ],
    [...rows.map((row) => line(row)), line(ideal, true)],
  );
}

export function overheadTable(result: OverheadResult): string {
  return table(
    ['pipeline', 'requests/s', 'per request'],
    [
      ['bare `defer(() => transport(token))`', Math.round(result.bareHz).toLocaleString('en'), `${(1e9 / result.bareHz).toFixed(0)} ns`],
      [
        '`auth.authorized(transport)`',
        Math.round(result.authorizedHz).toLocaleString('en'),
        `${(1e9 / result.authorizedHz).toFixed(0)} ns`,
      ],
      ['ratio (bare / authorized)', `${result.ratio.toFixed(2)}×`, `+${result.overheadNs.toFixed(0)} ns`],
    ],
  );
}

export function releaseTable(results: ReleaseResult[]): string {
  const rows = results.map((result, index) => {
    const previous = results[index - 1];
    const growth =
      previous?.client === result.client
        ? `${(result.ms / previous.ms).toFixed(1)}× for ${(result.size / previous.size).toFixed(0)}× the calls`
        : '–';
    return [
      result.client,
      result.size.toLocaleString('en'),
      ms(result.ms),
      result.usPerCall.toFixed(2),
      growth,
      result.subscribersWhileWaiting.toLocaleString('en'),
    ];
  });
  return table(
    ['waiting on', 'calls', 'release ms', 'µs per call', 'growth vs previous size', 'subscribers on action$ while waiting'],
    rows,
  );
}

export function memoryTable(result: MemoryResult): string {
  return table(
    [
      'calls',
      'refresh cycles',
      'heap before (after GC)',
      'heap after (after GC)',
      'retained',
      'subscribers on action$ at start',
      'left after',
    ],
    [
      [
        result.calls.toLocaleString('en'),
        result.cycles,
        `${(result.heapBeforeBytes / 1024).toFixed(0)} kB`,
        `${(result.heapAfterBytes / 1024).toFixed(0)} kB`,
        `${(result.retainedBytes / 1024).toFixed(1)} kB`,
        result.subscribersAtStart,
        result.subscribersLeft,
      ],
    ],
  );
}

export function budgetTable(rows: BudgetRow[]): string {
  return table(
    ['import set', 'min+gzip', 'budget (npm test)'],
    rows.map((row) => [row.name, `${row.gzipBytes.toLocaleString('en')} B`, `${row.limitBytes.toLocaleString('en')} B`]),
  );
}

export function sizeTable(rows: SizeRow[]): string {
  return table(
    ['entry', 'min', 'min+gzip', 'external'],
    rows.map((row) => [
      row.entry,
      `${row.minBytes.toLocaleString('en')} B`,
      `${row.gzipBytes.toLocaleString('en')} B`,
      row.external.join(', '),
    ]),
  );
}
