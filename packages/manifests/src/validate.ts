import { describeObject, type K8sObject } from './objects.ts';
import { type Overlay, readOverlay } from './overlay.ts';
import { type Renderer, renderKustomization } from './render.ts';
import {
  imageRules,
  lifecycleRules,
  type Problem,
  probeRules,
  resourceRules,
  scalingRules,
} from './rules.ts';
import { schemaErrors } from './schemas.ts';

/** Everything wrong with an overlay's rendered objects: schema errors first, then the fleet's rules. */
export async function checkObjects(objects: K8sObject[], overlay: Overlay): Promise<Problem[]> {
  const schema = await Promise.all(
    objects.map(async (o) =>
      (await schemaErrors(o)).map((message) => ({ object: describeObject(o), message })),
    ),
  );
  return [
    ...schema.flat(),
    ...resourceRules(objects),
    ...probeRules(objects),
    ...imageRules(objects),
    ...lifecycleRules(objects, overlay),
    ...scalingRules(objects, overlay),
  ];
}

export interface OverlayReport {
  overlay: Overlay;
  renderer: Renderer;
  objects: K8sObject[];
  problems: Problem[];
}

/** Reads an overlay's settings, renders it and checks every object. */
export async function checkOverlay(dir: string, renderer?: Renderer): Promise<OverlayReport> {
  const overlay = readOverlay(dir);
  const rendered = renderKustomization(dir, renderer);
  return { overlay, ...rendered, problems: await checkObjects(rendered.objects, overlay) };
}
