import { describe, expect, it } from 'vitest';
import { telemetryShare } from '../../bench/proxy/attribution.mjs';

const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url, scriptId: '0', lineNumber: 0, columnNumber: 0 }, children });

/**
 * A request handler that calls Sluice's access log (which calls a native write), OpenTelemetry's
 * tracer and an unrelated function; plus idle and GC samples.
 */
const profile = {
  nodes: [
    frame(1, '(root)', '', [2, 8, 9]),
    frame(2, 'handle', 'file:///app/dist/proxy/forwarder.js', [3, 5, 7]),
    frame(3, 'write', 'file:///app/dist/telemetry/access-log.js', [4]),
    frame(4, 'writeBuffer', ''),
    frame(5, 'startSpan', 'file:///app/node_modules/@opentelemetry/sdk-trace/build/src/Tracer.js', [6]),
    frame(6, 'encode', 'file:///app/node_modules/protobufjs/src/writer.js'),
    frame(7, 'observe', 'file:///app/dist/telemetry/metrics.js'),
    frame(8, '(idle)', ''),
    frame(9, '(garbage collector)', ''),
  ],
  // One sample every 1,000 µs: 2 s of the handler's own code, then telemetry and the rest.
  samples: [2, 2, 3, 4, 5, 6, 7, 8, 8, 9, 2, 4],
  timeDeltas: Array.from({ length: 12 }, () => 1000),
};

describe('telemetry share of a CPU profile', () => {
  it('counts a busy sample as telemetry when any frame of its stack is telemetry code, and leaves idle out', () => {
    const all = telemetryShare(profile);
    // Busy: 10 samples (not the two idle ones); telemetry: access log, its native write, tracer, protobuf, and the last write.
    expect(all.busyUs).toBe(10_000);
    expect(all.telemetryUs).toBe(5_000);
    expect(all.share).toBeCloseTo(0.5);
  });

  it('reads only the window asked for', () => {
    // Samples at 1, 2, ... 12 ms; 2.5 to 6.5 ms holds samples 3 to 6: all telemetry.
    expect(telemetryShare(profile, { fromS: 0.0025, toS: 0.0065 })).toEqual({ busyUs: 4000, telemetryUs: 4000, share: 1 });
    expect(telemetryShare(profile, { fromS: 1 }).share).toBeNull();
  });
});
