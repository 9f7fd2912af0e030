// Errors a request can cause. The API server turns them into status codes and `{error, field}` bodies.

/** A user-caused (4xx) or agent-side (5xx) API error with the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** 400: the request is malformed; nothing was changed. */
export function badRequest(message: string, field?: string): ApiError {
  return new ApiError(400, message, field);
}

/** 404: the named object does not exist. */
export function notFound(message: string): ApiError {
  return new ApiError(404, message);
}

/** 409: the request conflicts with the current state. */
export function conflict(message: string, field?: string): ApiError {
  return new ApiError(409, message, field);
}
