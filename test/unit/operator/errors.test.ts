// describeError: what the operator logs of a failed Kubernetes call.
import { describe, expect, it } from 'vitest';
import { describeError } from '../../../operator/errors.js';

describe('describeError', () => {
  it('keeps the API server\'s message of a client-node error, not its headers', () => {
    const err = Object.assign(new Error('HTTP-Code: 403\nMessage: Unknown API Status Code!\nBody: ...\nHeaders: {...}'), {
      code: 403,
      body: JSON.stringify({ kind: 'Status', message: 'pods is forbidden: User "x" cannot create resource "pods"', code: 403 }),
    });
    expect(describeError(err)).toBe('HTTP 403: pods is forbidden: User "x" cannot create resource "pods"');
    expect(describeError(new Error('socket hang up'))).toBe('socket hang up');
  });
});
