// @apollo/client with its persisted-query link (GET for hashed queries) against the live gateway.
//   node apollo.mjs manifest    -> {name: text}: the app's operations exactly as this client sends
//                                  them (its document transforms and printer), to be deployed as
//                                  trusted documents, like a persisted-query manifest
//   node apollo.mjs run <url>   -> {trusted, first, second}: the requests each step made, as
//                                  [method, sent the text?, HTTP status, PersistedQueryNotFound?]
import { createHash } from "node:crypto";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { print } from "@apollo/client/utilities";
import { of } from "rxjs";

const TRUSTED = gql`
  query Trusted {
    whoami { role }
  }
`;
const FRESH = gql`
  query Fresh($limit: Int!) {
    feed(surface: HOME, limit: $limit) { rank item { name } }
  }
`;

const sha256 = (text) => createHash("sha256").update(text, "utf8").digest("hex");

async function manifest() {
  const seen = {};
  const capture = new ApolloLink((operation) => {
    seen[operation.operationName] = print(operation.query);
    return of({ data: { whoami: { __typename: "Whoami", role: "anonymous" } } });
  });
  const client = new ApolloClient({ link: capture, cache: new InMemoryCache() });
  await client.query({ query: TRUSTED });
  return { trusted_whoami: seen.Trusted };
}

async function run(url) {
  let log = [];
  const recordingFetch = async (input, init) => {
    const method = (init && init.method) || "GET";
    const sentText =
      method === "GET" ? new URL(String(input)).searchParams.has("query") : "query" in JSON.parse(init.body);
    const response = await fetch(input, init);
    const body = await response.clone().text();
    log.push([method, sentText, response.status, body.includes("PersistedQueryNotFound")]);
    return response;
  };
  const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: url, fetch: recordingFetch })
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const out = {};
  const step = async (name, options, check) => {
    log = [];
    const result = await client.query({ fetchPolicy: "network-only", ...options });
    if (result.error) throw new Error(`${name}: ${result.error}`);
    check(result.data);
    out[name] = log;
  };
  const expect = (condition, message) => {
    if (!condition) throw new Error(message);
  };
  await step("trusted", { query: TRUSTED }, (data) => expect(data.whoami.role === "anonymous", "whoami"));
  await step("first", { query: FRESH, variables: { limit: 2 } }, (data) => expect(Array.isArray(data.feed), "feed"));
  await step("second", { query: FRESH, variables: { limit: 2 } }, (data) => expect(Array.isArray(data.feed), "feed"));
  return out;
}

const [command, url] = process.argv.slice(2);
if (command === "manifest") {
  console.log(JSON.stringify(await manifest()));
} else if (command === "run" && url) {
  console.log(JSON.stringify(await run(url)));
} else {
  console.error("usage: node apollo.mjs manifest | run <graphql url>");
  process.exit(2);
}
