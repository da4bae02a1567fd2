/** The config tail of a gateway in front of the fake provider: one OpenAI deployment and the alias `chat` over it. */
export function fakeUpstreamLines(fakeUrl: string): string[] {
  return [
    'providers:',
    `  fake: { type: openai, baseUrl: "${fakeUrl}/v1", apiKey: k }`,
    'deployments:',
    '  fake-main: { provider: fake, model: gpt-main }',
    'models:',
    '  chat: { groups: [{ deployments: [fake-main] }] }',
    '',
  ];
}
