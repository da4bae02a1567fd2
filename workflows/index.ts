/** Every workflow the worker registers. */
export { requestWorkflow, progressQuery } from './request.js';
