import type { Endpoint } from '../endpoints/index.js';
import { SluiceError, type ApiFlavour } from './errors.js';
import type { ForwarderDeps } from './forwarder.js';

/**
 * A model name as an answer quotes it: no catalog name is longer than this (discovery drops
 * longer ones), so a longer one, which a client may make as long as the body limit allows, is
 * cut rather than sent back whole in the error.
 */
const SHOWN_NAME_CHARS = 256;

function shownName(model: string): string {
  return model.length <= SHOWN_NAME_CHARS ? model : `${model.slice(0, SHOWN_NAME_CHARS)}... (${model.length} characters)`;
}

export type ModelAnswersDeps = Pick<ForwarderDeps, 'config' | 'endpoints' | 'catalog' | 'retryAfterSeconds'>;

/**
 * What Sluice answers itself about models it cannot route to: a model no endpoint is known to
 * serve, and the model lists while the fleet's models are not known yet.
 */
export class ModelAnswers {
  readonly #deps: ModelAnswersDeps;

  constructor(deps: ModelAnswersDeps) {
    this.#deps = deps;
  }

  /**
   * A model no endpoint is known to serve: 404 once every endpoint has listed its models; while
   * some endpoint's models are not known (its listings failed or are pending: a server still
   * loading, one just added), 503 with Retry-After, since that endpoint may well serve it.
   */
  unknownModel(requested: string, flavour: ApiFlavour): SluiceError {
    const model = shownName(requested);
    const unlisted = this.#deps.catalog.notYetListed();
    if (unlisted.length === 0) {
      const message = flavour === 'ollama' ? `model '${model}' not found` : `The model '${model}' does not exist or is not served by any endpoint`;
      return new SluiceError('model_not_found', message);
    }
    const which = this.#which(unlisted);
    const message =
      flavour === 'ollama'
        ? `model '${model}' not known yet: ${which} have not listed their models; try again later`
        : `The model '${model}' is not served by any endpoint whose models are known, and ${which} have not listed their models yet; try again later`;
    return new SluiceError('model_lists_pending', message, { retryAfterSeconds: this.#retryAfter(unlisted) });
  }

  /**
   * The answer to a model list request (`/v1/models`, `/api/tags`) when no model is routable and
   * some endpoint has never listed its models: an empty list would say the fleet serves nothing,
   * when it is not known yet. Undefined when the list can be answered.
   */
  listsPending(flavour: ApiFlavour): SluiceError | undefined {
    const unlisted = this.#deps.catalog.notYetListed();
    if (unlisted.length === 0 || this.#deps.catalog.routableModels().length > 0) return undefined;
    const which = this.#which(unlisted);
    const message = flavour === 'ollama' ? `models not known yet: ${which} have not listed their models; try again later` : `No model is known yet: ${which} have not listed their models; try again later`;
    return new SluiceError('model_lists_pending', message, { retryAfterSeconds: this.#retryAfter(unlisted) });
  }

  /** The unified model list in the client's API shape: OpenAI's `/v1/models`, or Ollama's `/api/tags`. */
  list(flavour: ApiFlavour): object {
    const models = this.#deps.catalog.routableModels();
    if (flavour === 'ollama') return { models: models.map((e) => ({ name: e.model, model: e.model, modified_at: new Date(0).toISOString(), size: 0, digest: '', details: {} })) };
    return { object: 'list', data: models.map((e) => ({ id: e.model, object: 'model', created: 0, owned_by: 'sluice', endpoints: e.endpoints.filter((ep) => ep.routable).map((ep) => ep.name) })) };
  }

  #which(unlisted: readonly Endpoint[]): string {
    return `${unlisted.length} of ${this.#deps.endpoints.length} endpoints`;
  }

  /**
   * Seconds until an endpoint that has not listed its models is tried again: at its next passing
   * health check (a failed listing is retried then), at the latest the next discovery round.
   */
  #retryAfter(unlisted: readonly Endpoint[]): number {
    const untilDiscovery = Math.max(1, Math.ceil(this.#deps.config.discovery.interval / 1000));
    return Math.min(untilDiscovery, this.#deps.retryAfterSeconds(unlisted));
  }
}
