import jwt from 'jsonwebtoken';
import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { v4 as uuidv4, validate as isUuid } from 'uuid';

import { MAX_TOKEN_LENGTH, type InvalidTokenReason } from '@shop/shared-contracts';

import type { SigningAlgorithm } from '../config';

/** Seconds of clock difference between hosts tolerated on `exp`, `iat` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 5;

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface IssuedToken {
  token: string;
  /** Lifetime in seconds. */
  expiresIn: number;
}

export type TokenCheck =
  | { ok: true; userId: number; username: string; jti: string; expiresAt: Date }
  | { ok: false; reason: Extract<InvalidTokenReason, 'malformed' | 'bad_signature' | 'expired'> };

export interface TokenServiceDeps {
  /** The key new tokens are signed with (`SECRET_KEY`); it verifies too. */
  secretKey: string;
  /** Keys that only verify (`PREVIOUS_SECRET_KEYS`): tokens signed before a rotation stay valid. */
  previousSecretKeys?: readonly string[];
  algorithm: SigningAlgorithm;
  /** Lifetime of issued tokens, in seconds. */
  ttlSeconds: number;
  issuer: string;
  audience: string;
}

/** Hex digits of a key's SHA-256 kept as its `kid`: 64 bits, so two keys never share one in practice. */
const KID_LENGTH = 16;

/**
 * The `kid` naming `secret`: the first {@link KID_LENGTH} hex digits of its SHA-256, so every
 * replica derives the same id without configuration. It tells nothing a token's own signature
 * does not already: whoever could guess the key can check a guess against either.
 */
export function keyIdOf(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, KID_LENGTH);
}

/**
 * Issues and checks access tokens. Tokens carry a `kid` header naming the key that signed them:
 * `SECRET_KEY` signs, and it and `PREVIOUS_SECRET_KEYS` verify, so replicas move to a new key one
 * at a time without refusing a valid token; a `kid` naming no key held here is a bad signature.
 * Each secret becomes a KeyObject once: jsonwebtoken given a string re-imports it on every call,
 * which costs ~40× more per verify (measured).
 */
export class TokenService {
  private readonly key: KeyObject;
  /** The `kid` of {@link key}, in every token issued. */
  readonly keyId: string;
  /** Every key that verifies, by `kid`: the signing key and the previous ones. */
  private readonly verificationKeys: ReadonlyMap<string, KeyObject>;
  private readonly algorithm: SigningAlgorithm;
  private readonly ttlSeconds: number;
  private readonly issuer: string;
  private readonly audience: string;

  constructor(deps: TokenServiceDeps) {
    this.key = createSecretKey(Buffer.from(deps.secretKey, 'utf8'));
    this.keyId = keyIdOf(deps.secretKey);
    const previous = (deps.previousSecretKeys ?? []).map(
      (secret) => [keyIdOf(secret), createSecretKey(Buffer.from(secret, 'utf8'))] as const,
    );
    // The signing key last: it wins should a previous key repeat it.
    this.verificationKeys = new Map([...previous, [this.keyId, this.key]]);
    this.algorithm = deps.algorithm;
    this.ttlSeconds = deps.ttlSeconds;
    this.issuer = deps.issuer;
    this.audience = deps.audience;
  }

  issue(user: { id: number; username: string }): IssuedToken {
    const token = jwt.sign({ username: user.username }, this.key, {
      algorithm: this.algorithm,
      expiresIn: this.ttlSeconds,
      subject: String(user.id),
      jwtid: uuidv4(),
      issuer: this.issuer,
      audience: this.audience,
      keyid: this.keyId,
    });
    return { token, expiresIn: this.ttlSeconds };
  }

  /** Checks signature, algorithm, expiry, issuer, audience and the claims we rely on. */
  verify(token: string): TokenCheck {
    if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) return { ok: false, reason: 'malformed' };

    const key = this.keyFor(token);
    if (key === 'malformed' || key === 'unknown')
      return { ok: false, reason: key === 'unknown' ? 'bad_signature' : key };
    const now = Math.floor(Date.now() / 1000);
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, key, {
        // Pinned: a token may not choose its own algorithm ("none", or HS512 with our key).
        algorithms: [this.algorithm],
        issuer: this.issuer,
        audience: this.audience,
        // Also applies to `nbf`: a token not yet valid (beyond the tolerance) is refused.
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        clockTimestamp: now,
      });
    } catch (error) {
      return { ok: false, reason: reasonFor(error) };
    }

    if (typeof payload === 'string') return { ok: false, reason: 'malformed' };
    const { sub, username, jti, iat, exp } = payload;
    const userId = Number(sub);
    if (
      typeof sub !== 'string' ||
      !/^[1-9][0-9]{0,9}$/.test(sub) ||
      !Number.isSafeInteger(userId) ||
      typeof username !== 'string' ||
      typeof jti !== 'string' ||
      !isUuid(jti) ||
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      // Issued in the future: not a token we made (our clocks agree within the tolerance).
      iat > now + CLOCK_TOLERANCE_SECONDS
    ) {
      return { ok: false, reason: 'malformed' };
    }
    return { ok: true, userId, username, jti, expiresAt: new Date(exp * 1000) };
  }

  /**
   * The key its `kid` names; `unknown` when it names none held here (dropped after a rotation,
   * or never ours). A token without `kid` predates key ids: the signing key is tried, as before.
   */
  private keyFor(token: string): KeyObject | 'malformed' | 'unknown' {
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
    } catch {
      return 'malformed';
    }
    if (typeof header !== 'object' || header === null) return 'malformed';
    const { kid } = header as { kid?: unknown };
    if (kid === undefined) return this.key;
    if (typeof kid !== 'string') return 'malformed';
    return this.verificationKeys.get(kid) ?? 'unknown';
  }
}

function reasonFor(error: unknown): 'malformed' | 'bad_signature' | 'expired' {
  if (error instanceof jwt.TokenExpiredError) return 'expired';
  if (error instanceof jwt.JsonWebTokenError) {
    const signatureProblems = ['invalid signature', 'invalid algorithm', 'jwt signature is required'];
    return signatureProblems.includes(error.message) ? 'bad_signature' : 'malformed';
  }
  return 'malformed';
}
