import { Router, type Request, type Response } from 'express';

import {
  changeContextOf,
  parse,
  parseParamsAndBody,
  requireContentType,
  type BearerAuth,
} from '@shop/shared-runtime/http';

import type { ProductService } from '../services/product.service';
import type { AuthenticatedUser } from '../services/token-validator';
import { toNewProduct, toProductChanges, toPublicProduct } from './products.presenter';
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

  router.get('/products/:id', async (req, res) => {
    const { id } = parse(productIdParamsSchema, req.params, 'params');
    res.json(toPublicProduct(await productService.get(id)));
  });

  router.post('/products', requireAuth, json, async (req, res) => {
    const { userId } = authenticatedUser(res);
    const body = plainlyValidProductBody(req.body) ?? parse(createProductBodySchema, req.body, 'body');
    const product = await productService.create(toNewProduct(body), userId, changeContextOf(req));
    res.status(201).location(`/products/${product.id}`).json(toPublicProduct(product));
  });

  // PUT keeps the original API's meaning: a partial update, exactly like PATCH.
  const update = async (req: Request, res: Response): Promise<void> => {
    const { userId } = authenticatedUser(res);
    const { params, body } = parseParamsAndBody(req, { params: productIdParamsSchema, body: updateProductBodySchema });
    const product = await productService.update(params.id, toProductChanges(body), userId, changeContextOf(req));
    res.json(toPublicProduct(product));
  };
  router.put('/products/:id', requireAuth, json, update);
  router.patch('/products/:id', requireAuth, json, update);

  router.delete('/products/:id', requireAuth, async (req, res) => {
    const { userId } = authenticatedUser(res);
    const { id } = parse(productIdParamsSchema, req.params, 'params');
    await productService.delete(id, userId, changeContextOf(req));
    res.status(204).end();
  });

  return router;
}
