export { type Alert, type AlertScope, alertScope, fleetAlerts, ruleGroups } from './alerts.ts';
export {
  DASHBOARD_ROWS,
  grafanaDashboard,
  type PanelQuery,
  type PanelSpec,
  type RowSpec,
  TENANT_TOKENS_METRIC,
} from './dashboard.ts';
export { type DockerStage, type DockerTarget, dockerStages, dockerTargets } from './dockerfile.ts';
export { GENERATED_FILE, generatedObjects, generatedText, syncGenerated } from './generate.ts';
export { kustomize } from './kustomize.ts';
export { describeObject, type K8sObject, objectId, parseObjects, toYaml } from './objects.ts';
export {
  ALERTS_FILE,
  committedQueries,
  DASHBOARD_FILE,
  dashboardQueries,
  type NamedQuery,
  OBSERVABILITY_DIR,
  observabilityFiles,
  queryProblems,
  ruleQueries,
  syncObservability,
} from './observability.ts';
export { K8S_DIR, type Overlay, overlayDirs, parseEnvFile, readOverlay } from './overlay.ts';
export { metricsOf, type ParsedQuery, parsePromql } from './promql.ts';
export { hasKubectl, type Renderer, renderKustomization } from './render.ts';
export type { Problem } from './rules.ts';
export { schemaErrors } from './schemas.ts';
export { checkObjects, checkOverlay, type OverlayReport } from './validate.ts';
