import { paint, type Color } from './io.ts';

// pino's numeric levels (https://getpino.io/#/docs/api?id=levels).
const levels: Record<number, { name: string; color: Color }> = {
  10: { name: 'TRACE', color: 'gray' },
  20: { name: 'DEBUG', color: 'gray' },
  30: { name: 'INFO', color: 'green' },
  40: { name: 'WARN', color: 'yellow' },
  50: { name: 'ERROR', color: 'red' },
  60: { name: 'FATAL', color: 'red' },
};

// Fields every line carries or that the prefix already shows.
const hidden = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'service', 'v']);

const maxValue = 300;

/** A child's output may hold terminal escapes; they must not reach the user's terminal. */
export const sanitize = (s: string): string => s.replace(/[\x00-\x08\x0b-\x1f\x7f\x9b]/g, '\uFFFD');

function clock(t: unknown): string {
  if (typeof t === 'number' && Number.isFinite(t)) {
    const d = new Date(t);
    if (!Number.isNaN(d.getTime())) return d.toISOString().slice(11, 23);
  }
  if (typeof t === 'string') return sanitize(t.slice(0, 30));
  return '--:--:--.---';
}

function compact(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = /[\s="]/.test(v) || v === '' ? JSON.stringify(v) : v;
  else if (v instanceof Object && 'message' in v && typeof (v as { message: unknown }).message === 'string') {
    const e = v as { type?: unknown; message: string };
    s = JSON.stringify(typeof e.type === 'string' ? `${e.type}: ${e.message}` : e.message);
  } else s = JSON.stringify(v) ?? String(v);
  return sanitize(s.length > maxValue ? `${s.slice(0, maxValue)}…` : s);
}

/**
 * One line of a service's output, made readable: a pino JSON event becomes
 * `time LEVEL msg key=value …`; anything else is shown as it came.
 */
export function renderLogLine(line: string, color = false): string {
  const trimmed = line.trim();
  let ev: unknown;
  if (trimmed.startsWith('{')) {
    try {
      ev = JSON.parse(trimmed);
    } catch {
      ev = undefined;
    }
  }
  if (!ev || typeof ev !== 'object' || Array.isArray(ev)) return sanitize(line.replace(/[\r\n]+$/, ''));
  const e = ev as Record<string, unknown>;
  const lvl = typeof e.level === 'number' ? levels[e.level] : undefined;
  const levelText = lvl
    ? paint(color, lvl.color, lvl.name.padEnd(5))
    : e.level === undefined
      ? ''
      : sanitize(String(e.level).toUpperCase().slice(0, 10).padEnd(5));
  const msg = typeof e.msg === 'string' ? sanitize(e.msg) : e.msg === undefined ? '' : compact(e.msg);
  const fields = Object.entries(e)
    .filter(([k]) => !hidden.has(k))
    .map(([k, v]) => `${paint(color, 'gray', `${sanitize(k)}=`)}${compact(v)}`);
  return [paint(color, 'gray', clock(e.time)), levelText, msg, ...fields].filter((p) => p !== '').join(' ');
}

