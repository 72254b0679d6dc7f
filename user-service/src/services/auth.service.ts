import type { InvalidTokenReply, ValidTokenReply } from '@shop/shared-contracts';

import { UnauthorizedError } from '../errors';
import type { UserRecord, UserRepository } from '../repositories/user.repository';
import type { PasswordHasher } from './password-hasher';
import type { IssuedToken, TokenService } from './token.service';

export interface Credentials {
  username: string;
  password: string;
}

/** The answer to "is this token good?", the same for HTTP and for the RPC responder. */
export type TokenValidation = ValidTokenReply | InvalidTokenReply;

export interface AuthServiceDeps {
  users: UserRepository;
  passwords: PasswordHasher;
  tokens: TokenService;
}

const BAD_CREDENTIALS = 'Incorrect username or password.';

export class AuthService {
  private readonly users: UserRepository;
  private readonly passwords: PasswordHasher;
  private readonly tokens: TokenService;

  constructor(deps: AuthServiceDeps) {
    this.users = deps.users;
    this.passwords = deps.passwords;
    this.tokens = deps.tokens;
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
   * A token is valid when its signature and expiry check out and its user still exists and
   * is active. Throws only when the user store is unavailable.
   */
  async validateToken(token: string): Promise<TokenValidation> {
    const check = this.tokens.verify(token);
    if (!check.ok) return { valid: false, reason: check.reason };

    const user = await this.users.findStatusById(check.userId);
    if (!user) return { valid: false, reason: 'user_not_found' };
    if (!user.isActive) return { valid: false, reason: 'user_inactive' };
    return { valid: true, user_id: user.id, username: user.username, expires_at: check.expiresAt.toISOString() };
  }
}
