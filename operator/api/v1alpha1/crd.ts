// Builds the ReflectorMesh CustomResourceDefinition from the TypeBox schemas, so the CRD in crds/
// is generated and never edited by hand (`npm run generate:manifests`, or `rmesh operator crd`).
import { stringify } from 'yaml';
import {
  GROUP,
  KIND,
  PLURAL,
  ReflectorMeshSpecSchema,
  ReflectorMeshStatusSchema,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from './reflectormesh.js';

type JsonSchema = Record<string, unknown>;

/** The TypeBox schema as plain JSON, adjusted to Kubernetes: defaulted fields are not required. */
export function toKubeSchema(schema: unknown): JsonSchema {
  // JSON round trip drops TypeBox's non-enumerable bookkeeping (`~kind`, `~optional`).
  const plain = JSON.parse(JSON.stringify(schema)) as JsonSchema;
  return adjust(plain);
}

function adjust(node: JsonSchema): JsonSchema {
  const properties = node.properties as Record<string, JsonSchema> | undefined;
  if (properties) {
    for (const [key, child] of Object.entries(properties)) properties[key] = adjust(child);
    const required = (node.required as string[] | undefined)?.filter((key) => properties[key]?.default === undefined);
    if (required && required.length > 0) node.required = required;
    else delete node.required;
  }
  if (node.items && typeof node.items === 'object') node.items = adjust(node.items as JsonSchema);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    node.additionalProperties = adjust(node.additionalProperties as JsonSchema);
  }
  return node;
}

export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** The CustomResourceDefinition object (apiextensions.k8s.io/v1). */
export function buildCrd(): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'reflector-mesh', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES, categories: ['all'] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.replicas',
              statusReplicasPath: '.status.replicas',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: [
            { name: 'Mode', type: 'string', jsonPath: '.spec.scaling.mode', description: 'Who owns the replica count.' },
            { name: 'Desired', type: 'integer', jsonPath: '.status.desiredReplicas', description: 'Reflectors the operator converges to.' },
            { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Ready reflectors.' },
            { name: 'Clients', type: 'integer', jsonPath: '.status.clients', description: 'Clients served.' },
            { name: 'Utilisation', type: 'integer', jsonPath: '.status.plan.utilisationPercent', description: 'Peak outbound rate, percent of the usable budget.' },
            { name: 'Status', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].reason", priority: 1, description: 'Why the mesh is or is not ready.' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'ReflectorMesh is a full mesh of UDP/RTP reflectors on the host network: a unicast stand-in for multicast. The operator sizes it with the capacity model out = nr*(m+n-2), wires every reflector to every other, rebalances clients and reports the plan in the status.',
              properties: {
                apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
                kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
                metadata: { type: 'object' },
                spec: toKubeSchema(ReflectorMeshSpecSchema),
                status: toKubeSchema(ReflectorMeshStatusSchema),
              },
              required: ['spec'],
            },
          },
        },
      ],
    },
  };
}

const HEADER = '# Generated from operator/api/v1alpha1/ by `npm run generate:manifests`. Do not edit.\n';

export function crdYaml(): string {
  return HEADER + stringify(buildCrd(), { lineWidth: 0 });
}
