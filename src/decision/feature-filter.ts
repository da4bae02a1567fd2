/**
 * The planning filter over provider parameter support: which of the features a request uses a deployment's
 * provider type cannot carry (src/providers/features.ts), and, when nothing is left to plan, the feature to
 * blame in the client's 400. Pure.
 */
import type { DeploymentConfig } from '../config/types.js';
import { FEATURE_LABELS, cannotCarry, featureFamily, type Feature } from '../providers/features.js';
import type { FeatureUse } from './request-features.js';

export interface FeatureGap {
  deployment: string;
  feature: Feature;
  param: string;
  /** What the request uses and where, e.g. "'n' > 1", "audio input in 'messages[0].content[1]'". */
  label: string;
  /** Why the provider cannot carry it, with the provider family: "anthropic cannot return several choices". */
  why: string;
}

/** The label, with the field when the label does not already name it (content parts, `audio`). */
function labelOf(u: FeatureUse): string {
  const label = FEATURE_LABELS[u.feature];
  return label.includes(`'${u.param}'`) ? label : `${label} in '${u.param}'`;
}

export function featureGaps(dep: DeploymentConfig, uses: readonly FeatureUse[] | undefined): FeatureGap[] {
  if (!uses || uses.length === 0) return [];
  const out: FeatureGap[] = [];
  for (const u of uses) {
    const why = cannotCarry(dep.providerType, u.feature);
    if (why !== undefined) {
      out.push({ deployment: dep.name, feature: u.feature, param: u.param, label: labelOf(u), why: `${featureFamily(dep.providerType)} ${why}` });
    }
  }
  return out;
}

/**
 * The first feature (in request order) that every one of the `candidates` deployments lacked, with each
 * family's reason once; undefined when each feature had a taker and something else ruled them out.
 */
export function unsupportedEverywhere(gaps: readonly FeatureGap[], candidates: number): Omit<FeatureGap, 'deployment'> | undefined {
  const byFeature = new Map<Feature, FeatureGap[]>();
  for (const g of gaps) byFeature.set(g.feature, [...(byFeature.get(g.feature) ?? []), g]);
  for (const [, list] of byFeature) {
    if (new Set(list.map((g) => g.deployment)).size < candidates) continue;
    const first = list[0]!;
    return { feature: first.feature, param: first.param, label: first.label, why: [...new Set(list.map((g) => g.why))].join('; ') };
  }
  return undefined;
}
