/** The pipeline's Reply over an Express response. */
import { once } from 'node:events';
import type { Response } from 'express';
import type { Reply } from '../pipeline/reply.js';

export function httpReply(res: Response): Reply {
  return {
    header(name, value) {
      if (!res.headersSent) res.setHeader(name, value);
    },
    get committed() {
      return res.headersSent;
    },
    get gone() {
      return res.destroyed;
    },
    json(body, status = 200) {
      const text = JSON.stringify(body);
      res.status(status);
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(text);
    },
    openStream() {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
    },
    async write(text) {
      if (!res.write(text) && !res.destroyed) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    },
    end(text) {
      if (text === undefined) res.end();
      else res.end(text);
    },
    onDone(fn) {
      // The client may have left already: then 'close' has fired.
      if (res.destroyed || res.writableFinished) fn();
      else res.once('close', fn);
    },
  };
}
