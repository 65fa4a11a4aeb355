import { msg } from '../message';

/** Why a DPoP request could not be made. */
export type DpopErrorCode = 'DPOP_KEY_STORAGE' | 'DPOP_UNSUPPORTED' | 'DPOP_NONCE' | 'DPOP_PROOF' | 'DPOP_NOT_BOUND';

/**
 * A DPoP request could not be made, or the server refused its proof rather than its token or grant.
 * - `DPOP_KEY_STORAGE`: the key cannot be kept; `DPOP_UNSUPPORTED`: WebCrypto is missing (not a
 *   secure context, or an old runtime). The request is not sent; nothing falls back to Bearer.
 *   `cause` is what the platform said.
 * - `DPOP_NONCE`: a server still asked for a nonce after the retry with its nonce. Nothing was
 *   refreshed; a refresh it refused keeps the session, and the next one carries the nonce learned.
 * - `DPOP_PROOF`: the token endpoint answered `invalid_dpop_proof`; the session is kept.
 * - `DPOP_NOT_BOUND`: the token endpoint answered with tokens that are not DPoP-bound (it ignored
 *   the proof); they are not used. The session is kept.
 *
 * @example
 * ```ts
 * try {
 *   await dpop.ready();
 * } catch (error) {
 *   if (error instanceof DpopError && error.code === 'DPOP_KEY_STORAGE') showPrivateWindowNotice();
 * }
 * ```
 */
export class DpopError extends Error {
  override readonly name = 'DpopError';
  /** @param dev The development text, `() => process.env.NODE_ENV !== 'production' && text`: production builds drop it. */
  constructor(
    readonly code: DpopErrorCode,
    dev: () => string | false,
    cause?: unknown,
  ) {
    super(msg(code, dev), cause === undefined ? undefined : { cause });
  }
}
