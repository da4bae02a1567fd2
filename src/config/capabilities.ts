/** What a deployment can do; requests needing one skip deployments without it. Own module: schemas on both sides of the config import it. */
export const CAPABILITIES = ['tools', 'vision', 'json_schema', 'streaming', 'embeddings', 'logprobs'] as const;
export type Capability = (typeof CAPABILITIES)[number];
