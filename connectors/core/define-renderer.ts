/**
 * The frame every Kubernetes-object connector shares, so that a connector file holds only
 * what is its own: its checks and its drafts. validate() and render() run the same check,
 * so a request that validates renders, and render() refuses (with the same problems) a
 * request that does not; every rendered object is held to the size budget.
 */
import {
  MAX_OBJECT_BYTES,
  assertWithinBudget,
  invalidRequest,
  manifestBytes,
  synthesize,
  type ObjectDraft,
  type RendererLimits,
} from './render.js';
import type { Manifest, Renderer } from './types.js';
import type { ActionRequest } from '../../crds/index.js';

/** Room kept for metadata (names, labels, annotations) when the size of a body is estimated. */
export const METADATA_ALLOWANCE = 4096;

/** What a connector's check found: the problems, and what it worked out on the way. */
export interface CheckedRequest {
  problems: string[];
}

/** A connector's own parts; the frame supplies validate() and render(). */
export interface RendererParts<C extends CheckedRequest> {
  info: Omit<Renderer, 'validate' | 'render'>;
  /** Every problem of the request; `renderer` is the one being defined, for checkRequest(). */
  check(renderer: Renderer, request: ActionRequest, maxObjectBytes: number): C;
  /** The objects of a valid request; none removes whatever the action had rendered. */
  drafts(request: ActionRequest, checked: C, maxObjectBytes: number): ObjectDraft[];
}

export function defineRenderer<C extends CheckedRequest>(
  parts: RendererParts<C>,
  limits: RendererLimits = {},
): Renderer {
  const maxObjectBytes = limits.maxObjectBytes ?? MAX_OBJECT_BYTES;
  const check = (request: ActionRequest) => parts.check(renderer, request, maxObjectBytes);
  const renderer: Renderer = {
    ...parts.info,
    validate: (request) => check(request).problems,
    render(request): Manifest[] {
      const checked = check(request);
      if (checked.problems.length > 0)
        throw invalidRequest(renderer.id, request.name, checked.problems);
      const drafts = parts.drafts(request, checked, maxObjectBytes);
      if (drafts.length === 0) return [];
      const manifests = synthesize(request, drafts);
      for (const manifest of manifests) assertWithinBudget(manifest, maxObjectBytes);
      return manifests;
    },
  };
  return renderer;
}

/** How a connector names what would be too large, and what the author can do about it. */
export interface OversizeText {
  /** The object, as in "the zone file". */
  subject: string;
  /** What the size grows with, as in "12 domains". */
  counted: string;
  advice: string;
}

/**
 * The problem to report when `body`, with room for metadata, would pass the budget of one
 * object: for connectors that cannot shard, so that validate() refuses the list.
 */
export function oversizeProblems(
  body: Record<string, unknown>,
  maxObjectBytes: number,
  text: OversizeText,
): string[] {
  const bytes = manifestBytes(body) + METADATA_ALLOWANCE;
  if (bytes <= maxObjectBytes) return [];
  return [
    `${text.subject} would be about ${Math.ceil(bytes / 1024)} KiB for ${text.counted}, over the ${Math.floor(maxObjectBytes / 1024)} KiB budget of one object; ${text.advice}`,
  ];
}
