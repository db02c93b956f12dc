// The limit flags of `rmesh reflector` as the real CLI parses them (flags, RMESH_* environment,
// defaults, errors): the per-client rate limit is off unless set, the control API limit on by default.
import { afterEach, describe, expect, it } from 'vitest';
import { reflectorConfig } from '../fuzz/reflector-config.js';

const BASE = ['--address', '127.0.9.1', '--data-port', '50520', '--control-port', '50521', '--open-mesh'];

describe('limit flags of rmesh reflector', () => {
  afterEach(() => {
    delete process.env.RMESH_MAX_CLIENT_BITRATE;
    delete process.env.RMESH_MAX_CLIENT_PPS;
    delete process.env.RMESH_API_RATE_LIMIT;
  });

  it('defaults: no client rate limit, 20 API requests/s per source with bursts of 100, 1472-byte datagrams', async () => {
    const config = await reflectorConfig(BASE);
    expect(config.clientRateLimit).toBeUndefined();
    expect(config.apiRateLimit).toEqual({ perSecond: 20, burst: 100 });
    expect(config.maxDatagramSize).toBe(1472);
  });

  it('takes the client limits from flags, with units', async () => {
    const config = await reflectorConfig([...BASE, '--max-client-pps', '500', '--max-client-bitrate', '4Mbps', '--max-client-burst', '250ms']);
    expect(config.clientRateLimit).toEqual({ packetsPerSecond: 500, bitsPerSecond: 4_000_000, burstMs: 250 });
  });

  it('takes them from the environment as the operator sets them (bare bit/s)', async () => {
    process.env.RMESH_MAX_CLIENT_BITRATE = '4000000';
    process.env.RMESH_MAX_CLIENT_PPS = '417';
    const config = await reflectorConfig(BASE);
    expect(config.clientRateLimit).toEqual({ packetsPerSecond: 417, bitsPerSecond: 4_000_000, burstMs: 500 });
  });

  it('turns limits off with 0 or off', async () => {
    expect((await reflectorConfig([...BASE, '--max-client-bitrate', 'off', '--max-client-pps', '0'])).clientRateLimit).toBeUndefined();
    process.env.RMESH_API_RATE_LIMIT = '0';
    expect((await reflectorConfig(BASE)).apiRateLimit).toBeUndefined();
  });

  it('refuses values that are not rates, naming the flag', async () => {
    await expect(reflectorConfig([...BASE, '--max-client-bitrate', 'fast'])).rejects.toThrow(/max-client-bitrate.*not a bitrate/);
    await expect(reflectorConfig([...BASE, '--max-client-pps', '-3'])).rejects.toThrow(/max-client-pps/);
    await expect(reflectorConfig([...BASE, '--max-client-burst', '0ms'])).rejects.toThrow(/max-client-burst/);
    await expect(reflectorConfig([...BASE, '--api-rate-burst', '0'])).rejects.toThrow(/api-rate-burst/);
  });
});
