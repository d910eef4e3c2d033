import client from 'prom-client';

let registry: client.Registry | undefined;

/** prom-client's process and Node.js metrics for the server's `/metrics`, registered on first scrape. */
export async function processMetrics(): Promise<{ contentType: string; body: string }> {
  if (!registry) {
    registry = new client.Registry();
    client.collectDefaultMetrics({ register: registry });
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}
