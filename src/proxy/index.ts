export { createAdminApp, createProxyApp, type ProxyAppOptions, type ProxyRuntime } from './app.js';
export { Forwarder, type ForwarderDeps, type ProxiedRequest } from './forwarder.js';
export { stickyKeySource, type StickyKeySource } from './sticky-key.js';
export { Upstream, type UpstreamTimeouts } from './upstream.js';
export { SluiceError, type SluiceErrorCode } from './errors.js';
