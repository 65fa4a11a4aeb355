import { typeError } from './message';

/**
 * @internal Returns `check(ok, option, expected)`, which throws the `TypeError` (code
 * `INVALID_OPTION`) that names the option and says what it must be:
 * `oauth2RefreshGrant: option "clientId" must be a non-empty string.` Shared by the core, the
 * adapters and the epics, so every misuse reads the same way. `expected` is
 * `() => process.env.NODE_ENV !== 'production' && 'a non-empty string'`, so that production builds
 * drop the text and keep `oauth2RefreshGrant: option "clientId"` (src/message.ts).
 */
export function optionChecker(owner: string): (ok: boolean, option: string, expected: () => string | false) => void {
  return (ok, option, expected) => {
    const which = `${owner}: option "${option}"`;
    if (!ok) {
      throw typeError(
        'INVALID_OPTION',
        () => {
          const text = expected();
          return text && `${which} must be ${text}.`;
        },
        which,
      );
    }
  };
}

/** @internal A number of milliseconds: finite and not negative. */
export function isDuration(value: unknown): value is number {
  return Number.isFinite(value) && (value as number) >= 0; // Number.isFinite is false for what is not a number
}
