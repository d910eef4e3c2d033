export { ModelCatalog, type CatalogEntry } from './catalog.js';
export { ModelDiscovery, type DiscoveryOptions } from './discovery.js';
export { DiscoveryError, listModels, parseModelList, type ModelListerTarget } from './model-lister.js';
