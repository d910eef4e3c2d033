export { createAdminApp, createProxyApp, type ProxyAppOptions, type ProxyRuntime, type RequestGate } from './app.js';
export { BodyBudget } from './body-budget.js';
export { Forwarder, type ForwarderDeps, type ProxiedRequest } from './forwarder.js';
export { clientBehindTrustedProxies, stickyKeySource, type StickyKeySource } from './sticky-key.js';
export { trustedList } from './trusted-proxies.js';
export { Upstream, type UpstreamTimeouts } from './upstream.js';
export { sendError, SluiceError, type SluiceErrorCode } from './errors.js';
export { CHARS_PER_TOKEN } from './prompt-blocks.js';
export { adminClientError, socketRefusals } from './unparsed.js';
