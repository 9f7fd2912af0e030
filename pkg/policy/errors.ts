// Owns the typed errors a user's policy input can cause.

/**
 * One problem in a policy input: the field at fault and what was expected there.
 * `path` is relative to the object (e.g. `spec.ingress[0].toPorts[0].ports[1].port`, '' for the
 * object itself); `document` is the index of the YAML document (or JSON text) in the input;
 * `object` names the object when known (`CiliumNetworkPolicy default/web`).
 */
export class PolicyValidationError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
    readonly document = 0,
    readonly object?: string,
  ) {
    super(`${object !== undefined ? `${object}: ` : ''}${path !== '' ? `${path}: ` : ''}${detail}`);
    this.name = 'PolicyValidationError';
  }
}

/** Prefix of the message of errors about valid Cilium/Kubernetes fields that Cilia does not implement. */
export const NOT_SUPPORTED = 'not supported by Cilia';

/**
 * Thrown when an input holds one or more invalid objects: nothing from the input should be
 * applied. `errors` lists every problem found, in input order.
 */
export class PolicyParseError extends Error {
  constructor(readonly errors: readonly PolicyValidationError[]) {
    // Documents are named only when the input had several (some error is past the first one).
    const multi = errors.some((e) => e.document > 0);
    const line = (e: PolicyValidationError): string => `${multi ? `document ${e.document}: ` : ''}${e.message}`;
    super(errors.length === 1 ? `invalid policy: ${line(errors[0])}` : `invalid policy (${errors.length} errors):\n${errors.map((e) => `  - ${line(e)}`).join('\n')}`);
    this.name = 'PolicyParseError';
  }
}
