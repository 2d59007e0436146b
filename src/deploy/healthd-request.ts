import {
  HealthdControlError,
  HealthdRefusedError,
  healthdRequest as request,
} from '../healthd/control-client.ts';
import { OperationError } from './errors.ts';
import type { HealthdRequest } from './hooks.ts';

/**
 * Deploy's requests to healthd's control socket: `hold <vip>` before a disruptive change (answers
 * once BIRD confirmed the withdraw and converge_ms passed), `reload` after healthd.yaml changed,
 * `reconcile` after BIRD re-read its configuration.
 */
export const healthdRequest: HealthdRequest = async (socket, command, args) => {
  try {
    if (command === 'hold' || command === 'release') {
      await request(socket, { cmd: command, vip: args[0]! }, 30_000);
    } else if (command === 'reload' || command === 'reconcile') {
      await request(socket, { cmd: command }, 30_000);
    } else {
      throw new OperationError(`healthd: no command ${command}`);
    }
  } catch (err) {
    if (err instanceof HealthdRefusedError || err instanceof HealthdControlError) {
      throw new OperationError(`healthd ${command} ${args.join(' ')}: ${err.message}`, { cause: err });
    }
    throw err;
  }
};
