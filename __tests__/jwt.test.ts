import fc from 'fast-check';
import { jwtDecode } from 'jwt-decode';
import { jwtClaims } from '../src/jwt';
import { expiryOf, subjectOf } from '../src/tokens';

/**
 * Issue 17.4: src/jwt.ts replaced the jwt-decode dependency. jwt-decode stays a devDependency for
 * this test only: every edge case is decoded by both, and they must agree (jwt-decode's answer
 * counted as "no claims" when it throws or when the payload is not an object).
 */
const theirs = (token: string): unknown => {
  try {
    const claims: unknown = jwtDecode(token);
    return typeof claims === 'object' && claims !== null ? claims : undefined;
  } catch {
    return undefined;
  }
};

const HEADER = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
/** A JWT whose payload is `bytes`, base64url without padding unless `padded`. */
const jwtOf = (payload: string | Buffer, { padded = false, alphabet = 'url' }: { padded?: boolean; alphabet?: 'url' | 'plain' } = {}) => {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  let part = bytes.toString(alphabet === 'url' ? 'base64url' : 'base64');
  if (alphabet === 'url' && padded) part += '='.repeat((4 - (part.length % 4)) % 4);
  if (alphabet === 'plain' && !padded) part = part.replace(/=+$/, '');
  return `${HEADER}.${part}.signature`;
};

const agree = (token: string) => {
  expect(jwtClaims(token)).toEqual(theirs(token));
  return jwtClaims(token);
};

describe('jwtClaims decodes what jwt-decode decodes', () => {
  test.each([
    ['length % 4 === 0', '{"sub":"ab"}'],
    ['length % 4 === 2', '{"sub":"abc"}'],
    ['length % 4 === 3', '{"sub":"a"}'],
  ])('padding: %s, with and without "="', (_, json) => {
    for (const padded of [false, true]) expect(agree(jwtOf(json, { padded }))).toEqual(JSON.parse(json));
  });

  test('the URL alphabet (- and _), and the plain one (+ and /) too', () => {
    // "?>?" encodes to "Pz4/" in plain base64 and "Pz4_" in base64url; "~~~" to "fn5+" and "fn5-".
    const json = '{"sub":"?>?~~~>>>"}';
    const url = jwtOf(json);
    expect(url.split('.')[1]).toMatch(/[-_]/);
    expect(agree(url)).toEqual({ sub: '?>?~~~>>>' });
    const plain = jwtOf(json, { alphabet: 'plain', padded: true });
    expect(plain.split('.')[1]).toMatch(/[+/]/);
    expect(agree(plain)).toEqual({ sub: '?>?~~~>>>' });
  });

  test('UTF-8 claims: accents, CJK, emoji, and a % that is not an escape', () => {
    const claims = { sub: 'Zoë Ångström', name: '日本語の名前', mood: '😀🔑', odd: '100% %E9 %zz', exp: 2_000_000_000 };
    expect(agree(jwtOf(JSON.stringify(claims)))).toEqual(claims);
  });

  test('bytes that are not UTF-8 read as Latin-1, so the numeric claims still count', () => {
    const bytes = Buffer.concat([Buffer.from('{"sub":"'), Buffer.from([0xe9, 0xff]), Buffer.from('","exp":2000000000}')]);
    expect(agree(jwtOf(bytes))).toEqual({ sub: 'éÿ', exp: 2_000_000_000 });
  });

  test.each([
    ['an opaque token', 'opaque-access-token'],
    ['the empty string', ''],
    ['a trailing dot only', 'header.'],
    ['characters outside base64', `${HEADER}.!!!.sig`],
    ['a base64 length of 4n + 1', `${HEADER}.abcde.sig`],
    ['a payload that is not JSON', jwtOf('not json')],
    ['truncated JSON', jwtOf('{"exp":1')],
    ['a payload of null', jwtOf('null')],
    ['a number', jwtOf('42')],
    ['a string', jwtOf('"exp"')],
  ])('garbage: %s has no claims', (_, token) => {
    expect(agree(token)).toBeUndefined();
  });

  test('an array payload is an object to both (and has no exp or sub)', () => {
    expect(agree(jwtOf('[1,2]'))).toEqual([1, 2]);
    expect(expiryOf({ accessToken: jwtOf('[1,2]') }, 0)).toBeUndefined();
  });

  test('any JSON object, any encoding: the same claims as jwt-decode', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue()),
        fc.boolean(),
        fc.constantFrom<'url' | 'plain'>('url', 'plain'),
        (claims, padded, alphabet) => {
          const token = jwtOf(JSON.stringify(claims), { padded, alphabet });
          expect(jwtClaims(token)).toEqual(theirs(token));
          expect(jwtClaims(token)).toEqual(JSON.parse(JSON.stringify(claims)));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('any string at all: never throws, and agrees with jwt-decode', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        for (const token of [a, `${a}.${b}`, `${HEADER}.${Buffer.from(a, 'latin1').toString('base64url')}.${b}`]) {
          expect(jwtClaims(token)).toEqual(theirs(token));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('where the claims are used', () => {
  test('a payload of null is an opaque token (jwt-decode made expiryOf throw a TypeError here)', () => {
    expect(expiryOf({ accessToken: jwtOf('null') }, 0)).toBeUndefined();
    expect(subjectOf(jwtOf('null'))).toBeUndefined();
  });

  test('sub of a UTF-8 token', () => {
    expect(subjectOf(jwtOf('{"sub":"Zoë"}'))).toBe('Zoë');
  });
});
