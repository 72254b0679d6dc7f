// `@shop/shared-runtime/http`: the Express app and middleware every service runs. Its whole public surface.
export {
  bearerAuth,
  bearerTokenOf,
  type BearerAuth,
  type BearerAuthenticator,
  type BearerIdentity,
} from './bearer-auth';
export { formBody, jsonBody, requireContentType } from './body-parsing';
export {
  conditionHeader,
  matchesStrongly,
  matchesWeakly,
  parseEntityTagCondition,
  strongEntityTag,
  type EntityTag,
  type EntityTagCondition,
} from './entity-tags';
export { cors, type CorsOptions } from './cors';
export { errorHandler, notFoundHandler } from './error-handler';
export { createHttpApp, type HttpAppOptions } from './http-app';
export { closeServer, listen } from './http-server';
export {
  BEARER_TOKEN_REQUIRED,
  OAUTH2_PASSWORD_SCHEME,
  PUBLIC,
  REQUEST_ID_HEADER_COMPONENT,
  REQUEST_ID_RESPONSE_HEADER,
  RETRY_AFTER_RESPONSE_HEADER,
  documentHead,
  jsonRequestBody,
  jsonResponse,
  oauth2PasswordScheme,
  operationsPaths,
  problemResponse,
} from './openapi-parts';
export {
  DEFAULT_SAMPLE_INTERVAL_MS,
  LoadShedder,
  eventLoopDelayOf,
  isOperationsPath,
  loadShedding,
  shedReason,
  startLoadShedder,
  type Load,
  type LoadLimits,
  type LoadShedderOptions,
  type ShedReason,
} from './load-shedding';
export { changeContextOf, requestContext } from './request-context';
export { parse, parseParamsAndBody, type RequestPart } from './validation';
