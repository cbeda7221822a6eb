/**
 * A recording IdentityHttp for the contract tests of providers that have no server to
 * test against (Okta, Microsoft Graph). It is not a fake provider: it has no state. Each
 * call is recorded, checked against the published description (request-contract.ts),
 * and answered with what the test supplies; a 2xx answer's body is checked against the
 * response schema of the operation the call matched (response-contract.ts). Problems
 * with either are collected in `problems`, which every test asserts empty, so a
 * provider is never exercised with a request or an answer the real API would not take
 * or send.
 *
 * A status other than 2xx that the call did not list in `accept` throws, as the real
 * client (connectors/identity/http.ts) does.
 */
import type { HttpAnswer, HttpCall, IdentityHttp } from '../../connectors/identity/types.js';
import {
  contractFor,
  type ContractOptions,
  type ContractRequest,
  type OpenApiDescription,
} from './request-contract.js';
import { checkResponse } from './response-contract.js';

export interface CannedAnswer {
  /** Default 200. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * The answer function of recordingHttp from a table keyed `METHOD path` (the HttpCall's
 * path, below the API base); a call the table does not name is a test error.
 */
export function answers(
  table: Record<string, CannedAnswer | ((call: HttpCall) => CannedAnswer)>,
): (call: HttpCall) => CannedAnswer {
  return (call) => {
    const entry = table[`${call.method} ${call.path}`];
    if (entry === undefined) throw new Error(`unexpected call ${call.method} ${call.path}`);
    return typeof entry === 'function' ? entry(call) : entry;
  };
}

export interface Recorded {
  call: HttpCall;
  accept: readonly number[];
  /** The operation the call matched, if any. */
  operationId?: string;
}

export interface ProviderDescription {
  doc: OpenApiDescription;
  options?: ContractOptions;
  /** The request as the description sees it (HttpCall paths are below the API base). */
  toRequest(call: HttpCall): ContractRequest;
  /** Check 2xx bodies with `required` relaxed (OData $select answers carry only the selected fields). */
  partialResponses?: boolean;
}

export interface RecordingHttp extends IdentityHttp {
  readonly calls: Recorded[];
  readonly problems: string[];
}

export function recordingHttp(
  description: ProviderDescription,
  answer: (call: HttpCall) => CannedAnswer,
): RecordingHttp {
  const calls: Recorded[] = [];
  const problems: string[] = [];
  const contract = contractFor(description.doc, description.options);
  return {
    calls,
    problems,
    async send<T>(
      call: HttpCall,
      options: { accept?: readonly number[] } = {},
    ): Promise<HttpAnswer<T>> {
      const inspection = contract.inspect(description.toRequest(call));
      problems.push(...inspection.problems);
      calls.push({ call, accept: options.accept ?? [], operationId: inspection.operationId });
      const canned = answer(call);
      const status = canned.status ?? 200;
      if (status >= 200 && status < 300 && inspection.template !== undefined) {
        problems.push(
          ...checkResponse(
            description.doc,
            { method: call.method, template: inspection.template, status },
            canned.body,
            { partial: description.partialResponses },
          ),
        );
      }
      if ((status < 200 || status >= 300) && !(options.accept ?? []).includes(status)) {
        throw new Error(`${call.method} ${call.path}: HTTP ${status} (not accepted by the caller)`);
      }
      return { status, body: canned.body as T, headers: new Headers(canned.headers ?? {}) };
    },
  };
}
