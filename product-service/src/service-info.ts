import packageJson from '../package.json';

import { SERVICE_NAMES } from '@shop/shared-contracts';

/** Name in logs, health, AMQP `appId` and the RabbitMQ connection name. */
export const SERVICE_NAME = SERVICE_NAMES.product;
export const SERVICE_VERSION: string = packageJson.version;
