/** A refusal of the agent protocol: its status and a message of Kiln's own (never an exception's text). */
export class AgentApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
