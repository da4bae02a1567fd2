/** Inline media in OpenAI's form (`data:<mime>[;params];base64,<data>`), as the other providers need it. */
export function parseDataUrl(url: string): { mimeType: string; data: string } | undefined {
  const m = /^data:([^;,]+)[^,]*;base64,(.*)$/s.exec(url);
  return m ? { mimeType: m[1]!, data: m[2]! } : undefined;
}
