/**
 * The `x-gateway-route` request header: a client asking for a routing strategy other than its alias's.
 *
 *   x-gateway-route: fastest                                 latency strategy, the alias's latency settings
 *   x-gateway-route: fastest; metric=ttft; stat=p95; tolerance=0.1
 *   x-gateway-route: least-loaded | weighted                 (latency is a synonym of fastest)
 *
 * Pure. Meant to be called by ingress with the raw header value:
 *
 *   const r = parseRouteHint(req.headers['x-gateway-route']);
 *   if (!r.ok) → 400 invalid_request_error with r.error (or ignore and log: it is only a hint)
 *   const policy = applyRouteHint(aliasRoutingPolicy, r.hint);   // then orderGroup(..., { policy })
 *
 * A hint can only choose among strategies and tune the latency comparison; region and saturation rules
 * stay the operator's.
 */
import { latencyPolicySchema, type LatencyPolicy, type RoutingPolicy, type RoutingStrategy } from '../config/balance-schema.js';

export const ROUTE_HINT_HEADER = 'x-gateway-route';

export interface RouteHint {
  strategy: RoutingStrategy;
  latency?: Partial<Pick<LatencyPolicy, 'metric' | 'stat' | 'tolerance'>>;
}

export type RouteHintResult = { ok: true; hint: RouteHint | null } | { ok: false; error: string };

const DIRECTIVES: Record<string, RoutingStrategy> = {
  fastest: 'latency',
  latency: 'latency',
  'least-loaded': 'least-loaded',
  weighted: 'weighted',
};

const PARAMS = {
  metric: latencyPolicySchema.shape.metric.unwrap(),
  stat: latencyPolicySchema.shape.stat.unwrap(),
  tolerance: latencyPolicySchema.shape.tolerance.unwrap(),
} as const;

export function parseRouteHint(value: string | readonly string[] | undefined): RouteHintResult {
  // Node joins a repeated header with ", "; an array comes from other header sources
  const raw = (Array.isArray(value) ? value.join(',') : (value as string | undefined))?.trim();
  if (!raw) return { ok: true, hint: null };
  const directives = raw.split(',').map((d) => d.trim()).filter(Boolean);
  if (directives.length > 1) return fail(`takes one directive, got ${directives.length}`);
  const [name = '', ...params] = directives[0]!.split(';').map((p) => p.trim());
  const strategy = DIRECTIVES[name.toLowerCase()];
  if (!strategy) return fail(`unknown directive '${clip(name)}' (expected one of ${Object.keys(DIRECTIVES).join(', ')})`);
  if (strategy !== 'latency') {
    return params.some(Boolean) ? fail(`'${name}' takes no parameters`) : { ok: true, hint: { strategy } };
  }

  const latency: NonNullable<RouteHint['latency']> = {};
  for (const p of params) {
    if (!p) continue;
    const eq = p.indexOf('=');
    const key = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const text = eq < 0 ? '' : p.slice(eq + 1).trim();
    if (key === 'metric' || key === 'stat') {
      const parsed = PARAMS[key].safeParse(text.toLowerCase());
      if (!parsed.success) return fail(`${key} must be one of ${PARAMS[key].options.join(', ')}`);
      if (key === 'metric') latency.metric = parsed.data as LatencyPolicy['metric'];
      else latency.stat = parsed.data as LatencyPolicy['stat'];
    } else if (key === 'tolerance') {
      const parsed = PARAMS.tolerance.safeParse(text === '' ? NaN : Number(text));
      if (!parsed.success) return fail('tolerance must be a number from 0 to 10');
      latency.tolerance = parsed.data;
    } else {
      return fail(`unknown parameter '${clip(key)}' (expected metric, stat, tolerance)`);
    }
  }
  return { ok: true, hint: Object.keys(latency).length > 0 ? { strategy, latency } : { strategy } };
}

/** The alias's policy with the client's hint laid over it; the policy itself when there is no hint. */
export function applyRouteHint(policy: RoutingPolicy, hint: RouteHint | null): RoutingPolicy {
  if (!hint) return policy;
  return { ...policy, strategy: hint.strategy, latency: { ...policy.latency, ...hint.latency } };
}

function fail(why: string): RouteHintResult {
  return { ok: false, error: `Invalid ${ROUTE_HINT_HEADER} header: ${why}` };
}

/** Echoed text is cut short: the header is client input and goes into an error message. */
function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
