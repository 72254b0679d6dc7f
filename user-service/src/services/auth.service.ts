import type { InvalidTokenReply, ValidTokenReply } from '@shop/shared-contracts';
import { type ChangeContext, type EventNotifier, UnauthorizedError } from '@shop/shared-runtime';
import type { OutboxRepository, TransactionRunner } from '@shop/shared-runtime/db';

import type { RevokedTokenRepository } from '../repositories/revoked-token.repository';
import type { UserRecord, UserRepository } from '../repositories/user.repository';
import { tokenRevokedEvent, userDeactivatedEvent, type RevokedToken } from './auth-events';
import type { PasswordHasher } from './password-hasher';
import type { TokenSubjectCache } from './token-subject-cache';
import type { IssuedToken, TokenCheck, TokenService } from './token.service';

type VerifiedToken = Extract<TokenCheck, { ok: true }>;

export interface Credentials {
  username: string;
  password: string;
}

/** The answer to "is this token good?", the same for HTTP and for the RPC responder. */
export type TokenValidation = ValidTokenReply | InvalidTokenReply;

/** Who presented a valid bearer token to one of user-service's own routes. */
export interface Caller {
  userId: number;
  username: string;
  /** The presented token's id and expiry, for revoking it. */
  jti: string;
  expiresAt: Date;
}

export interface AuthServiceDeps {
  users: UserRepository;
  revokedTokens: RevokedTokenRepository;
  /** Where `auth.token_revoked` and `user.deactivated` are recorded, in the change's transaction. */
  outbox: OutboxRepository;
  withTransaction: TransactionRunner;
  /** Told after a commit that recorded events, so they go out at once. */
  events: EventNotifier;
  passwords: PasswordHasher;
  tokens: TokenService;
  /**
   * Where validations get a token's subject (user active, token not revoked): the cache in front
   * of `users.findTokenSubject`. This service evicts from it after its own revocations and
   * deactivations; the auth-events subscriber after everyone's.
   */
  subjects: TokenSubjectCache;
}

const BAD_CREDENTIALS = 'Incorrect username or password.';

export class AuthService {
  private readonly users: UserRepository;
  private readonly revokedTokens: RevokedTokenRepository;
  private readonly outbox: OutboxRepository;
  private readonly withTransaction: TransactionRunner;
  private readonly events: EventNotifier;
  private readonly subjects: TokenSubjectCache;
  private readonly passwords: PasswordHasher;
  private readonly tokens: TokenService;

  constructor(deps: AuthServiceDeps) {
    this.users = deps.users;
    this.revokedTokens = deps.revokedTokens;
    this.outbox = deps.outbox;
    this.withTransaction = deps.withTransaction;
    this.events = deps.events;
    this.passwords = deps.passwords;
    this.tokens = deps.tokens;
    this.subjects = deps.subjects;
  }

  /** Creates an account; a name taken in any letter case is a ConflictError. */
  async register(credentials: Credentials): Promise<UserRecord> {
    const hashedPassword = await this.passwords.hash(credentials.password);
    return this.users.create({ username: credentials.username, hashedPassword });
  }

  /**
   * Exchanges a username and password for an access token. Unknown user, wrong password and
   * deactivated account get the same error after the same bcrypt work.
   */
  async login(credentials: Credentials): Promise<IssuedToken> {
    const user = await this.users.findByUsername(credentials.username);
    const passwordMatches = user
      ? await this.passwords.verify(credentials.password, user.hashedPassword)
      : await this.passwords.verifyAgainstNothing(credentials.password);
    if (!user || !passwordMatches || !user.isActive) throw new UnauthorizedError(BAD_CREDENTIALS);
    return this.tokens.issue(user);
  }

  /**
   * A token is valid when its signature and expiry check out, it has not been revoked, and its
   * user still exists and is active. Throws only when the user store is unavailable.
   */
  async validateToken(token: string): Promise<TokenValidation> {
    const check = this.tokens.verify(token);
    return check.ok ? this.validateVerified(check) : { valid: false, reason: check.reason };
  }

  /**
   * The checks after the signature: the token not revoked, its user present and active. The
   * subject comes from the token-subject cache: concurrent validations of a token share one
   * database read, and a subject that makes the token valid is reused for a few seconds, unless
   * a revocation or deactivation — this instance's own, at once, or another's, through its
   * event — evicts it first.
   */
  private async validateVerified(check: VerifiedToken): Promise<TokenValidation> {
    const subject = await this.subjects.read({ userId: check.userId, jti: check.jti, expiresAt: check.expiresAt });
    if (!subject) return { valid: false, reason: 'user_not_found' };
    if (subject.revoked) return { valid: false, reason: 'revoked' };
    if (!subject.isActive) return { valid: false, reason: 'user_inactive' };
    return { valid: true, user_id: subject.id, username: subject.username, expires_at: check.expiresAt.toISOString() };
  }

  /** The caller of a bearer-protected route of this service, or an UnauthorizedError. */
  async authenticate(token: string): Promise<Caller> {
    const check = this.tokens.verify(token);
    const validation = check.ok ? await this.validateVerified(check) : undefined;
    if (!check.ok || !validation?.valid) {
      throw new UnauthorizedError('The bearer token is not valid.', 'Bearer error="invalid_token"');
    }
    return { userId: validation.user_id, username: validation.username, jti: check.jti, expiresAt: check.expiresAt };
  }

  /** Revokes the token the caller presented (logout); it stays refused until it expires. */
  async logout(caller: Caller, context: ChangeContext): Promise<void> {
    await this.recordRevocation({ jti: caller.jti, userId: caller.userId, expiresAt: caller.expiresAt }, context);
  }

  /**
   * RFC 7009 revocation: revokes `token` when it is one of the caller's own live tokens, and
   * silently does nothing otherwise (unknown, foreign, expired or garbage), so the answer never
   * tells what the token was.
   */
  async revoke(token: string, caller: Caller, context: ChangeContext): Promise<void> {
    const check = this.tokens.verify(token);
    if (!check.ok || check.userId !== caller.userId) return;
    await this.recordRevocation({ jti: check.jti, userId: check.userId, expiresAt: check.expiresAt }, context);
  }

  /**
   * Deactivates the caller's account: every token of theirs is refused from now on. The change
   * and its `user.deactivated` event are stored together, and only by the call that made it.
   */
  async deactivate(caller: Caller, context: ChangeContext): Promise<UserRecord> {
    const { user, changed } = await this.withTransaction(async (transaction) => {
      const deactivated = await this.users.deactivate(caller.userId, { transaction });
      if (deactivated) {
        await this.outbox.add(userDeactivatedEvent(deactivated.id, context), { transaction });
        return { user: deactivated, changed: true };
      }
      // Already inactive (a concurrent call won) or gone since the token was checked.
      const current = await this.users.findById(caller.userId, { transaction });
      if (!current) throw new UnauthorizedError('The bearer token is not valid.', 'Bearer error="invalid_token"');
      return { user: current, changed: false };
    });
    // Committed: before anything is answered, no validation here may use a subject read before.
    this.subjects.evictUser(caller.userId);
    if (changed) this.events.notify();
    return user;
  }

  /**
   * Stores the revocation and its `auth.token_revoked` event in one transaction: both or
   * neither. A token revoked before records no second event. Once committed, the token's cached
   * subject goes at once, synchronously: this instance refuses the token from its next
   * validation on, without waiting for its own event to come back from the broker.
   */
  private async recordRevocation(token: RevokedToken, context: ChangeContext): Promise<void> {
    const revoked = await this.withTransaction(async (transaction) => {
      if (!(await this.revokedTokens.revoke(token, { transaction }))) return false;
      await this.outbox.add(tokenRevokedEvent(token, context), { transaction });
      return true;
    });
    // Also when it was revoked before (by another instance, whose event may not be here yet).
    this.subjects.evictToken(token.jti);
    if (revoked) this.events.notify();
  }
}
