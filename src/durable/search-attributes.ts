/**
 * Typed search attributes of request workflows: what an operator filters on in the Temporal UI
 * (e.g. `GatewayOutcome = "catch_all" AND GatewayAlias = "gpt-4o"`). The dev server is told about them at start;
 * a production namespace needs them registered once (`temporal operator search-attribute create`).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA = {
  alias: defineSearchAttributeKey('GatewayAlias', SearchAttributeType.KEYWORD),
  deployment: defineSearchAttributeKey('GatewayDeployment', SearchAttributeType.KEYWORD),
  provider: defineSearchAttributeKey('GatewayProvider', SearchAttributeType.KEYWORD),
  outcome: defineSearchAttributeKey('GatewayOutcome', SearchAttributeType.KEYWORD),
  fallbacks: defineSearchAttributeKey('GatewayFallbacks', SearchAttributeType.INT),
  tenant: defineSearchAttributeKey('GatewayTenant', SearchAttributeType.KEYWORD),
} as const;

/** `Name=Type` pairs in the form `temporal server start-dev --search-attribute` takes. */
export const SEARCH_ATTRIBUTE_FLAGS: string[] = Object.values(SA).map(
  (k) => `${k.name}=${k.type === SearchAttributeType.INT ? 'Int' : 'Keyword'}`,
);
