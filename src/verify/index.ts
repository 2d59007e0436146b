export { formatNagios, formatPrometheus, formatTable, reportJson } from './format.ts';
export { planChecks } from './plan.ts';
export type { Outcome, PlanContext, PlannedCheck, VerifyReport, VerifyResult } from './types.ts';
export {
  localAddresses,
  planContext,
  unhealthyServices,
  type VerifyOptions,
  VerifyUsageError,
  verifySite,
} from './verify.ts';
