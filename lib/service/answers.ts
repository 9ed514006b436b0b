import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** A request refused before GraphQL runs: answered with `status` and a GraphQL-shaped error. */
export class RequestRefused extends Error {
  override readonly name = 'RequestRefused';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

export const graphqlErrorBody = (message: string, code: string, extensions: Readonly<Record<string, unknown>> = {}) => ({
  errors: [{ message, extensions: { code, ...extensions } }],
});

export const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
};

/** An error from body-parser (or anything else a request handler threw). */
export interface HttpError {
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
  limit?: number;
}

const clientMessage = (error: HttpError): string => {
  switch (error.type) {
    case 'entity.parse.failed':
      return 'The request body is not valid JSON.';
    case 'entity.too.large':
      return `The request body is larger than the limit of ${error.limit} bytes.`;
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return `${error.message ?? 'Unsupported encoding'}.`;
    case 'request.aborted':
    case 'request.size.invalid':
      return 'The request body was cut short.';
    default:
      return 'Bad request.';
  }
};

/** Refusals and body-parser errors as GraphQL-shaped 4xx answers; anything else as a logged, masked 500. */
export const answerError = (error: HttpError, res: ServerResponse, logger: Logger, onRefused: (status: number) => void): void => {
  if (res.headersSent) {
    logger.error({ err: error }, 'request failed after its answer started');
    res.destroy();
    return;
  }
  if (error instanceof RequestRefused) {
    onRefused(error.status);
    logger.info({ status: error.status, code: error.code, ...error.extensions }, 'request refused');
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    sendJson(res, error.status, graphqlErrorBody(error.message, error.code, error.extensions));
    return;
  }
  const status = error.status ?? error.statusCode ?? 500;
  onRefused(status);
  if (status >= 400 && status < 500) {
    logger.info({ status, type: error.type }, 'request refused');
    sendJson(res, status, graphqlErrorBody(clientMessage(error), status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST'));
    return;
  }
  logger.error({ err: error }, 'request failed');
  sendJson(res, 500, graphqlErrorBody('Internal server error.', 'INTERNAL_SERVER_ERROR'));
};
