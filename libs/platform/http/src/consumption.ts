/**
 * What a service that consumes reads: its consumer group (the inbox's name) and its topics, as this
 * run names them (a test stack may rename both). Provided only to a service that consumes.
 */
export class Consumption {
  constructor(
    readonly groupId: string,
    readonly topics: readonly string[],
  ) {}
}
