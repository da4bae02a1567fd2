/** Every workflow the worker registers. */
export { requestWorkflow, progressQuery } from './request.js';
export { batchWorkflow, batchProgressQuery } from './batch.js';
