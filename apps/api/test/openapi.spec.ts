/**
 * The OpenAPI document the server publishes (`GET /v1/openapi.json`, built by packages/protocol/src/openapi.ts from
 * its own route table) against the routes the running server really has, read from Nest's route metadata: every
 * controller route is documented with its method, path, success status, path and query parameters and the schema of
 * the body it validates; every documented operation is a controller route; credentials are documented exactly where
 * the server asks for them. It does not check response bodies or error statuses (the controllers declare neither)
 * nor the WebSocket, which the document only mentions.
 */
import 'reflect-metadata';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestMethod } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { openApiSchema } from '@cove/protocol';
import type { z } from 'zod';

import { ZodPipe } from '../src/middleware/zod.pipe.js';
import { request, startServer, type TestServer } from './support/harness.js';

/** One route as Nest declares it. */
type ControllerRoute = {
  /** `Controller.method`, for messages. */
  handler: string;
  method: string;
  /** OpenAPI spelling: `/v1/keys/{accountId}/{deviceId}`. */
  path: string;
  status: number;
  params: string[];
  query: string[];
  body: z.ZodType | 'unvalidated' | undefined;
};

type Operation = {
  parameters?: Array<{ name: string; in: string }>;
  requestBody?: { content: { 'application/json': { schema: unknown } } };
  responses: Record<string, unknown>;
  security?: unknown[];
};

type RouteArg = { index: number; data?: unknown; pipes?: unknown[] };

/** Nest keeps a path as a string, or a list of them for a route mapped to several. */
const asList = (value: unknown): string[] =>
  Array.isArray(value) ? value.map((v) => String(v)) : [typeof value === 'string' ? value : ''];
const join = (...parts: string[]): string =>
  `/${parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/')}`;
const openApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');
const key = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;

/** Every route of every controller the app registered, from the metadata Nest's decorators left. */
const controllerRoutes = (server: TestServer): ControllerRoute[] => {
  const scanner = new MetadataScanner();
  const routes: ControllerRoute[] = [];
  for (const wrapper of server.running.app.get(DiscoveryService).getControllers()) {
    const instance = wrapper.instance as Record<string, unknown>;
    const controller = wrapper.metatype as new (...args: never[]) => unknown;
    for (const name of scanner.getAllMethodNames(Object.getPrototypeOf(instance) as object)) {
      const handler = instance[name] as object;
      const methodNo = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (methodNo === undefined) continue;
      const method = RequestMethod[methodNo].toLowerCase();
      const status =
        (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) ?? (method === 'post' ? 201 : 200);
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<string, RouteArg>;
      const ofType = (type: RouteParamtypes): RouteArg[] =>
        Object.entries(args)
          .filter(([k]) => k.split(':')[0] === String(type))
          .map(([, arg]) => arg);
      const bodies = ofType(RouteParamtypes.BODY);
      expect(bodies.length).toBeLessThanOrEqual(1);
      const pipe = bodies[0]?.pipes?.find((p): p is ZodPipe<z.ZodType> => p instanceof ZodPipe);
      for (const prefix of asList(Reflect.getMetadata(PATH_METADATA, controller))) {
        for (const path of asList(Reflect.getMetadata(PATH_METADATA, handler))) {
          routes.push({
            handler: `${controller.name}.${name}`,
            method,
            path: openApiPath(join(prefix, path)),
            status,
            params: ofType(RouteParamtypes.PARAM).map((a) => String(a.data)),
            query: ofType(RouteParamtypes.QUERY).map((a) => String(a.data)),
            body:
              bodies.length === 0
                ? undefined
                : pipe
                  ? (pipe as unknown as { schema: z.ZodType }).schema
                  : 'unvalidated',
          });
        }
      }
    }
  }
  return routes;
};

describe('OpenAPI document', () => {
  let server: TestServer;
  let routes: ControllerRoute[];
  let operations: Map<string, Operation>;

  beforeAll(async () => {
    server = await startServer('pglite');
    routes = controllerRoutes(server);
    const served = await request<{ paths: Record<string, Record<string, Operation>> }>(
      server,
      'GET',
      '/v1/openapi.json',
    );
    expect(served.status).toBe(200);
    operations = new Map(
      Object.entries(served.body.paths).flatMap(([path, byMethod]) =>
        Object.entries(byMethod).map(([method, operation]) => [key(method, path), operation] as const),
      ),
    );
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  const operationOf = (route: ControllerRoute): Operation => {
    const operation = operations.get(key(route.method, route.path));
    if (!operation) throw new Error(`${route.handler} (${key(route.method, route.path)}) is not documented`);
    return operation;
  };

  it('should document every controller route, and nothing that is not one', () => {
    expect(routes.length).toBeGreaterThanOrEqual(20);
    const declared = routes.map((r) => key(r.method, r.path)).sort();
    expect(new Set(declared).size).toBe(declared.length);
    expect([...operations.keys()].sort()).toEqual(declared);
  });

  it('should serve exactly the controller routes, so none escapes the comparison', () => {
    const express = server.running.app.getHttpAdapter().getInstance() as {
      router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
    };
    const served = express.router.stack.flatMap((layer) =>
      layer.route ? Object.keys(layer.route.methods).map((method) => key(method, openApiPath(layer.route!.path))) : [],
    );
    expect(served.sort()).toEqual(routes.map((r) => key(r.method, r.path)).sort());
  });

  it('should document the success status each route answers with', () => {
    for (const route of routes) {
      // A redirect is the success of the single sign-on routes (302 to the provider, 303 back to the PWA).
      const successes = Object.keys(operationOf(route).responses).filter((status) => /^(2\d\d|30[23])$/.test(status));
      expect({ route: route.handler, successes }).toEqual({ route: route.handler, successes: [String(route.status)] });
    }
  });

  it('should document the path and query parameters each route reads, and no others', () => {
    for (const route of routes) {
      const parameters = operationOf(route).parameters ?? [];
      const named = (where: string): string[] =>
        parameters
          .filter((p) => p.in === where)
          .map((p) => p.name)
          .sort();
      const templated = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect({ route: route.handler, path: named('path'), query: named('query') }).toEqual({
        route: route.handler,
        path: [...route.params].sort(),
        query: [...route.query].sort(),
      });
      expect(templated).toEqual([...route.params].sort());
    }
  });

  it('should document the request body each route validates, with the schema it validates it with', () => {
    let bodies = 0;
    for (const route of routes) {
      const documented = operationOf(route).requestBody?.content['application/json'].schema;
      expect({ route: route.handler, body: route.body === 'unvalidated' ? 'unvalidated' : 'ok' }).toEqual({
        route: route.handler,
        body: 'ok',
      });
      if (route.body === undefined || route.body === 'unvalidated') {
        expect({ route: route.handler, documented }).toEqual({ route: route.handler, documented: undefined });
      } else {
        expect({ route: route.handler, documented }).toEqual({
          route: route.handler,
          documented: openApiSchema(route.body),
        });
        bodies += 1;
      }
    }
    expect(bodies).toBeGreaterThanOrEqual(6);
  });

  it('should document credentials exactly on the routes that answer 401 without them', async () => {
    for (const route of routes) {
      const operation = operationOf(route);
      const path = route.path.replace(/\{\w+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await request(server, route.method.toUpperCase(), path);
      /** A HEAD answer has no body to carry the code; its status says it. */
      const code = route.method === 'head' ? 'unauthorized' : (res.body as { error?: string } | undefined)?.error;
      const asksForCredentials = res.status === 401 && code === 'unauthorized';
      expect({
        route: route.handler,
        security: operation.security !== undefined,
        has401: '401' in operation.responses,
      }).toEqual({ route: route.handler, security: asksForCredentials, has401: asksForCredentials });
    }
  });
});
