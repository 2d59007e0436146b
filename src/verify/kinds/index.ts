import type { CheckKind } from '../types.ts';
import { allowCheck } from './allow.ts';
import { forwardedCheck, routeCheck, stickyCheck } from './backend.ts';
import { announceCheck, healthCheck, revisionCheck } from './node.ts';
import { portCheck } from './port.ts';
import { proxyCheck } from './proxy.ts';
import { hstsCheck, httpsRedirectCheck, redirectCheck } from './redirect.ts';
import { tlsAlpnCheck, tlsCertCheck, tlsVersionsCheck } from './tls.ts';

/** Every kind of check, in the order results are listed for a service. */
// biome-ignore lint/suspicious/noExplicitAny: each kind's spec type is its own; plan and probe pair them up
export const CHECK_KINDS: readonly CheckKind<any>[] = [
  portCheck,
  tlsVersionsCheck,
  tlsAlpnCheck,
  tlsCertCheck,
  httpsRedirectCheck,
  redirectCheck,
  hstsCheck,
  routeCheck,
  stickyCheck,
  forwardedCheck,
  proxyCheck,
  allowCheck,
  healthCheck,
  announceCheck,
  revisionCheck,
];
