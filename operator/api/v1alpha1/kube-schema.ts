// Small TypeBox builders for the shapes Kubernetes structural schemas allow and TypeBox spells
// differently: string enums (TypeBox would emit anyOf/const), string maps (TypeBox would emit
// patternProperties) and int-or-string quantities. Every builder keeps the TypeScript type exact.
import { Type, type TSchema, type TUnsafe } from 'typebox';

interface Doc {
  description: string;
  default?: unknown;
}

/** A string restricted to `values`, as `{type: string, enum: [...]}`. */
export function StringEnum<const T extends readonly string[]>(values: T, doc: Doc): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...doc });
}

/** A map from string to string (labels, annotations, node selectors). */
export function StringMap(doc: Doc): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string' },
    ...doc,
  });
}

/** A resource quantity such as `500m`, `1Gi` or `2`. */
export function Quantity(doc: Doc): TUnsafe<string | number> {
  return Type.Unsafe<string | number>({
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
    ...doc,
  });
}

/** A map of resource name to quantity (`requests`, `limits`). */
export function QuantityMap(doc: Doc): TUnsafe<Record<string, string | number>> {
  const value = Quantity({ description: 'A resource quantity.' }) as TSchema;
  return Type.Unsafe<Record<string, string | number>>({
    type: 'object',
    additionalProperties: JSON.parse(JSON.stringify(value)) as unknown,
    ...doc,
  });
}

/** A CEL validation rule attached to an object schema. */
export interface CelRule {
  rule: string;
  message: string;
  /** Field path the error names (`.spec.scaling.minReplicas`), so `kubectl` points at it. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Options to pass to Type.Object to attach CEL rules. */
export function cel(...rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/**
 * An int-or-string count of pods as PodDisruptionBudget and Deployment strategy fields take it: a
 * whole number from `minimum`, or a percentage from 1% to 100%.
 */
export function IntOrPercent(doc: Doc & { minimum: number }): TUnsafe<number | string> {
  return Type.Unsafe<number | string>({
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: '^([1-9][0-9]?|100)%$',
    ...doc,
  });
}
