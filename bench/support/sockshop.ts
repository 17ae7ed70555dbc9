// The labelled Sock Shop fault-injection cases of RCAEval (RE1-SS, cpu and mem faults;
// https://github.com/phamquiluan/RCAEval) that the rca and diagnosis benchmarks read: the folder
// (INTERLOCK_RCA_DIR, else ../shared/data/rca-dev/sockshop beside the repository), its labels.json,
// and each case's metrics, `<case>/normal.csv.gz` and `<case>/anomalous.csv.gz`.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { REPO_ROOT } from './report.js';

/** The dataset, as the benchmarks' parameters name it. */
export const SOCK_SHOP_DATASET = 'RCAEval RE1 Sock Shop, cpu and mem faults (shared/data/rca-dev/sockshop)';

/** One labelled case of labels.json. */
export interface SockShopLabel {
  /** The case's folder, relative to the dataset's, e.g. `carts-cpu/1`. */
  readonly case: string;
  readonly root_cause_service: string;
  /** `cpu` or `mem`. */
  readonly fault_type: string;
  readonly root_cause_metric: string;
  /** Unix time, seconds, of the first anomalous row. */
  readonly anomalous_start: string;
  /** Unix time, seconds, of the last normal row. */
  readonly normal_end: string;
}

/** A case's metrics: the normal rows then the anomalous rows, joined. */
export interface SockShopRows {
  /** The column names: the time first, then one `<service>_<metric>` per metric. */
  readonly header: readonly string[];
  /** The rows, cells as numbers (NaN where a cell is empty); the first cell is the time, Unix seconds. */
  readonly rows: readonly (readonly number[])[];
  /** Each row's time, Unix epoch ms. */
  readonly timestamps: number[];
  /** How many of `rows` are normal: the index of the first anomalous row. */
  readonly normalRows: number;
}

/** Where the dataset is: INTERLOCK_RCA_DIR, else ../shared/data/rca-dev/sockshop beside the repository. */
export function sockShopDir(): string {
  return resolve(process.env.INTERLOCK_RCA_DIR ?? join(REPO_ROOT, '..', 'shared', 'data', 'rca-dev', 'sockshop'));
}

/** `dir` relative to the repository when it is beside it, else as it is (for messages and the results file). */
export function displayDir(dir: string): string {
  const path = relative(REPO_ROOT, dir);
  return path === '' || path.startsWith(join('..', '..')) ? dir : path;
}

/** Whether `dir` holds the labelled cases (a labels.json). */
export function hasSockShopCases(dir: string): boolean {
  return existsSync(join(dir, 'labels.json'));
}

/** The labelled cases of `dir`'s labels.json, in its order. */
export function readSockShopLabels(dir: string): SockShopLabel[] {
  return JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8')) as SockShopLabel[];
}

/** A gzipped CSV of numbers: its header and rows. */
function readCsv(path: string): { header: string[]; rows: number[][] } {
  const [head, ...lines] = gunzipSync(readFileSync(path)).toString('utf8').trim().split('\n');
  return { header: (head ?? '').split(','), rows: lines.map((line) => line.split(',').map((cell) => (cell === '' ? Number.NaN : Number(cell)))) };
}

/** Reads one case's normal and anomalous rows; throws when the two files have different columns. */
export function readSockShopCase(dir: string, label: SockShopLabel): SockShopRows {
  const normal = readCsv(join(dir, label.case, 'normal.csv.gz'));
  const anomalous = readCsv(join(dir, label.case, 'anomalous.csv.gz'));
  if (normal.header.join() !== anomalous.header.join()) throw new Error(`${label.case}: normal.csv.gz and anomalous.csv.gz have different columns`);
  const rows = [...normal.rows, ...anomalous.rows];
  return { header: normal.header, rows, timestamps: rows.map((row) => (row[0] as number) * 1000), normalRows: normal.rows.length };
}

/** The service and metric a column `<service>_<metric>` stands for (RCAEval's convention); no `_`: no service. */
export function splitColumn(column: string): { service: string | null; metric: string } {
  const split = column.indexOf('_');
  return { service: split === -1 ? null : column.slice(0, split), metric: split === -1 ? column : column.slice(split + 1) };
}
