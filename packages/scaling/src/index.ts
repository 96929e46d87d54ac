export { Autoscaler, describeDecision, type ScaleDecision } from './autoscaler.ts';
export { backlogQuery, type PrometheusTrigger, scaledObjectSpec } from './keda.ts';
export {
  HPA_TOLERANCE,
  type RatePolicy,
  type ScalingPolicy,
  type ScalingRules,
  scalingPolicyFromConfig,
} from './policy.ts';
export {
  type SimulationResult,
  simulate,
  simulateIdeal,
  type TimelinePoint,
  type WorkerModel,
} from './simulate.ts';
export { parseTrace, rateAt, type Trace, type TracePoint } from './trace.ts';
