import type { PublicUser } from '@shop/shared-contracts';

import type { UserRecord } from '../repositories/user.repository';

/** The public face of a user: never the password hash. */
export function toPublicUser(user: UserRecord): PublicUser {
  return {
    id: user.id,
    username: user.username,
    is_active: user.isActive,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}
