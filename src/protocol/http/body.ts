import type { Readable } from 'node:stream';

/**
 * Reads a request body whole, up to `max` bytes. Past that it rejects with `tooLarge()` and drops the
 * rest as it comes, without destroying the request: destroying an unfinished request resets its
 * connection, and the client would never hear the 413 (the edge bounds how long it keeps dropping).
 */
export function readBoundedBody(body: Readable, max: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length <= max) {
        chunks.push(chunk);
        return;
      }
      cleanup();
      body.on('error', () => {});
      body.resume();
      reject(tooLarge());
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAborted = () => onError(new Error('the client aborted the request'));
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('aborted', onAborted);
  });
}
