export { type DockerStage, type DockerTarget, dockerStages, dockerTargets } from './dockerfile.ts';
export { GENERATED_FILE, generatedObjects, generatedText, syncGenerated } from './generate.ts';
export { kustomize } from './kustomize.ts';
export { describeObject, type K8sObject, objectId, parseObjects, toYaml } from './objects.ts';
export { K8S_DIR, type Overlay, overlayDirs, parseEnvFile, readOverlay } from './overlay.ts';
export { hasKubectl, type Renderer, renderKustomization } from './render.ts';
export type { Problem } from './rules.ts';
export { schemaErrors } from './schemas.ts';
export { checkObjects, checkOverlay, type OverlayReport } from './validate.ts';
