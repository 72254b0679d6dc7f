import { Router, type Request, type Response } from 'express';

import {
  changeContextOf,
  conditionHeader,
  matchesWeakly,
  parse,
  parseParamsAndBody,
  requireContentType,
  type BearerAuth,
} from '@shop/shared-runtime/http';

import type { ProductService } from '../services/product.service';
import type { AuthenticatedUser } from '../services/token-validator';
import { bodyFingerprint, idempotencyKeyOf } from './idempotency';
import {
  createdResponse,
  expectedVersionsOf,
  productEtag,
  toNewProduct,
  toProductChanges,
  toPublicProduct,
} from './products.presenter';
import {
  createProductBodySchema,
  listProductsQuerySchema,
  plainlyValidProductBody,
  productIdParamsSchema,
  updateProductBodySchema,
} from './products.schemas';

export interface ProductsRouterDeps {
  productService: ProductService;
  /** Guards the writes; reads are public and never touch the broker. */
  auth: BearerAuth<AuthenticatedUser>;
}

export function createProductsRouter(deps: ProductsRouterDeps): Router {
  const { productService, auth } = deps;
  const { requireAuth } = auth;
  const authenticatedUser = (res: Response) => auth.identityOf(res);
  const router = Router();
  const json = requireContentType('application/json');

  router.get('/products', async (req, res) => {
    const { skip, limit } = parse(listProductsQuerySchema, req.query, 'query');
    const page = await productService.list({ skip, limit });
    res.set('X-Total-Count', String(page.total)).json(page.items.map(toPublicProduct));
  });

  // If-None-Match compares weakly (W/"3" matches "3"): a match is a 304 with the ETag and no body.
  router.get('/products/:id', async (req, res) => {
    const { id } = parse(productIdParamsSchema, req.params, 'params');
    const ifNoneMatch = conditionHeader(req.headers, 'if-none-match');
    const product = await productService.get(id);
    res.set('ETag', productEtag(product.version));
    if (ifNoneMatch && matchesWeakly(ifNoneMatch, String(product.version))) {
      res.status(304).end();
      return;
    }
    res.json(toPublicProduct(product));
  });

  router.post('/products', requireAuth, json, async (req, res) => {
    const { userId } = authenticatedUser(res);
    const key = idempotencyKeyOf(req);
    const body = plainlyValidProductBody(req.body) ?? parse(createProductBodySchema, req.body, 'body');
    if (key === undefined) {
      // No key: the one-statement create, as fast as before keys existed.
      const product = await productService.create(toNewProduct(body), userId, changeContextOf(req));
      const { status, headers, body: created } = createdResponse(product);
      res.status(status).set(headers).json(created);
      return;
    }
    const { response, replayed } = await productService.createOnce(toNewProduct(body), userId, changeContextOf(req), {
      key,
      fingerprint: bodyFingerprint(body),
      respond: createdResponse,
    });
    if (replayed) res.set('Idempotent-Replayed', 'true');
    res.status(response.status).set(response.headers).json(response.body);
  });

  // PUT keeps the original API's meaning: a partial update, exactly like PATCH. If-Match makes
  // it conditional, judged in the UPDATE statement itself.
  const update = async (req: Request, res: Response): Promise<void> => {
    const { userId } = authenticatedUser(res);
    const expected = expectedVersionsOf(conditionHeader(req.headers, 'if-match'));
    const { params, body } = parseParamsAndBody(req, { params: productIdParamsSchema, body: updateProductBodySchema });
    const product = await productService.update(
      params.id,
      toProductChanges(body),
      userId,
      changeContextOf(req),
      expected,
    );
    res.set('ETag', productEtag(product.version)).json(toPublicProduct(product));
  };
  router.put('/products/:id', requireAuth, json, update);
  router.patch('/products/:id', requireAuth, json, update);

  router.delete('/products/:id', requireAuth, async (req, res) => {
    const { userId } = authenticatedUser(res);
    const expected = expectedVersionsOf(conditionHeader(req.headers, 'if-match'));
    const { id } = parse(productIdParamsSchema, req.params, 'params');
    await productService.delete(id, userId, changeContextOf(req), expected);
    res.status(204).end();
  });

  return router;
}
