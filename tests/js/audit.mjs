// graphql-http's own server audit (the reference suite of the GraphQL-over-HTTP spec) against
// the live gateway. Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// Prints {ok, notice, warn, error} (lists of audits) as JSON; exits 1 on any warning or error.
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs <graphql url>");
  process.exit(2);
}
const results = await auditServer({ url });
const summary = { ok: [], notice: [], warn: [], error: [] };
for (const result of results) {
  const entry = { id: result.id, name: result.name };
  if (result.status !== "ok") {
    entry.reason = result.reason;
    entry.status = result.response.status;
    entry.body = await result.response.text();
  }
  summary[result.status].push(entry);
}
console.log(JSON.stringify(summary, null, 1));
process.exit(summary.warn.length || summary.error.length ? 1 : 0);
