// Finding messages for the console: by alert name, label, source, state, target and time,
// newest first. The Store is read a page at a time and the rest filtered here, and one
// search looks at a bounded number of rows: a rare match in a large outbox is found by
// following "older" links, never by one request that reads the whole table.
import type { BrowseQuery, Store, StoredDelivery } from "../outbox/contract.js";

export interface MessageQuery {
  /** Part of the alert name (or, failing that, of the summary); case-insensitive. */
  alert?: string;
  /** `name=value`: an exact label of the event. */
  label?: { name: string; value: string };
  source?: string;
  state?: "queued" | "sent" | "dead";
  target?: string;
  since?: number;
  until?: number;
  /** Continue after this delivery id (the previous page's cursor). */
  before?: string;
}

export interface MessagePage {
  messages: StoredDelivery[];
  /** Where the next (older) page starts; undefined when the outbox has no older rows. */
  next?: string;
  /** Rows looked at for this page. */
  examined: number;
}

/** Matches shown per page. */
export const PAGE_SIZE = 50;
/** Rows one search reads at most before it answers with what it found and a cursor. */
export const MAX_EXAMINED = 2000;
const BATCH = 200;

export function matchesQuery(delivery: StoredDelivery, query: MessageQuery): boolean {
  const labels = delivery.message.labels ?? {};
  if (query.alert !== undefined) {
    const wanted = query.alert.toLowerCase();
    const name = labels.alertname ?? "";
    if (!name.toLowerCase().includes(wanted) && !delivery.message.summary.toLowerCase().includes(wanted)) return false;
  }
  if (query.label !== undefined && labels[query.label.name] !== query.label.value) return false;
  if (query.source !== undefined && labels.source !== query.source) return false;
  return true;
}

export async function searchMessages(store: Pick<Store, "browse">, query: MessageQuery): Promise<MessagePage> {
  const found: StoredDelivery[] = [];
  let before = query.before;
  let examined = 0;
  for (;;) {
    const page: BrowseQuery = {
      limit: BATCH,
      ...(before !== undefined && { before }),
      ...(query.state !== undefined && { state: query.state }),
      ...(query.target !== undefined && { target: query.target }),
      ...(query.since !== undefined && { since: query.since }),
      ...(query.until !== undefined && { until: query.until }),
    };
    const rows = await store.browse(page);
    for (const row of rows) {
      examined += 1;
      before = row.id;
      if (matchesQuery(row, query)) found.push(row);
      if (found.length === PAGE_SIZE) return { messages: found, next: row.id, examined };
    }
    if (rows.length < BATCH) return { messages: found, examined };
    if (examined >= MAX_EXAMINED) return { messages: found, next: before!, examined };
  }
}
