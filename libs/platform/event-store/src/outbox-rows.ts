/**
 * The one place that writes outbox rows. Every writer (the event store's appends, device-sync's
 * notifications) writes them as a CTE of its own statement, so that the messages commit with the
 * change they tell of, and wakes the relay with the commit.
 */

/** An outbox row's columns, as SQL expressions over the rows the CTE selects from. */
export interface OutboxRowSql {
  eventId: string;
  topic: string;
  /** The Kafka message key (the partition's order). */
  key: string;
  payload: string;
  headers: string;
}

/**
 * The topics an event is written to, as one text for a statement's per-event array parameter: its
 * topic and the copies' (`alsoOn`), comma-separated (a Kafka topic name has no comma); null when it
 * is not published. `outboxTopics` turns it back into one row per topic.
 */
export function outboxRoute(def: { topic?: string; alsoOn?: readonly string[] }): string | null {
  return def.topic ? [def.topic, ...(def.alsoOn ?? [])].join(',') : null;
}

/** A from-item of one row per topic of a route (`outboxRoute`), as `t(topic)`. */
export function outboxTopics(route: string): string {
  return `unnest(string_to_array(${route}, ',')) as t(topic)`;
}

/** The CTE `o`, one row per message written: `from` is the rest of its select (from, joins, where, order). */
export function outboxInsert(row: OutboxRowSql, from: string): string {
  return `o as (
         insert into outbox (event_id, topic, message_key, payload, headers)
         select ${row.eventId}, ${row.topic}, ${row.key}, ${row.payload}, ${row.headers}
           ${from}
         returning 1)`;
}

/**
 * A select-list item of the statement with `outboxInsert`'s CTE: a NOTIFY on `channel` (a
 * parameter) when it wrote a message. Postgres sends it only at commit, so a rolled-back write wakes
 * nobody.
 */
export function outboxWake(channel: string): string {
  return `(select pg_notify(${channel}, '') from (select 1 from o limit 1) x) is null as relay_woken`;
}
