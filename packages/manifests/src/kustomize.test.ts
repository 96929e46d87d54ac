import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kustomize } from './kustomize.ts';
import { objectId } from './objects.ts';
import { overlayDirs } from './overlay.ts';
import { hasKubectl, renderKustomization } from './render.ts';

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kustomize-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  template:
    spec:
      containers:
        - { name: app, image: app:1, env: [{ name: A, value: "1" }] }
        - { name: sidecar, image: side }
`;

describe('the built-in kustomize renderer', () => {
  it.skipIf(!hasKubectl())('renders every overlay to exactly what kubectl kustomize renders', () => {
    for (const dir of overlayDirs()) {
      const byId = (objects: ReturnType<typeof kustomize>) =>
        Object.fromEntries(objects.map((o) => [objectId(o), o]));
      expect(byId(kustomize(dir)), dir).toEqual(byId(renderKustomization(dir, 'kubectl').objects));
    }
  });

  it('merges patches strategically, deletes with $patch, generates, sets namespace and images', () => {
    const dir = tree({
      'base/kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [web.yaml]\n',
      'base/web.yaml': `${deployment}---\napiVersion: v1\nkind: Service\nmetadata: { name: gone }\n`,
      'overlay/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ns
resources: [../base]
configMapGenerator: [{ name: settings, envs: [app.env], literals: [B=2] }]
secretGenerator: [{ name: creds, literals: [TOKEN=t0ps3cret] }]
generatorOptions: { disableNameSuffixHash: true }
images: [{ name: app, newName: registry/app, newTag: "2" }]
patches: [{ path: patch.yaml }, { path: delete.yaml }]
`,
      'overlay/app.env': '# settings\nA=1\n\nB=1\n',
      'overlay/patch.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: null
  template:
    spec:
      containers:
        - { name: app, env: [{ name: B, value: "2" }] }
`,
      'overlay/delete.yaml': 'apiVersion: v1\nkind: Service\nmetadata: { name: gone }\n$patch: delete\n',
    });
    const objects = kustomize(join(dir, 'overlay'));
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/ns/settings',
      'Deployment/ns/web',
      'Secret/ns/creds',
    ]);
    const web = objects.find((o) => o.kind === 'Deployment')!;
    expect(web.spec).toEqual({
      template: {
        spec: {
          containers: [
            {
              name: 'app',
              image: 'registry/app:2',
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
            },
            { name: 'sidecar', image: 'side' },
          ],
        },
      },
    });
    expect(objects.find((o) => o.kind === 'ConfigMap')!.data).toEqual({ A: '1', B: '2' });
    expect(objects.find((o) => o.kind === 'Secret')!.data).toEqual({
      TOKEN: Buffer.from('t0ps3cret').toString('base64'),
    });
  });

  it('refuses what it does not implement instead of rendering it differently', () => {
    const unsupported = tree({
      'kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamePrefix: x-\n',
    });
    expect(() => kustomize(unsupported)).toThrow(/namePrefix/);
    const hashed = tree({
      'kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nconfigMapGenerator: [{ name: c, literals: [A=1] }]\n',
    });
    expect(() => kustomize(hashed)).toThrow(/disableNameSuffixHash/);
    const missing = tree({
      'kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\npatches: [{ path: p.yaml }]\n',
      'p.yaml': 'apiVersion: v1\nkind: Service\nmetadata: { name: nowhere }\n',
    });
    expect(() => kustomize(missing)).toThrow(/no Service nowhere to patch/);
  });
});
