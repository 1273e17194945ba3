/** An error the Blob service answers with: HTTP status, Azure's error code and message. */
export class StorageError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Azure adds details to some errors, e.g. the string to sign of a failed signature. */
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const errors = {
  containerNotFound: () => new StorageError(404, 'ContainerNotFound', 'The specified container does not exist.'),
  blobNotFound: () => new StorageError(404, 'BlobNotFound', 'The specified blob does not exist.'),
  resourceNotFound: () => new StorageError(404, 'ResourceNotFound', 'The specified resource does not exist.'),
  containerAlreadyExists: () => new StorageError(409, 'ContainerAlreadyExists', 'The specified container already exists.'),
  blobAlreadyExists: () => new StorageError(409, 'BlobAlreadyExists', 'The specified blob already exists.'),
  conditionNotMet: () => new StorageError(412, 'ConditionNotMet', 'The condition specified using HTTP conditional header(s) is not met.'),
  invalidRange: () => new StorageError(416, 'InvalidRange', 'The range specified is invalid for the current size of the resource.'),
  invalidBlockList: () => new StorageError(400, 'InvalidBlockList', 'The specified block list is invalid.'),
  invalidXml: () => new StorageError(400, 'InvalidXmlDocument', 'XML specified is not syntactically valid.'),
  invalidResourceName: () => new StorageError(400, 'InvalidResourceName', 'The specified resource name contains invalid characters.'),
  outOfRangeInput: (what: string) => new StorageError(400, 'OutOfRangeInput', `One of the request inputs is out of range: ${what}.`),
  invalidHeader: (name: string, value?: string) =>
    new StorageError(400, 'InvalidHeaderValue', 'The value for one of the HTTP headers is not in the correct format.', {
      HeaderName: name,
      HeaderValue: value ?? '',
    }),
  missingHeader: (name: string) =>
    new StorageError(400, 'MissingRequiredHeader', "An HTTP header that's mandatory for this request is not specified.", {
      HeaderName: name,
    }),
  invalidQuery: (name: string, value: string, reason?: string) =>
    new StorageError(400, 'InvalidQueryParameterValue', 'Value for one of the query parameters specified in the request URI is invalid.', {
      QueryParameterName: name,
      QueryParameterValue: value,
      ...(reason ? { Reason: reason } : {}),
    }),
  invalidMetadata: () => new StorageError(400, 'InvalidMetadata', 'The metadata specified is invalid. It has characters that are not permitted.'),
  metadataTooLarge: () => new StorageError(400, 'MetadataTooLarge', 'The size of the specified metadata exceeds the maximum size permitted.'),
  md5Mismatch: (expected: string, actual: string) =>
    new StorageError(400, 'Md5Mismatch', 'The MD5 value specified in the request did not match with the MD5 value calculated by the server.', {
      UserSpecifiedMd5: expected,
      ServerCalculatedMd5: actual,
    }),
  missingContentLength: () => new StorageError(411, 'MissingContentLengthHeader', 'The Content-Length header must be specified.'),
  requestBodyTooLarge: (max: number) =>
    new StorageError(413, 'RequestBodyTooLarge', 'The request body is too large and exceeds the maximum permissible limit.', {
      MaxLimit: String(max),
    }),
  unsupportedBlobType: (value: string) =>
    new StorageError(
      400,
      'InvalidHeaderValue',
      'The value for one of the HTTP headers is not in the correct format. Kiln does not support page blobs or append blobs, only block blobs.',
      {
        HeaderName: 'x-ms-blob-type',
        HeaderValue: value,
      },
    ),
  /** A header Kiln does not implement, sent with a value other than its default: refused, never ignored. */
  unsupportedHeader: (name: string, feature: string) =>
    new StorageError(400, 'UnsupportedHeader', `One of the HTTP headers specified in the request is not supported. Kiln does not support ${feature}.`, {
      HeaderName: name,
    }),
  /** The same for a query parameter (comp= included, for the operations Kiln does not implement). */
  unsupportedQuery: (name: string, value: string, feature: string) =>
    new StorageError(400, 'UnsupportedQueryParameter', `One of the query parameters specified in the request URI is not supported. Kiln does not support ${feature}.`, {
      QueryParameterName: name,
      QueryParameterValue: value,
    }),
  sourceConditionNotMet: () => new StorageError(412, 'SourceConditionNotMet', 'The source condition specified using HTTP conditional header(s) is not met.'),
  unsupportedOperation: () => new StorageError(400, 'UnsupportedHttpVerb', "The resource doesn't support the specified HTTP verb."),
  notImplemented: (what: string) => new StorageError(501, 'NotImplemented', `Kiln does not implement ${what}.`),
  cannotVerifyCopySource: (status: number, message: string) => new StorageError(status, 'CannotVerifyCopySource', message),
  authenticationFailed: (detail: string) =>
    new StorageError(
      403,
      'AuthenticationFailed',
      'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
      {
        AuthenticationErrorDetail: detail,
      },
    ),
  authorizationFailure: () => new StorageError(403, 'AuthorizationFailure', 'This request is not authorized to perform this operation.'),
  permissionMismatch: () => new StorageError(403, 'AuthorizationPermissionMismatch', 'This request is not authorized to perform this operation using this permission.'),
  resourceTypeMismatch: () => new StorageError(403, 'AuthorizationResourceTypeMismatch', 'This request is not authorized to perform this operation using this resource type.'),
  serviceMismatch: () => new StorageError(403, 'AuthorizationServiceMismatch', 'This request is not authorized to perform this operation using this service.'),
  protocolMismatch: () => new StorageError(403, 'AuthorizationProtocolMismatch', 'This request is not authorized to perform this operation using this protocol.'),
  sourceIpMismatch: (ip: string) => new StorageError(403, 'AuthorizationSourceIPMismatch', `This request is not authorized to perform this operation using this source IP ${ip}.`),
  serverBusy: () => new StorageError(503, 'ServerBusy', 'The server is currently unable to receive requests. Please retry your request.'),
  internal: () => new StorageError(500, 'InternalError', 'The server encountered an internal error. Please retry the request.'),
};
