/** An error the Batch service answers with (shared/docs/batch-api.md §3.9): status, code, message, values. */
export class BatchError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly values: [string, string][] = [],
  ) {
    super(message);
  }
}

const e = (status: number, code: string, message: string, values: [string, string][] = []) => new BatchError(status, code, message, values);

export const batchErrors = {
  // 400
  missingProperty: (name: string) => e(400, 'MissingRequiredProperty', 'A required property was not specified in the request body.', [['PropertyName', name]]),
  invalidProperty: (name: string, value: unknown, reason?: string) =>
    e(400, 'InvalidPropertyValue', 'The value provided for one of the properties in the request body is invalid.', [
      ['PropertyName', name],
      ['PropertyValue', typeof value === 'string' ? value : (JSON.stringify(value) ?? '')],
      ...(reason ? ([['Reason', reason]] as [string, string][]) : []),
    ]),
  invalidBody: (reason: string) => e(400, 'InvalidRequestBody', 'The specified Request Body is not syntactically valid.', [['Reason', reason]]),
  missingQuery: (name: string) => e(400, 'MissingRequiredQueryParameter', "A query parameter that's mandatory for this request is not specified.", [['QueryParameterName', name]]),
  invalidQuery: (name: string, value: string, reason: string) =>
    e(400, 'InvalidQueryParameterValue', 'Value for one of the query parameters specified in the request URI is invalid.', [
      ['QueryParameterName', name],
      ['QueryParameterValue', value],
      ['Reason', reason],
    ]),
  outOfRangeQuery: (name: string, value: string, reason: string) =>
    e(400, 'OutOfRangeQueryParameterValue', 'One of the query parameters specified in the request URI is outside the permissible range.', [
      ['QueryParameterName', name],
      ['QueryParameterValue', value],
      ['Reason', reason],
    ]),
  /** A query parameter Kiln does not implement (or that the operation does not take), given a value: refused, never ignored (issue 9). */
  unsupportedQuery: (name: string, value: string, reason: string) =>
    e(400, 'UnsupportedQueryParameter', `Kiln does not support the query parameter '${name}' here. ${reason}`, [
      ['QueryParameterName', name],
      ['QueryParameterValue', value],
      ['Reason', reason],
    ]),
  invalidHeader: (name: string, value: string) =>
    e(400, 'InvalidHeaderValue', 'The value for one of the HTTP headers is not in the correct format.', [
      ['HeaderName', name],
      ['HeaderValue', value],
    ]),
  invalidAuthenticationInfo: (detail: string) =>
    e(400, 'InvalidAuthenticationInfo', 'Authentication information is not given in the correct format. Check the value of Authorization header.', [
      ['AuthenticationErrorDetail', detail],
    ]),
  taskDependenciesNotSpecified: () => e(400, 'TaskDependenciesNotSpecifiedOnJob', 'The task has dependencies but the job does not have usesTaskDependencies set to true.'),
  taskDependencyListTooLong: () => e(400, 'TaskDependencyListTooLong', 'The total length of the task ids in dependsOn exceeds the limit of 64000 characters.'),
  // 403
  authenticationFailed: (detail: string) =>
    e(403, 'AuthenticationFailed', 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.', [
      ['AuthenticationErrorDetail', detail],
    ]),
  // 404
  resourceNotFound: () => e(404, 'ResourceNotFound', 'The specified resource does not exist.'),
  poolNotFound: () => e(404, 'PoolNotFound', 'The specified pool does not exist.'),
  nodeNotFound: () => e(404, 'NodeNotFound', 'The specified node does not exist.'),
  jobNotFound: () => e(404, 'JobNotFound', 'The specified job does not exist.'),
  taskNotFound: () => e(404, 'TaskNotFound', 'The specified task does not exist.'),
  jobScheduleNotFound: () => e(404, 'JobScheduleNotFound', 'The specified job schedule does not exist.'),
  fileNotFound: () => e(404, 'FileNotFound', 'The specified file does not exist.'),
  nodeUserNotFound: () => e(404, 'NodeUserNotFound', 'The node user does not exist.'),
  applicationNotFound: () => e(404, 'ApplicationNotFound', 'The specified application does not exist.'),
  certificateNotFound: () => e(404, 'CertificateNotFound', 'The specified certificate does not exist.'),
  // 405, 409, 412, 413, 416
  unsupportedVerb: (method: string) => e(405, 'UnsupportedHttpVerb', `The resource doesn't support the specified HTTP verb ${method}.`),
  poolExists: () => e(409, 'PoolExists', 'The specified pool already exists.'),
  jobExists: () => e(409, 'JobExists', 'The specified job already exists.'),
  taskExists: () => e(409, 'TaskExists', 'The specified task already exists.'),
  jobScheduleExists: () => e(409, 'JobScheduleExists', 'The specified job schedule already exists.'),
  // Jobs and job schedules share their ids (a schedule's jobs live under workitems/<scheduleId>/ on nodes).
  jobWithSameIdExists: () => e(409, 'JobWithSameIdExists', 'A job with the same id exists.'),
  jobScheduleWithSameIdExists: () => e(409, 'JobScheduleWithSameIdExists', 'A job schedule with the same id exists.'),
  poolBeingDeleted: () => e(409, 'PoolBeingDeleted', 'The specified pool has been marked for deletion and is being reclaimed.'),
  poolBeingResized: () => e(409, 'PoolBeingResized', 'The specified pool is currently being resized.'),
  poolNotResizing: () => e(409, 'PoolNotResizing', 'The specified pool is not being resized.'),
  autoScaleEnabled: () => e(409, 'AutoScalingEnabled', 'The specified operation is not allowed because the pool has autoscale enabled.'),
  jobBeingDeleted: () => e(409, 'JobBeingDeleted', 'The specified job has been marked for deletion and is being garbage collected.'),
  jobBeingTerminated: () => e(409, 'JobBeingTerminated', 'The specified job is in the process of being terminated.'),
  jobCompleted: () => e(409, 'JobCompleted', 'The specified job is already in a completed state.'),
  jobNotActive: () => e(409, 'JobNotActive', 'The specified job is not active.'),
  jobDisabled: () => e(409, 'JobDisabled', 'The specified job is disabled.'),
  jobScheduleBeingDeleted: () => e(409, 'JobScheduleBeingDeleted', 'The specified job schedule has been marked for deletion.'),
  jobScheduleBeingTerminated: () => e(409, 'JobScheduleBeingTerminated', 'The specified job schedule is being terminated.'),
  jobScheduleCompleted: () => e(409, 'JobScheduleCompleted', 'The specified job schedule is already in completed state.'),
  jobScheduleNotActive: () => e(409, 'JobScheduleNotActive', 'The specified job schedule is not active.'),
  jobPreparationTaskNotSpecified: () => e(409, 'JobPreparationTaskNotSpecified', 'The specified job does not have a job preparation task or job release task.'),
  taskCompleted: () => e(409, 'TaskCompleted', 'The specified task is already completed.'),
  taskNotCompleted: () => e(409, 'TaskNotCompleted', 'The specified task is not in the completed state.'),
  taskSucceeded: () => e(409, 'TaskSucceeded', 'The specified task completed successfully and cannot be reactivated.'),
  taskFilesUnavailable: () => e(409, 'TaskFilesUnavailable', 'The files of the specified task are not available: the task has not been scheduled on a node.'),
  nodeBeingRebooted: () => e(409, 'NodeBeingRebooted', 'The specified node is being rebooted.'),
  nodeBeingReimaged: () => e(409, 'NodeBeingReimaged', 'The specified node is being reimaged.'),
  operationInvalidForCurrentState: (detail: string) =>
    e(409, 'OperationInvalidForCurrentState', 'The specified operation is not valid for the current state of the resource.', [['Reason', detail]]),
  conditionNotMet: () => e(412, 'ConditionNotMet', 'The condition specified using HTTP conditional header(s) is not met.'),
  requestBodyTooLarge: (max: number) => e(413, 'RequestBodyTooLarge', 'The request body is too large and exceeds the maximum permissible limit.', [['MaxLimit', String(max)]]),
  invalidRange: () => e(416, 'InvalidRange', 'The range specified is invalid for the current size of the resource.'),
  directoryNotEmpty: () => e(409, 'DirectoryNotEmpty', 'The specified directory is not empty; delete it with recursive=true.'),
  serverBusy: () => e(503, 'ServerBusy', 'The server is currently unable to receive requests. Please retry your request.'),
  internal: () => e(500, 'InternalError', 'The server encountered an internal error. Please retry the request.'),
};
