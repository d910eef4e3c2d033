import { execFileSync } from 'node:child_process';

export interface StreamResult {
  readonly status: number;
  readonly endpoint: string | null;
  /** True when the body ended with the SSE `[DONE]` marker (the stream was not cut). */
  readonly complete: boolean;
  readonly error?: string;
}

/** Opens an OpenAI chat stream through `url` and reads it to the end. `opened` resolves at response headers. */
export function chatStream(url: string, maxTokens: number, model = 'm:1'): { opened: Promise<void>; done: Promise<StreamResult> } {
  let markOpened!: () => void;
  const opened = new Promise<void>((r) => (markOpened = r));
  const done = (async (): Promise<StreamResult> => {
    try {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'go' }], max_tokens: maxTokens, stream: true }),
      });
      markOpened();
      const text = await res.text();
      return { status: res.status, endpoint: res.headers.get('x-sluice-endpoint'), complete: text.includes('data: [DONE]') };
    } catch (err) {
      markOpened();
      return { status: 0, endpoint: null, complete: false, error: (err as Error).message };
    }
  })();
  return { opened, done };
}

/** Established TCP connections to a local port (the client side, as seen by `ss`). */
export function establishedTo(port: number, address = '127.0.0.1'): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`${address}:${port}`)).length;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
