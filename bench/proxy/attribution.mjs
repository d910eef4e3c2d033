// The share of a process's CPU that went to telemetry, read from a V8 CPU profile (`node
// --cpu-prof`) of that one process: an answer that does not depend on how two processes started
// alike happen to differ, which the telemetry section's process-to-process comparison does.

/** Code that is telemetry: OpenTelemetry's packages, the protobuf encoder, and Sluice's tracing and access-log files. */
const TELEMETRY_CODE = [/\/node_modules\/@opentelemetry\//, /\/node_modules\/protobufjs\//, /\/dist\/telemetry\/(access-log|server-span|tracing|sync-context)\.js$/];

const IDLE = '(idle)';

/**
 * Of the profile's busy samples between `fromS` and `toS` seconds after its start, the share
 * spent in telemetry code or in anything it called (a sample counts when any frame of its stack
 * is telemetry code). Garbage collection has no stack and counts as not telemetry, so the share
 * leaves out the collections that telemetry's allocations cause: it is a lower bound.
 */
export function telemetryShare(profile, { fromS = 0, toS = Infinity } = {}) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const isTelemetry = new Map();
  const telemetryStack = (id) => {
    if (id === undefined) return false;
    let known = isTelemetry.get(id);
    if (known === undefined) {
      const url = nodes.get(id).callFrame.url;
      known = TELEMETRY_CODE.some((re) => re.test(url)) || telemetryStack(parent.get(id));
      isTelemetry.set(id, known);
    }
    return known;
  };
  let t = 0;
  let busyUs = 0;
  let telemetryUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromS * 1e6 || t > toS * 1e6) continue;
    const id = profile.samples[i];
    if (nodes.get(id).callFrame.functionName === IDLE) continue;
    busyUs += dt;
    if (telemetryStack(id)) telemetryUs += dt;
  }
  return { busyUs, telemetryUs, share: busyUs > 0 ? telemetryUs / busyUs : null };
}
