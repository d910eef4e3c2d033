export { DEFAULT_STORED_RESPONSES, StoredResponses, type ResponseDirectory, type ResponseOwner, type StoredResponsesOptions } from './stored-responses.js';
