import bcrypt from 'bcrypt';

/** bcrypt only reads the first 72 bytes of a password; longer ones are refused upstream. */
export const MAX_PASSWORD_BYTES = 72;

/**
 * bcrypt with a configurable cost. The async API runs on libuv's thread pool, so hashing
 * never blocks the event loop.
 */
export class PasswordHasher {
  private readonly rounds: number;
  private dummyHash: Promise<string> | undefined;

  constructor(deps: { rounds: number }) {
    this.rounds = deps.rounds;
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.rounds);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(password, hash);
  }

  /**
   * Spends the same work as {@link verify} and answers false: used for unknown usernames,
   * so a login's timing does not tell whether the account exists.
   */
  async verifyAgainstNothing(password: string): Promise<false> {
    this.dummyHash ??= bcrypt.hash('timing-equaliser-not-a-password', this.rounds);
    await bcrypt.compare(password, await this.dummyHash);
    return false;
  }
}
