import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { sampledTraceId, traceIds } from '../../../src/telemetry/index.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

function contextWith(traceFlags: number) {
  return trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags }));
}

describe('trace ids of a request context', () => {
  it('log lines get the ids of any valid trace, sampled or not', () => {
    expect(traceIds(contextWith(TraceFlags.SAMPLED))).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID });
    expect(traceIds(contextWith(TraceFlags.NONE))).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID });
    expect(traceIds(ROOT_CONTEXT)).toEqual({});
  });

  it('an exemplar gets a trace id only when that trace is sampled (one that was never exported cannot be looked up)', () => {
    expect(sampledTraceId(contextWith(TraceFlags.SAMPLED))).toBe(TRACE_ID);
    expect(sampledTraceId(contextWith(TraceFlags.NONE))).toBeUndefined();
    expect(sampledTraceId(ROOT_CONTEXT)).toBeUndefined();
    expect(sampledTraceId(trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED })))).toBeUndefined();
  });
});
