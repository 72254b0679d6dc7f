// `@shop/shared-runtime/http`: the Express app and middleware every service runs. Its whole public surface.
export {
  bearerIdentityOf,
  bearerTokenOf,
  requireBearer,
  type BearerAuthenticator,
  type BearerIdentity,
} from './bearer-auth';
export { formBody, jsonBody, requireContentType } from './body-parsing';
export { cors, type CorsOptions } from './cors';
export { errorHandler, notFoundHandler, sendProblem } from './error-handler';
export { createHttpApp, type HttpAppOptions } from './http-app';
export { closeServer, listen } from './http-server';
export { changeContextOf, loggableUrl, requestContext, requestIdOf } from './request-context';
export { parse, parseParamsAndBody, type RequestPart } from './validation';
