import type { ScalingPolicy } from '../policy.ts';

/**
 * A policy with the HPA's default rates (up: 4 pods or 100% per 15 s, whichever is more; down:
 * 100% per 15 s) and the given sizes, timings and scale-down window (the HPA's default is 300 s).
 */
export function withHpaRates(
  p: Omit<ScalingPolicy, 'scaleUp' | 'scaleDown'>,
  downWindowSeconds: number,
): ScalingPolicy {
  return {
    ...p,
    scaleUp: {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ],
    },
    scaleDown: {
      stabilizationWindowSeconds: downWindowSeconds,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    },
  };
}
