/**
 * Anthropic's error shape, `{"type":"error","error":{"type","message"}}`: the Anthropic SDKs pick their error
 * class from the HTTP status and read the type from the body, so both must agree.
 */

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

const TYPE_OF_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'overloaded_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

export function anthropicErrorType(status: number): string {
  return TYPE_OF_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

export function anthropicErrorBody(status: number, message: string): AnthropicErrorBody {
  return { type: 'error', error: { type: anthropicErrorType(status), message } };
}

/**
 * Requests to Anthropic's endpoints get errors in Anthropic's shape. Decided by path because the errors of
 * authentication and body parsing are raised before any route runs; without regard to case, because Express
 * routes `/V1/MESSAGES` to the same handler.
 */
export function speaksAnthropic(req: { path: string } | undefined): boolean {
  if (!req) return false;
  const path = req.path.toLowerCase();
  return path === '/v1/messages' || path.startsWith('/v1/messages/');
}
