export { ownerDirectory, OWNER_LOOKUPS, type DirectoryParts, type OwnerLookup, type SharedOwnerStore } from './directory.js';
export { RedisOwners } from './redis-owners.js';
export { DEFAULT_STORED_RESPONSES, StoredResponses, type ResponseDirectory, type ResponseOwner, type StoredResponsesOptions } from './stored-responses.js';
