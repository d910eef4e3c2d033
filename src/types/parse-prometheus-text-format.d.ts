// The package ships no types; this is the part of its output Sluice reads (gauges and counters).
declare module 'parse-prometheus-text-format' {
  export interface ParsedSample {
    readonly value?: string;
    readonly labels?: Readonly<Record<string, string>>;
  }
  export interface ParsedFamily {
    readonly name: string;
    readonly help: string;
    readonly type: string; // GAUGE, COUNTER, HISTOGRAM, SUMMARY, UNTYPED
    readonly metrics: readonly ParsedSample[];
  }
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
