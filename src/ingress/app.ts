/**
 * The Express app: OpenAI-compatible routes over the fast path, with every failure answered in OpenAI's
 * error shape. Built from a context so tests and the benchmark run the same app in-process.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { TemporalUnavailable } from '../durable/errors.js';
import { unavailableError } from '../pipeline/durable-errors.js';
import type { PipelineContext } from '../pipeline/context.js';
import { HttpError } from '../protocol/errors.js';
import { clientErrorOf, sendError } from './errors.js';
import { jsonBody } from './json-body.js';
import { scopePresentedKey } from './auth.js';
import { authenticate } from './auth.js';
import { adminCheckOf, requireAdminKey, requireOperator } from './operator-auth.js';
import { listKeysHandler } from './routes/admin.js';
import { CODEC_PATH, codecRoutes } from './routes/codec.js';
import { requestScope } from './request-scope.js';
import { chatCompletionsHandler } from './routes/chat.js';
import { embeddingsHandler } from './routes/embeddings.js';
import { messagesHandler } from './routes/messages.js';
import { getModelHandler, listModelsHandler } from './routes/models.js';
import { cancelRequestHandler, getRequestHandler, submitRequestHandler } from './routes/requests.js';
import { resumeStreamHandler } from './routes/request-stream.js';
import { deleteFileHandler, fileContentHandler, getFileHandler, listFilesHandler, uploadFileHandler } from './routes/files.js';
import { cancelBatchHandler, createBatchHandler, getBatchHandler, listBatchesHandler } from './routes/batches.js';
import type { Observability } from '../observability/index.js';
import { mountOperatorRoutes, observeRequests } from './observability-routes.js';

/** `obs`: metrics, tracing and the status page (absent: none of them, as in unit tests of the routes). */
export function createApp(ctx: PipelineContext, obs?: Observability): express.Express {
  const app = express();
  const admin = adminCheckOf(ctx.config.auth, ctx.keys);
  app.disable('x-powered-by');
  app.set('etag', false);
  const scope = requestScope(ctx.logger);
  // Keys are checked before the body is read: an unauthenticated client gets no parsing work out of us.
  const auth = authenticate(ctx.keys);
  const body = jsonBody(ctx.config.server.bodyLimit, ctx.config.server.maxJsonDepth);
  // After the body is read: its stream events would lose the trace context a span sets for the handlers.
  const observe = obs ? [observeRequests(obs)] : [];
  // The model routes first, each with the same chain the general stack below gives every other request, in the
  // same order (scope, key, body, the key's scope for the handlers, observation): a model call is then the
  // router's first match instead of its fourteenth layer. scopePresentedKey: the rest of the request is
  // scrubbed of the key it presented (its upstream errors, its log lines).
  const lane = [scope, auth, body, scopePresentedKey, ...observe];
  app.post('/v1/chat/completions', ...lane, chatCompletionsHandler(ctx));
  app.post('/v1/messages', ...lane, messagesHandler(ctx));
  app.post('/v1/embeddings', ...lane, embeddingsHandler(ctx));

  app.use(scope);
  app.use('/v1', auth);
  // Read by their own handlers, not the JSON body reader: multipart uploads, and the SDK's body-less cancel.
  app.post('/v1/files', uploadFileHandler(ctx));
  app.post('/v1/batches/:id/cancel', cancelBatchHandler(ctx));
  app.use(body);
  app.use('/v1', scopePresentedKey);
  for (const o of observe) app.use(o);

  app.get('/admin/keys', requireAdminKey(admin), listKeysHandler(ctx));
  app.use(CODEC_PATH, codecRoutes(ctx));
  // Liveness: answering at all means the process is up and its event loop turns. Dependencies are /readyz's.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', uptime_s: Math.round(process.uptime()) });
  });
  app.get('/readyz', async (_req, res) => {
    const report = ctx.readiness ? await ctx.readiness.report() : { status: 'ready', checks: {} };
    res.status(report.status === 'ready' ? 200 : 503).json(report);
  });
  app.get('/v1/models', listModelsHandler(ctx));
  app.get('/v1/models/:model', getModelHandler(ctx));
  app.post('/v1/requests', submitRequestHandler(ctx));
  app.get('/v1/requests/:id/stream', resumeStreamHandler(ctx));
  app.get('/v1/requests/:id', getRequestHandler(ctx, obs?.metrics));
  app.delete('/v1/requests/:id', cancelRequestHandler(ctx));
  app.get('/v1/files', listFilesHandler(ctx));
  app.get('/v1/files/:id', getFileHandler(ctx));
  app.get('/v1/files/:id/content', fileContentHandler(ctx));
  app.delete('/v1/files/:id', deleteFileHandler(ctx));
  app.post('/v1/batches', createBatchHandler(ctx));
  app.get('/v1/batches', listBatchesHandler(ctx));
  app.get('/v1/batches/:id', getBatchHandler(ctx));
  // Operators only: the admin key, or (where the config allows it) a client on this machine.
  mountOperatorRoutes(app, ctx, obs, requireOperator({ registry: admin, localWithoutKey: ctx.config.server.operator.localWithoutKey }));

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(404, `Unknown request URL: ${req.method} ${req.path}`, 'invalid_request_error', 'unknown_url'));
  });
  app.use(errorHandler(ctx));
  return app;
}

function errorHandler(ctx: PipelineContext) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (err instanceof HttpError) return sendError(res, err);
    const clientError = clientErrorOf(err);
    if (clientError) return sendError(res, clientError);
    if (err instanceof TemporalUnavailable) return sendError(res, unavailableError(err));
    if (res.destroyed || (err as Error)?.name === 'ClientDisconnected') return;
    ctx.logger.error({ err, path: req.path }, 'unhandled error');
    sendError(res, new HttpError(500, 'The gateway had an internal error', 'server_error', 'internal_error'));
  };
}
