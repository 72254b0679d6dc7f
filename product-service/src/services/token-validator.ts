/** The user a bearer token belongs to, as user-service vouched for it. */
export interface AuthenticatedUser {
  userId: number;
  username: string;
  /** When the token stops being valid. */
  expiresAt: Date;
}

/**
 * Asks whoever owns the tokens whether one is good. The RabbitMQ RPC client is the real one;
 * tests pass fakes.
 *
 * `validate` resolves with the token's user, or rejects with an UnauthorizedError (the token
 * was refused) or a ServiceUnavailableError (nobody could say in time). It never hangs longer
 * than the implementation's timeout.
 */
export interface TokenValidator {
  validate(token: string, context: { requestId: string }): Promise<AuthenticatedUser>;
}
