/**
 * Parsers for the answers of HAProxy 2.6's runtime API (stats socket and master CLI).
 * Pure functions over the text HAProxy sends; the client in `haproxy-client.ts` feeds them.
 */

import { IntentlbError } from '../errors.ts';

/** An answer HAProxy gave that is not what the command promises: an error text, or an unknown format. */
export class HaproxyCommandError extends IntentlbError {
  readonly command: string;
  readonly answer: string;
  constructor(command: string, answer: string, reason?: string) {
    const shown = answer.trim() === '' ? '(empty answer)' : answer.trim();
    super(`haproxy: '${command}' failed${reason === undefined ? '' : ` (${reason})`}: ${shown}`);
    this.name = 'HaproxyCommandError';
    this.command = command;
    this.answer = answer;
  }
}

/** One line of `show stat` (a frontend, backend, server or listener), every column kept. */
export interface StatRow {
  readonly pxname: string;
  readonly svname: string;
  /** `UP`, `DOWN`, `MAINT`, `DRAIN`, `no check`, `OPEN`, ... */
  readonly status?: string;
  /** Effective weight (a server in MAINT shows its effective, not its configured, weight). */
  readonly weight?: number;
  /** User-set weight: what `set server ... weight` changes. */
  readonly uweight?: number;
  readonly scur?: number;
  readonly smax?: number;
  readonly stot?: number;
  readonly qcur?: number;
  /** 0 frontend, 1 backend, 2 server, 3 listener. */
  readonly type?: number;
  readonly iid?: number;
  readonly sid?: number;
  readonly addr?: string;
  readonly check_status?: string;
  /** Any column; numeric columns are numbers, empty cells are absent. */
  readonly [column: string]: string | number | undefined;
}

/** `show stat` columns that hold text even when a value looks numeric. */
const STAT_TEXT_COLUMNS = new Set([
  'pxname',
  'svname',
  'status',
  'tracked',
  'check_status',
  'check_desc',
  'last_chk',
  'last_agt',
  'agent_status',
  'agent_desc',
  'addr',
  'cookie',
  'mode',
  'algo',
  '-',
]);

const INTEGER = /^-?\d+$/;

/** Splits one CSV line the way HAProxy's `csv_enc()` writes it (quotes around cells holding `,` or `"`). */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          cell += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        cell += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else {
      cell += ch;
    }
  }
  cells.push(cell);
  return cells;
}

function answerLines(answer: string): string[] {
  return answer.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** Parses the CSV of `show stat`. Throws when the answer is not a stat dump (an error text). */
export function parseShowStat(answer: string, command = 'show stat'): StatRow[] {
  const lines = answerLines(answer);
  const header = lines[0] ?? '';
  if (!header.startsWith('# pxname,')) throw new HaproxyCommandError(command, answer, 'not a stat dump');
  // The header ends with a comma: the last, nameless column is dropped.
  const columns = splitCsvLine(header.slice(2));
  const rows: StatRow[] = [];
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const cells = splitCsvLine(line);
    const row: Record<string, string | number> = {};
    columns.forEach((name, i) => {
      const value = cells[i];
      if (name === '' || value === undefined || value === '') return;
      row[name] = !STAT_TEXT_COLUMNS.has(name) && INTEGER.test(value) ? Number(value) : value;
    });
    if (typeof row.pxname !== 'string' || typeof row.svname !== 'string') {
      throw new HaproxyCommandError(command, answer, `malformed stat line '${line}'`);
    }
    rows.push(row as StatRow);
  }
  return rows;
}

/** Server admin-state bits of `show servers state` (`srv_admin_state`). */
export const SRV_ADMF = {
  FMAINT: 0x01,
  IMAINT: 0x02,
  CMAINT: 0x04,
  FDRAIN: 0x08,
  IDRAIN: 0x10,
  RMAINT: 0x20,
  HMAINT: 0x40,
} as const;

/** One server of `show servers state` (format version 1). Numeric columns are numbers, `-` is absent. */
export interface ServerStateRow {
  readonly be_id: number;
  readonly be_name: string;
  readonly srv_id: number;
  readonly srv_name: string;
  readonly srv_addr: string;
  /** 0 stopped, 1 starting, 2 running, 3 stopping. */
  readonly srv_op_state: number;
  /** Mask of {@link SRV_ADMF}. */
  readonly srv_admin_state: number;
  readonly srv_uweight: number;
  readonly srv_iweight: number;
  readonly srv_time_since_last_change: number;
  readonly srv_check_status: number;
  readonly srv_check_result: number;
  readonly srv_check_health: number;
  readonly srv_check_state: number;
  readonly srv_agent_state: number;
  readonly bk_f_forced_id: number;
  readonly srv_f_forced_id: number;
  readonly srv_fqdn?: string;
  readonly srv_port: number;
  readonly srvrecord?: string;
  readonly srv_use_ssl: number;
  readonly srv_check_port: number;
  readonly srv_check_addr?: string;
  readonly srv_agent_addr?: string;
  readonly srv_agent_port: number;
  /** In maintenance for any reason (forced, inherited, configuration, resolution). */
  readonly maint: boolean;
  /** Draining (forced or inherited). */
  readonly drain: boolean;
  /** Columns this parser does not know (a newer HAProxy); kept as text. */
  readonly extra: Readonly<Record<string, string>>;
}

const SERVER_STATE_TEXT = new Set([
  'be_name',
  'srv_name',
  'srv_addr',
  'srv_fqdn',
  'srvrecord',
  'srv_check_addr',
  'srv_agent_addr',
]);
const SERVER_STATE_NUMERIC = new Set([
  'be_id',
  'srv_id',
  'srv_op_state',
  'srv_admin_state',
  'srv_uweight',
  'srv_iweight',
  'srv_time_since_last_change',
  'srv_check_status',
  'srv_check_result',
  'srv_check_health',
  'srv_check_state',
  'srv_agent_state',
  'bk_f_forced_id',
  'srv_f_forced_id',
  'srv_port',
  'srv_use_ssl',
  'srv_check_port',
  'srv_agent_port',
]);
const MAINT_MASK = SRV_ADMF.FMAINT | SRV_ADMF.IMAINT | SRV_ADMF.CMAINT | SRV_ADMF.RMAINT | SRV_ADMF.HMAINT;
const DRAIN_MASK = SRV_ADMF.FDRAIN | SRV_ADMF.IDRAIN;

/** Parses `show servers state [<backend>]`. Throws on an error text or an unknown format version. */
export function parseServersState(answer: string, command = 'show servers state'): ServerStateRow[] {
  const lines = answerLines(answer);
  if (lines[0] !== '1') throw new HaproxyCommandError(command, answer, 'not a version 1 servers state dump');
  const header = lines[1] ?? '';
  if (!header.startsWith('# ')) throw new HaproxyCommandError(command, answer, 'no column header');
  const columns = header.slice(2).trim().split(/\s+/);
  const rows: ServerStateRow[] = [];
  for (const line of lines.slice(2)) {
    if (line === '' || line.startsWith('#')) continue;
    const cells = line.split(' ');
    if (cells.length < columns.length) {
      throw new HaproxyCommandError(command, answer, `malformed server line '${line}'`);
    }
    const row: Record<string, unknown> = {};
    const extra: Record<string, string> = {};
    columns.forEach((name, i) => {
      const value = cells[i] ?? '';
      if (SERVER_STATE_NUMERIC.has(name)) {
        if (!INTEGER.test(value)) throw new HaproxyCommandError(command, answer, `${name} is '${value}'`);
        row[name] = Number(value);
      } else if (SERVER_STATE_TEXT.has(name)) {
        if (value !== '-' || name === 'be_name' || name === 'srv_name' || name === 'srv_addr')
          row[name] = value;
      } else {
        extra[name] = value;
      }
    });
    for (const name of SERVER_STATE_NUMERIC) {
      if (row[name] === undefined) throw new HaproxyCommandError(command, answer, `column ${name} missing`);
    }
    const admin = row.srv_admin_state as number;
    row.maint = (admin & MAINT_MASK) !== 0;
    row.drain = (admin & DRAIN_MASK) !== 0;
    row.extra = extra;
    rows.push(row as unknown as ServerStateRow);
  }
  return rows;
}

/** Parses `show info` (`Name: value` lines) into a record. Throws when a line is not `Name: value`. */
export function parseShowInfo(answer: string, command = 'show info'): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of answerLines(answer)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HaproxyCommandError(command, answer, `malformed info line '${line}'`);
    info[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  if (info.Pid === undefined) throw new HaproxyCommandError(command, answer, 'no Pid in the answer');
  return info;
}

/** One process of the master CLI's `show proc`. */
export interface ProcEntry {
  readonly pid: number;
  readonly type: 'master' | 'worker' | 'program';
  /** For programs: the program's name (the `<type>` column). */
  readonly program?: string;
  /** True for the master, the current workers and programs; false for old (leaving) workers. */
  readonly current: boolean;
  /** Relative process number of a current worker (`@1` ...); old workers are reachable by PID only. */
  readonly relative?: number;
  /** Master: reloads since start. Worker: reloads it survived (0 for the newest generation). */
  readonly reloads: number;
  /** Master only: failed reloads since the last successful one (`[failed: N]`). */
  readonly failedReloads?: number;
  /** As printed, e.g. `0d00h10m37s`. */
  readonly uptime: string;
  readonly uptimeSeconds: number;
  readonly version: string;
}

/** `0d00h10m37s` → seconds; NaN when the format is unknown. */
export function parseUptime(text: string): number {
  const m = /^(\d+)d(\d+)h(\d+)m(\d+)s$/.exec(text);
  if (m === null) return Number.NaN;
  return ((Number(m[1]) * 24 + Number(m[2])) * 60 + Number(m[3])) * 60 + Number(m[4]);
}

const PROC_LINE = /^(\d+)\s+(\S+)\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?\s+(\S+)\s+(\S+)\s*$/;

/** Parses the master CLI's `show proc`. Throws when the answer is not a process list. */
export function parseShowProc(answer: string, command = 'show proc'): ProcEntry[] {
  const lines = answerLines(answer);
  if (!(lines[0] ?? '').startsWith('#<PID>'))
    throw new HaproxyCommandError(command, answer, 'not a process list');
  let section: 'master' | 'workers' | 'old' | 'programs' = 'master';
  let relative = 0;
  const out: ProcEntry[] = [];
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const title = line.slice(1).trim();
      if (title === 'workers') section = 'workers';
      else if (title === 'old workers') section = 'old';
      else if (title === 'programs') section = 'programs';
      else throw new HaproxyCommandError(command, answer, `unknown section '${line}'`);
      continue;
    }
    const m = PROC_LINE.exec(line);
    if (m === null) throw new HaproxyCommandError(command, answer, `malformed process line '${line}'`);
    const [, pid, type, reloads, failed, uptime, version] = m as unknown as [
      string,
      string,
      string,
      string,
      string | undefined,
      string,
      string,
    ];
    const base = {
      pid: Number(pid),
      reloads: Number(reloads),
      uptime,
      uptimeSeconds: parseUptime(uptime),
      version,
    };
    if (section === 'master') {
      if (type !== 'master') throw new HaproxyCommandError(command, answer, `expected the master: '${line}'`);
      out.push({
        ...base,
        type: 'master',
        current: true,
        ...(failed === undefined ? {} : { failedReloads: Number(failed) }),
      });
    } else if (section === 'programs') {
      out.push({ ...base, type: 'program', program: type, current: true });
    } else if (section === 'workers') {
      relative++;
      out.push({ ...base, type: 'worker', current: true, relative });
    } else {
      out.push({ ...base, type: 'worker', current: false });
    }
  }
  if (!out.some((p) => p.type === 'master')) throw new HaproxyCommandError(command, answer, 'no master line');
  return out;
}
