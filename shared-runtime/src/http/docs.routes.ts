import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';

/** `GET /openapi.json` and the Swagger UI at `GET /docs`, titled `<service> API`. */
export function createDocsRouter(document: object, service: string): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  router.use('/docs', swaggerUi.serve);
  router.get('/docs', swaggerUi.setup(document, { customSiteTitle: `${service} API` }));
  return router;
}
