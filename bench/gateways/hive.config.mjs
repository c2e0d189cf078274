// Hive Gateway configuration for the gateway comparison benchmark (loaded by hive.sh through
// `hive-gateway -c`). Production-like: no GraphiQL or landing page, errors masked (the CLI's
// default). Deduplication is chosen from the environment:
//   HIVE_UPSTREAM_DEDUPE=0  turns off the sharing of identical in-flight subgraph fetches, which
//                           Hive Gateway does by default (like our router's dedupe_enabled).
//   HIVE_INBOUND_DEDUPE=1   makes identical in-flight client requests share one execution (off by
//                           default; graphql-gateways-benchmark turns it on).
const upstreamDedupe = process.env.HIVE_UPSTREAM_DEDUPE !== '0';
const inboundDedupe = process.env.HIVE_INBOUND_DEDUPE === '1';

export const gatewayConfig = {
  graphiql: false,
  landingPage: false,
  inboundInflightRequestDeduplication: inboundDedupe,
  transportEntries: {
    '*': { options: { deduplicateInflightRequests: upstreamDedupe } },
  },
};
