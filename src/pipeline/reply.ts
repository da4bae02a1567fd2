/**
 * Where the pipeline answers: an HTTP response (ingress/http-reply.ts) or a collector for work with no client
 * connection (batch lines). The pipeline never sees Express.
 */
export interface Reply {
  /** Sets a response header while the head is still open; ignored once committed. */
  header(name: string, value: string): void;
  /** The head (status and headers) has been sent. */
  readonly committed: boolean;
  /** The client went away before the answer was complete. */
  readonly gone: boolean;
  /** Answers with one JSON body. */
  json(body: unknown, status?: number): void;
  /** Commits a 200 event stream; then `write` and `end`. */
  openStream(): void;
  /** Writes stream text; resolves when the client can take more (or has left). */
  write(text: string): Promise<void>;
  end(text?: string): void;
  /** Runs `fn` once, when the exchange is over: the answer was delivered, failed, or the client left. */
  onDone(fn: () => void): void;
}
