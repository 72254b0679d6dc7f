import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { v4 as uuidv4 } from 'uuid';

import type { AccessTokenResponse, PublicUser } from '@shop/shared-contracts';

import { TEST_SECRET_KEY } from './user-service';

/** A username no other test has used: every test makes its own users. */
export function uniqueUsername(prefix = 'user'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export interface TestUser {
  id: number;
  username: string;
  password: string;
}

export async function registerUser(
  baseUrl: string,
  overrides: Partial<{ username: string; password: string }> = {},
): Promise<TestUser> {
  const credentials = { username: uniqueUsername(), password: 'correct-horse-battery', ...overrides };
  const response = await postJson(baseUrl, '/register', credentials);
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${await response.text()}`);
  const user = (await response.json()) as PublicUser;
  return { id: user.id, ...credentials };
}

export async function loginToken(baseUrl: string, user: Pick<TestUser, 'username' | 'password'>): Promise<string> {
  const response = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: user.username, password: user.password }),
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as AccessTokenResponse).access_token;
}

export function postJson(baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/**
 * A token shaped like ours, with any claim, key or algorithm overridden — for expired,
 * forged and odd tokens. Defaults match what the test service issues.
 */
export function forgeToken(
  options: {
    sub?: string | number;
    username?: string;
    secret?: string;
    algorithm?: jwt.Algorithm;
    expiresInSeconds?: number;
    claims?: Record<string, unknown>;
  } = {},
): string {
  const payload = {
    sub: String(options.sub ?? 1),
    username: options.username ?? 'someone',
    jti: uuidv4(),
    iss: 'user-service',
    aud: 'shop',
    ...options.claims,
  };
  return jwt.sign(payload, options.secret ?? TEST_SECRET_KEY, {
    algorithm: options.algorithm ?? 'HS256',
    expiresIn: options.expiresInSeconds ?? 600,
  });
}

/** An unsigned token (`alg: none`), as an attacker would send it. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iat: now, exp: now + 600, jti: uuidv4(), iss: 'user-service', aud: 'shop', ...claims })}.`;
}
