import { msg } from '../message';

/** Why a DPoP request could not be made. */
export type DpopErrorCode = 'DPOP_KEY_STORAGE' | 'DPOP_UNSUPPORTED' | 'DPOP_URL_CHANGED' | 'DPOP_NONCE' | 'DPOP_PROOF';

/**
 * A DPoP proof could not be made: the key cannot be kept (`DPOP_KEY_STORAGE`), WebCrypto is missing
 * (`DPOP_UNSUPPORTED`: not a secure context, or an old runtime), or an axios interceptor moved the
 * request after its proof was signed (`DPOP_URL_CHANGED`). The request is not sent; nothing falls
 * back to Bearer. `cause` is what the platform said. `DPOP_NONCE`: the token endpoint still asked
 * for a nonce after the retry with its nonce; `cause` is its `OAuth2Error`. That refused the proof,
 * not the refresh token: the session is kept, and the next refresh carries the nonce learned.
 * `DPOP_PROOF`: the token endpoint answered `invalid_dpop_proof`; the session is kept too.
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
