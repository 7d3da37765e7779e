// The API's one error type: thrown by route handlers, answered as JSON
// `{ error, message, field? }` by the server's single error handler.
export class ApiError extends Error {
  override name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }

  static notFound(what: string, id: string): ApiError {
    return new ApiError(404, 'not_found', `no ${what} '${id}'`);
  }
}

/** The JSON body of every error answer, for the route schemas. */
export const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string' },
  },
} as const;
