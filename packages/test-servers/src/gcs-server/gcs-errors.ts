/**
 * Errors in the JSON API's shape, which is what @google-cloud/storage parses into an
 * ApiError (`code` = the status, `errors[].reason`, `message`):
 *
 *   {"error":{"code":404,"message":"No such object: b/o","errors":[{"message":"…","domain":"global","reason":"notFound"}]}}
 */
export class GcsHttpError extends Error {
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }

  body(): string {
    return JSON.stringify({
      error: {
        code: this.status,
        message: this.message,
        errors: [{ message: this.message, domain: 'global', reason: this.reason }],
      },
    });
  }
}

export const noSuchBucket = (bucket: string): GcsHttpError => new GcsHttpError(404, 'notFound', `The specified bucket does not exist: ${bucket}`);
export const noSuchObject = (bucket: string, name: string): GcsHttpError => new GcsHttpError(404, 'notFound', `No such object: ${bucket}/${name}`);
export const conditionNotMet = (): GcsHttpError => new GcsHttpError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
export const invalid = (message: string): GcsHttpError => new GcsHttpError(400, 'invalid', message);
export const notImplemented = (what: string): GcsHttpError => new GcsHttpError(501, 'notImplemented', `The GCS test server does not implement ${what}.`);
