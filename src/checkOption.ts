/**
 * @internal Returns `check(ok, option, expected)`, which throws the `TypeError` that names the
 * option and says what it must be: `oauth2RefreshGrant: option "clientId" must be a non-empty string.`
 * Shared by the core, the adapters and the epics, so every misuse reads the same way.
 */
export function optionChecker(owner: string): (ok: boolean, option: string, expected: string) => void {
  return (ok, option, expected) => {
    if (!ok) throw new TypeError(`${owner}: option "${option}" must be ${expected}.`);
  };
}

/** @internal A number of milliseconds: finite and not negative. */
export function isDuration(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
