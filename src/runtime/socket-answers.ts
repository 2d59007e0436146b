import { existsSync } from 'node:fs';
import { connect } from 'node:net';

/** Whether a unix socket accepts a connection now. */
export function socketAnswers(path: string, timeoutMs = 500): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((done) => {
    const s = connect(path);
    const t = setTimeout(() => {
      s.destroy();
      done(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      done(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      done(false);
    });
  });
}
