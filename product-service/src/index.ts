// product-service as a library: what a program that embeds the service needs (the bench runs it
// with a local JWT check in place of the RPC, and drives the RPC client on its own). Its whole
// public surface; `npm start` runs main.ts.
export { composeProductService, type CompositionOptions, type ProductServiceRuntime } from './composition';
export { loadConfig, type Config } from './config';
export { MIGRATIONS, MODELS } from './db/schema';
export { createServiceLogger } from './logger';
export { TokenValidationClient } from './messaging/token-validation.client';
export type { AuthenticatedUser, TokenValidator } from './services/token-validator';
