export { ModelCatalog, NO_MODEL_LABEL, UNKNOWN_MODEL_LABEL, type CatalogEntry } from './catalog.js';
export { ModelDiscovery, type DiscoveryOptions } from './discovery.js';
export { DiscoveryError, listModels, parseModelList, type ModelListerTarget } from './model-lister.js';
